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


@dataclass(frozen=True)
class CellNote:
    """A cell that runs differently from how it looks: left out, or continuing a stage past a gap."""

    cell: Cell
    kind: str  # left out: "skip", "injected", "drives"; else "declares", "continues", "main"
    text: str
    stage: str | None = None  # the stage the cell runs in, for "continues" and "main"


def assign_stages(
    nb: Notebook,
) -> tuple[list[StageDraft], list[Cell], list[Cell], list[Cell], list[CellNote]]:
    """Walk the cells once: stage drafts in notebook order, parameters/setup/metrics cells, notes."""
    drafts: dict[str, StageDraft] = {}
    params: list[Cell] = []
    setup: list[Cell] = []
    metrics: list[Cell] = []
    notes: list[CellNote] = []
    current: StageDraft | None = None
    tagged = [(cell, _cell_tags(nb, cell)) for cell in nb.cells if cell.cell_type == "code"]
    kale = any(tags.kale for _, tags in tagged)
    # papermill replaces its injected-parameters cell when it parameterizes a notebook: with a
    # parameters cell it is dropped (-p and the defaults stand), without one it declares them
    declared = any(t.role == T.PARAMETERS and not t.injected for _, t in tagged)
    previous: T.CellTags | None = None  # the last cell that counts for Kale's continuation
    gap: tuple[Cell, Cell] | None = None  # the run of cells left out just above, if any
    for cell, tags in tagged:
        above, gap = gap, None
        if tags.injected:
            if declared:
                notes.append(CellNote(cell, "injected", _INJECTED_DROPPED))
                gap = _left_out(above, cell)
                continue
            notes.append(CellNote(cell, "declares", _INJECTED_DECLARES))
            params.append(cell)
            continue  # never continued: it is not the author's cell
        if kale and not tags.tagged and previous is not None and previous.role in _CONTINUED:
            # Kale: an untagged cell continues the role of the cell above (skips aside)
            tags = T.CellTags(role=previous.role, tagged=True, kale=True)
            if above is not None:
                notes.append(CellNote(cell, "continues", _continues(tags.role, above)))
        if tags.role != T.SKIP:
            previous = tags
        elif tags.stage is not None:
            previous = None  # a skipped cell that starts a stage (our dialect) ends any role
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
                notes.append(CellNote(cell, "skip", "tagged skip"))
                gap = _left_out(above, cell)
                continue
            if not tags.tagged and _only_face_magics(cell.source):
                notes.append(CellNote(cell, "drives", _DRIVES))
                gap = _left_out(above, cell)
                continue
            current = drafts[DEFAULT_STAGE] = StageDraft(DEFAULT_STAGE, cell)
            if kale:
                notes.append(CellNote(cell, "main", _KALE_MAIN, DEFAULT_STAGE))
        elif tags.role != T.SKIP and not tags.tagged and above is not None:
            note = _continues(current.name, above)
            notes.append(CellNote(cell, "continues", note, current.name))
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
        else:
            notes.append(CellNote(cell, "skip", "tagged skip"))
            gap = _left_out(above, cell)
    return list(drafts.values()), params, setup, metrics, notes


_CONTINUED = (T.PARAMETERS, T.SETUP, T.METRICS)
_ROLE_NAMES = {T.PARAMETERS: "the parameters", T.SETUP: "the setup", T.METRICS: "the metrics"}
_INJECTED_DROPPED = (
    "papermill's injected-parameters cell, left from an earlier run: left out, as papermill "
    "replaces it (-p values and the parameters cell's defaults stand instead)"
)
_INJECTED_DECLARES = (
    "papermill's injected-parameters cell declares the parameters (the notebook has no "
    "parameters cell): its values are the defaults, -p overrides them"
)
_DRIVES = "only drives the pipeline (%mlops / %load_ext lines)"
_KALE_MAIN = (
    "above the first block: runs as stage 'main' (Kale leaves untagged cells above its first "
    "step out; the notebook run top to bottom runs them)"
)


def _left_out(gap: tuple[Cell, Cell] | None, cell: Cell) -> tuple[Cell, Cell]:
    """The run of left-out cells, ``cell`` added."""
    return (gap[0] if gap else cell, cell)


def _continues(what: str, gap: tuple[Cell, Cell]) -> str:
    role = _ROLE_NAMES.get(what)
    target = f"{role} cells" if role else f"stage '{what}'"
    first, last = gap
    cells = f"cell {first.index}" if first is last else f"cells {first.index}-{last.index}"
    return f"continues {target} past left-out {cells}"


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
