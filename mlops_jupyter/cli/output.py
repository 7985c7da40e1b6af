"""How every ``mlops`` command prints: one JSON object for ``--json``, aligned columns otherwise."""

from __future__ import annotations

import sys
from typing import Any

from ..views.text import strict_json


def print_json(value: Any) -> None:
    """Strict JSON (NaN and infinities as ``null``), so ``jq`` and JavaScript can read it."""
    sys.stdout.write(strict_json(value) + "\n")


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)
