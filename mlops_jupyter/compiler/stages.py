"""Cells to stage drafts: which code cell belongs to which stage, and how a stage runs each one.

Pure: tags and sources in, stage drafts out. :func:`cell_error`, the error every compile step
raises about a cell, lives here because this is the lowest of the compiler's steps.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ..errors import CompileError
from . import tags as T
from .model import CodeCell
from .notebook import Cell, Notebook

DEFAULT_STAGE = "main"


@dataclass
class StageDraft:
    name: str
    first: Cell
    cells: list[Cell] = field(default_factory=list)
    after: dict[str, Cell] = field(default_factory=dict)  # name -> the cell that asked for it
    options: dict[str, Any] = field(default_factory=dict)
    magic_cells: set[int] = field(default_factory=set)


def cell_error(
    nb: Notebook, cell: Cell, message: str, hint: str | None = None, line: int | None = None
) -> CompileError:
    """A :class:`CompileError` that points at ``cell`` (and ``line`` in it) of ``nb``."""
    return CompileError(
        message, notebook=nb.path, cell=cell.index, cell_id=cell.id, line=line, hint=hint
    )


def _cell_tags(nb: Notebook, cell: Cell) -> T.CellTags:
    try:
        return T.parse_cell_tags(cell.tags, cell.source)
    except T.TagError as exc:
        raise cell_error(nb, cell, exc.message, exc.hint) from None


def assign_stages(nb: Notebook) -> tuple[list[StageDraft], list[Cell], list[Cell], list[Cell]]:
    """Walk the cells once: stage drafts in notebook order, and parameters/setup/metrics cells."""
    drafts: dict[str, StageDraft] = {}
    params: list[Cell] = []
    setup: list[Cell] = []
    metrics: list[Cell] = []
    current: StageDraft | None = None
    tagged = [(cell, _cell_tags(nb, cell)) for cell in nb.cells if cell.cell_type == "code"]
    kale = any(tags.kale for _, tags in tagged)
    previous: T.CellTags | None = None
    for cell, tags in tagged:
        if kale and not tags.tagged and previous is not None and previous.role != T.CODE:
            # Kale: an untagged cell continues the role of the cell above
            tags = T.CellTags(role=previous.role, tagged=True, kale=True)
        previous = tags
        if tags.role == T.PARAMETERS:
            params.append(cell)
            continue
        if tags.role == T.SETUP:
            setup.append(cell)
            continue
        if tags.role == T.METRICS:
            metrics.append(cell)
            continue
        if tags.stage is not None:
            existing = drafts.get(tags.stage)
            if existing is None:
                current = drafts[tags.stage] = StageDraft(tags.stage, cell)
            elif tags.dialect == "kale" and existing.first is not cell:
                current = existing  # Kale's dialect: a repeated block: name continues that step
            else:
                raise cell_error(
                    nb,
                    cell,
                    f"stage '{tags.stage}' is already started at cell {existing.first.index}"
                    + (f" (id {existing.first.id})" if existing.first.id else "")
                    + ".",
                    "Give this stage another name, or remove the tag to continue the previous stage.",
                )
        elif current is None:
            if tags.role == T.SKIP and not (tags.after or tags.options()):
                continue
            if not tags.tagged and _only_face_magics(cell.source):
                continue
            current = drafts[DEFAULT_STAGE] = StageDraft(DEFAULT_STAGE, cell)
        for name in tags.after:
            current.after.setdefault(name, cell)
        for key, value in tags.options().items():
            if current.options.get(key, value) != value:
                raise cell_error(
                    nb,
                    cell,
                    f"stage '{current.name}' gets two different '{key}' options.",
                    "Keep one value for each option per stage.",
                )
            current.options[key] = value
        if tags.magic:
            current.magic_cells.add(cell.index)
        if tags.role != T.SKIP:
            current.cells.append(cell)
    return list(drafts.values()), params, setup, metrics


def strip_magic(source: str) -> tuple[str, int]:
    """Remove a ``%%mlops stage`` first line (the stage notebook needs no magic to run).

    Returns the rest and how many lines were removed, so errors map back to the user's lines.
    """
    lead = len(source) - len(source.lstrip("\n"))
    rest = source[lead:].split("\n", 1)
    return (rest[1] if len(rest) > 1 else ""), lead + 1


# `%mlops run`, `compile`, `explain`... and `%load_ext mlops_jupyter` drive pipelines from the
# notebook; inside a stage they would recurse or need the magic loaded. Kept: `%mlops log`.
_FACE_MAGIC = re.compile(
    r"^([ \t]*)(?:%mlops(?:[ \t]+(?!log\b)\S.*)?|%load_ext[ \t]+mlops_jupyter)[ \t]*$", re.M
)


def _without_face_magics(source: str) -> str:
    """Face magics become ``pass`` at their indentation, so blocks and line numbers hold."""
    return _FACE_MAGIC.sub(r"\1pass", source) if "%" in source else source


def _only_face_magics(source: str) -> bool:
    """A cell like ``%load_ext mlops_jupyter`` or ``%mlops run``: it drives the pipeline and
    is no part of it."""
    return "%" in source and not _FACE_MAGIC.sub("", source).strip()


def code_cell(cell: Cell, source: str, offset: int = 0) -> CodeCell:
    """The cell as a stage runs it."""
    return CodeCell(cell.index, cell.ref, _without_face_magics(source), cell.tags, offset)
