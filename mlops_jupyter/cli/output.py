"""How every ``mlops`` command prints: one JSON object for ``--json``, aligned columns otherwise."""

from __future__ import annotations

import sys
from typing import Any

from ..views.text import aligned as table  # noqa: F401 (the commands' name for it)
from ..views.text import strict_json


def print_json(value: Any) -> None:
    """Strict JSON (NaN and infinities as ``null``), so ``jq`` and JavaScript can read it."""
    sys.stdout.write(strict_json(value) + "\n")
