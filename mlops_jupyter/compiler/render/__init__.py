"""Renderers: the pipeline model to files (stage notebooks, manifest, pipeline.py). Pure: text out."""

from __future__ import annotations

import json
from typing import Any


def dump_compact_json(data: Any) -> str:
    """Stable JSON on one line: same input, same bytes. Compiled files are read by machines
    (``python -m json.tool`` for people); ``indent`` would force the pure-Python encoder, 4x
    slower than the C one on a 100-stage pipeline."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
