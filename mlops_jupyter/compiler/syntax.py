"""Cell source to plain Python, so ``ast`` can read notebooks that use IPython syntax.

Most cells are plain Python and parse directly. Only a cell that does not parse pays for
IPython's own input transformer (``%magic``, ``!cmd``, ``%%cell``, ``x?``), imported lazily.
"""

from __future__ import annotations

import ast
import functools
from typing import Any

# Cell magics whose body is Python run in the user namespace: analyse the body as code.
PYTHON_BODY_MAGICS = frozenset({"time", "timeit", "capture", "prun", "mlops"})


@functools.lru_cache(maxsize=1)
def _transformer() -> Any:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager()


def strip_python_cell_magic(source: str) -> str:
    """Blank the first line of a ``%%time``-like cell (keeping line numbers), else return as is."""
    if not source.startswith("%%"):
        return source
    first, newline, rest = source.partition("\n")
    words = first[2:].split()
    if words and words[0] in PYTHON_BODY_MAGICS:
        return newline + rest
    return source


def parse_source(source: str) -> ast.Module:
    """Parse a cell as Python; raises SyntaxError (with the user's line number) when it is not."""
    source = strip_python_cell_magic(source)
    try:
        return ast.parse(source)
    except SyntaxError as first_error:
        if not any(mark in source for mark in "%!?"):
            raise
        try:
            transformed = _transformer().transform_cell(source)
        except Exception:  # IPython could not read it either: report the plain Python error
            raise first_error from None
        try:
            return ast.parse(transformed)
        except SyntaxError as error:  # the real error, past the IPython lines (same line numbers)
            raise error from None
