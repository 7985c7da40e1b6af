"""Renderers: the pipeline model to files (stage notebooks, manifest, pipeline.py). Pure: text out."""

from __future__ import annotations

import json
import keyword
import math
from typing import Any

# The types a value written into generated code may have: their repr is a literal that
# ``ast.literal_eval`` reads back equal, whatever text they hold (repr escapes quotes,
# backslashes, newlines and every unprintable character).
_LITERAL_TYPES = (str, bool, int, float, type(None))


def literal(value: Any) -> str:
    """``value`` as Python source that evaluates to it: the one way a value (a parameter's
    default, a name as text, a notebook's file name) gets into ``pipeline.py`` or a stage
    notebook. Never string formatting: repr, of plain data only — an object's own ``__repr__``
    could be any code."""
    _check_literal(value)
    return repr(value)


def _check_literal(value: Any) -> None:
    if type(value) in (list, tuple):
        for item in value:
            _check_literal(item)
    elif type(value) is dict:
        for key, item in value.items():
            _check_literal(key)
            _check_literal(item)
    elif type(value) not in _LITERAL_TYPES or (type(value) is float and not math.isfinite(value)):
        raise TypeError(f"not plain data to write into code: a {type(value).__name__}")


def identifier(name: str) -> str:
    """``name`` where generated code binds or reads it (``x, y = load(...)``): names come from
    the user's parsed code, so they are identifiers already — checked, since a name cannot be
    escaped into being one."""
    if not (isinstance(name, str) and name.isidentifier() and not keyword.iskeyword(name)):
        raise ValueError(f"not a Python name: {name!r}")
    return name


def dump_compact_json(data: Any) -> str:
    """Stable JSON on one line: same input, same bytes. Compiled files are read by machines
    (``python -m json.tool`` for people); ``indent`` would force the pure-Python encoder, 4x
    slower than the C one on a 100-stage pipeline."""
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n"
