"""Read a ``.ipynb`` as plain JSON: cells, sources and tags, nothing else.

nbformat costs ~5 s to import in a JupyterLab environment (jsonschema), and the compiler needs
only cells and tags, so the notebook is read with ``json`` and checked by hand.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CompileError, shown


@dataclass(frozen=True)
class Cell:
    index: int  # 1-based position in the notebook, as users count cells
    id: str | None
    cell_type: str
    source: str
    tags: tuple[str, ...] = ()

    @property
    def ref(self) -> str:
        """A stable id for the compiled output: the cell's own id, else its position."""
        return self.id or f"cell-{self.index}"


@dataclass(frozen=True)
class Notebook:
    path: str
    cells: tuple[Cell, ...]
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return Path(self.path).name


def _source(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return None


def parse_notebook(text: str | bytes, path: str) -> Notebook:
    """Build a :class:`Notebook` from the JSON text of a ``.ipynb`` file."""
    hint_nb4 = (
        "Open and save it in JupyterLab, or convert it with `jupyter nbconvert --to notebook`."
    )
    if not encodable(path):
        # a file name in another encoding: the compiled folder could not record it
        raise CompileError(
            "has a file name that is not valid UTF-8.",
            notebook=path.encode(errors="backslashreplace").decode(),
            hint="Rename the notebook.",
        )
    try:
        data = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise CompileError(
            f"is not valid notebook JSON ({reason}).",
            notebook=path,
            hint="Is it a .ipynb file? " + hint_nb4,
        ) from None
    major = data.get("nbformat") if isinstance(data, dict) else None
    if isinstance(major, int) and not isinstance(major, bool) and major < 4:
        # format 3 and older keep cells under "worksheets": say so, not "no list of cells"
        name = Path(path).name
        raise CompileError(
            f"uses notebook format {major} (cells under 'worksheets'); mlops-jupyter reads format 4.",
            notebook=path,
            hint=f"Convert it: `jupyter nbconvert --to notebook --nbformat 4 --output "
            f"{Path(name).stem}-v4 {shlex.quote(path)}`, or open and save it in JupyterLab.",
        )
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise CompileError("is not a Jupyter notebook: it has no list of cells.", notebook=path)
    if major != 4:
        raise CompileError(
            f"uses notebook format {shown(major)}; mlops-jupyter reads format 4.",
            notebook=path,
            hint=hint_nb4,
        )
    cells = []
    for position, raw in enumerate(data["cells"], start=1):
        if not isinstance(raw, dict):
            raise CompileError("is not a notebook cell object.", notebook=path, cell=position)
        cell_id = raw.get("id") if isinstance(raw.get("id"), str) else None
        source = _source(raw.get("source", ""))
        metadata = raw.get("metadata", {})
        tags = metadata.get("tags", []) if isinstance(metadata, dict) else None
        if (
            source is None
            or not isinstance(tags, list)
            or not all(isinstance(t, str) for t in tags)
        ):
            raise CompileError(
                "has a malformed source or tags list.",
                notebook=path,
                cell=position,
                cell_id=cell_id,
                hint=hint_nb4,
            )
        if not all(map(encodable, (source, cell_id or "", *tags))):
            raise CompileError(
                "holds text that is not valid Unicode (a lone surrogate such as \\ud800, escaped "
                "in the file's JSON): no file or kernel can carry it.",
                notebook=path,
                cell=position,
                cell_id=cell_id if cell_id and encodable(cell_id) else None,
                hint="Retype the odd character in that cell's source or tags.",
            )
        cell_type = raw.get("cell_type")
        if not isinstance(cell_type, str):
            raise CompileError("has no cell_type.", notebook=path, cell=position, cell_id=cell_id)
        cells.append(Cell(position, cell_id, cell_type, source, tuple(tags)))
    metadata = data.get("metadata")
    return Notebook(
        path=path, cells=tuple(cells), metadata=metadata if isinstance(metadata, dict) else {}
    )


def encodable(text: str) -> bool:
    """Lone surrogates (a JSON escape like \\ud800, undecodable bytes in a file name or argv)
    are text no file, database or kernel message can carry."""
    try:
        text.encode()
    except UnicodeEncodeError:
        return False
    return True


def read_notebook(path: str | Path) -> Notebook:
    """Read a notebook file; an unreadable file is a :class:`CompileError`, not an OSError."""
    where = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise CompileError("no such notebook.", notebook=where) from None
    except IsADirectoryError:
        raise CompileError("is a folder, not a notebook.", notebook=where) from None
    except OSError as exc:
        raise CompileError(f"cannot be read ({exc.strerror}).", notebook=where) from None
    return parse_notebook(raw, where)
