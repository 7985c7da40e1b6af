"""Renderers: the pipeline model to files (stage notebooks, manifest, pipeline.py). Pure: text out."""

from __future__ import annotations

import json
from typing import Any


def dump_json(data: Any) -> str:
    """Stable JSON text, as nbformat writes notebooks: same input, same bytes."""
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
