"""Stage drafts to a validated :class:`Pipeline`: data flow between stages, edges, version.

``build_pipeline`` is pure (a parsed notebook in, a :class:`Pipeline` out); reading notebooks and
writing compiled folders is :mod:`.output`'s job.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import CompileError
from .analysis import Flow, Use
from .cells import analyze_cells, metric_names, parse_cell, read_parameters
from .model import SCHEMA_VERSION, CodeCell, Parameter, Pipeline, Stage
from .notebook import Cell, Notebook, encodable
from .stages import CellNote, StageDraft, assign_stages, cell_error, code_cell, strip_magic

# Names a kernel provides without any stage defining them.
_PROVIDED = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}


def pipeline_name(notebook_path: str) -> str:
    """A valid stage-style name from the notebook's file name (``My Model.ipynb`` -> ``my-model``)."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", Path(notebook_path).stem.lower()).strip("-_")
    if not stem or not stem[0].isalpha():
        stem = "nb-" + stem if stem else "notebook"
    return stem[:63]


@dataclass
class _StageWork:
    """One stage between its draft and its :class:`Stage`: each phase of the build fills some in."""

    draft: StageDraft
    flow: Flow
    cells: list[CodeCell]
    imports: tuple[str, ...]
    inputs: dict[str, str] = field(default_factory=dict)  # value name -> producing stage
    outputs: list[str] = field(default_factory=list)
    parameters: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)
    after: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.draft.name

    def stage(self) -> Stage:
        return Stage(
            name=self.name,
            cells=tuple(self.cells),
            after=self.after,
            inputs=self.inputs,
            outputs=tuple(self.outputs),
            parameters=tuple(self.parameters),
            metrics=tuple(self.metrics),
            options=dict(sorted(self.draft.options.items())),
            reads=self.flow.reads,
            writes=self.flow.writes,
            explicit_after=tuple(self.draft.after),
            imports=self.imports,
        )


def build_pipeline(nb: Notebook) -> Pipeline:
    """Turn a parsed notebook into a validated :class:`Pipeline` (pure: no I/O)."""
    drafts, param_cells, setup_cells, metric_cells, notes = assign_stages(nb)
    parameters: dict[str, Parameter] = {}
    for cell in param_cells:
        read_parameters(nb, cell, parameters)
    setup = [code_cell(cell, cell.source) for cell in setup_cells]
    setup_flow = analyze_cells(nb, [(c.index, parse_cell(nb, c, c.source)) for c in setup_cells])
    _check_after(nb, drafts)
    work = _analyze_stages(nb, drafts, setup_flow)
    warnings = _resolve(nb, work, parameters, setup_flow)
    warnings += _replaced_injections(nb, notes, work, parameters, setup_flow)
    _own_metrics(nb, work, metric_cells, parameters)
    _link(nb, work)
    stages = [w.stage() for w in work]
    if not stages:
        raise _nothing_to_run(nb, param_cells, setup_cells, metric_cells, notes)
    return Pipeline(
        name=pipeline_name(nb.path),
        version=_version(parameters, setup, stages),
        notebook=Path(nb.path).name,
        parameters=parameters,
        setup=tuple(setup),
        stages=tuple(stages),
        kernelspec=_kernelspec(nb.metadata),
        warnings=tuple(warnings),
        notes=tuple(
            {
                "cell": n.cell.index,
                "id": n.cell.id,
                "kind": n.kind,
                "stage": n.stage,
                "text": n.text,
            }
            for n in notes
        ),
    )


def _cells(cells: list[Cell]) -> str:
    if len(cells) == 1:
        return f"cell {cells[0].index}" + (f" (id {cells[0].id})" if cells[0].id else "")
    return "cells " + ", ".join(str(c.index) for c in cells)


def _nothing_to_run(
    nb: Notebook,
    params: list[Cell],
    setup: list[Cell],
    metrics: list[Cell],
    notes: list[CellNote],
) -> CompileError:
    """Why no stage has a cell, in the notebook's own terms: the fix differs with the cause."""
    skipped = [n.cell for n in notes if n.kind == "skip"]
    other = [n.cell for n in notes if n.kind in ("injected", "drives")]
    roles = [
        (role, cells)
        for role, cells in (("parameters", params), ("setup", setup), ("metrics", metrics))
        if cells
    ]
    also = (
        f"; {_cells(skipped)} {'is' if len(skipped) == 1 else 'are'} tagged 'skip'"
        if skipped
        else ""
    )
    if roles:
        what = " and ".join(f"the {role} {_cells(cells)}" for role, cells in roles)
        return CompileError(
            f"has no code cells to run: its only code is {what}, which stages use but which is "
            f"no stage's work{also}.",
            notebook=nb.path,
            hint="Add the code to run as cells below it (an untagged cell is stage 'main'; tag "
            "one 'stage:NAME' to name its stage).",
        )
    if skipped and not other:
        return CompileError(
            f"has no code cells to run: every code cell is tagged 'skip' ({_cells(skipped)}).",
            notebook=nb.path,
            hint="Remove the 'skip' tag from the cells the pipeline should run.",
        )
    if skipped or other:
        return CompileError(
            f"has no code cells to run: its code cells only drive the pipeline (%mlops lines) or "
            f"are papermill's injected parameters ({_cells(other)}){also}.",
            notebook=nb.path,
            hint="Add the code to run as cells of their own.",
        )
    return CompileError(
        "has no code cells to run: it holds no code cells at all.",
        notebook=nb.path,
        hint="Add code cells (an untagged cell is stage 'main').",
    )


def _check_after(nb: Notebook, drafts: list[StageDraft]) -> None:
    names = {d.name for d in drafts}
    for draft in drafts:
        for up, cell in draft.after.items():
            if up not in names:
                known = ", ".join(sorted(names)) or "none"
                raise cell_error(
                    nb,
                    cell,
                    f"'after:{up}' names no stage of this notebook (stages: {known}).",
                    "Fix the name or remove the tag.",
                )


def _analyze_stages(nb: Notebook, drafts: list[StageDraft], setup_flow: Flow) -> list[_StageWork]:
    """Each stage's cells as it runs them, and their data flow, in notebook order."""
    work = []
    # names bound to a module by the nearest writer above: a method call on them mutates nothing
    modules = set(setup_flow.modules)
    for draft in drafts:
        trees: list[tuple[int, ast.Module]] = []
        cells = []
        for cell in draft.cells:
            source, offset = cell.source, 0
            if cell.index in draft.magic_cells:
                source, offset = strip_magic(cell.source)
            # blank lines in place of the magic keep the user's line numbers in errors
            trees.append((cell.index, parse_cell(nb, cell, "\n" * offset + source)))
            cells.append(code_cell(cell, source, offset))
        flow = analyze_cells(nb, trees, modules)
        for name in flow.writes:
            (modules.add if name in flow.modules else modules.discard)(name)
        imports = tuple(sorted(setup_flow.imports | flow.imports))
        work.append(_StageWork(draft, flow, cells, imports))
    return work


def _resolve(
    nb: Notebook, work: list[_StageWork], parameters: dict[str, Parameter], setup_flow: Flow
) -> list[str]:
    """Resolve each read to the nearest upstream writer, in notebook order; return the warnings."""
    setup_params = [n for n in setup_flow.reads if n in parameters]
    warnings: list[str] = []
    for i, stage in enumerate(work):
        for name, use in stage.flow.reads.items():
            producer = next((w for w in reversed(work[:i]) if name in w.flow.writes), None)
            if producer is not None:
                _take_input(nb, stage, producer, name, use)
            elif name in parameters:
                stage.parameters.append(name)
            elif (
                name not in setup_flow.writes
                and name not in _PROVIDED
                and not stage.flow.star_import
            ):
                later = next((w.name for w in work[i + 1 :] if name in w.flow.writes), None)
                if later:
                    warnings.append(
                        f"stage '{stage.name}' reads '{name}' (cell {use.cell}, line {use.line}), "
                        f"which only the later stage '{later}' assigns."
                    )
        for name in setup_params:
            if name not in stage.parameters and name not in stage.inputs:
                stage.parameters.append(name)
    return warnings


def _take_input(nb: Notebook, stage: _StageWork, producer: _StageWork, name: str, use: Use) -> None:
    """``stage`` reads ``name`` from ``producer``; a value deleted there has nothing to pass on."""
    if name in producer.flow.deleted:
        cell = next(c for c in stage.draft.cells if c.index == use.cell)
        gone = producer.flow.writes[name]
        raise cell_error(
            nb,
            cell,
            f"stage '{stage.name}' reads '{name}', but stage '{producer.name}' "
            f"deletes it before (del in cell {gone.cell}, line {gone.line}).",
            "Remove the del, or recompute the value in this stage.",
            line=use.line,
        )
    stage.inputs[name] = producer.name
    if name not in producer.outputs:
        producer.outputs.append(name)


def _own_metrics(
    nb: Notebook, work: list[_StageWork], metric_cells: list[Cell], parameters: dict[str, Parameter]
) -> None:
    """Each metric belongs to the last stage before the metrics cell that writes it.

    A metric no stage writes may name a pipeline parameter (Kale allows it): it records the
    parameter's value in this run, from the last stage above the cell that reads it (else the
    last stage above it, else the first stage), which then takes the parameter.
    """
    for cell in metric_cells:
        above = [w for w in work if w.draft.first.index < cell.index]
        for name, line in metric_names(nb, cell):
            owner = next((w for w in reversed(above) if name in w.flow.writes), None)
            if owner is None and name in parameters:
                owner = _parameter_metric_owner(nb, cell, line, parameters[name], above, work)
            if owner is None:
                raise cell_error(
                    nb,
                    cell,
                    f"metric '{name}' is not assigned by any stage above this cell.",
                    "Assign it in a stage, or fix the name.",
                    line=line,
                )
            if name not in owner.metrics:
                owner.metrics.append(name)


def _parameter_metric_owner(
    nb: Notebook,
    cell: Cell,
    line: int,
    parameter: Parameter,
    above: list[_StageWork],
    work: list[_StageWork],
) -> _StageWork | None:
    if parameter.type not in ("int", "float", "bool"):
        raise cell_error(
            nb,
            cell,
            f"metric '{parameter.name}' is a {parameter.type} parameter; a metric is a number.",
            "List only numeric parameters here, or record the text with mlops.log_param.",
            line=line,
        )
    owner = next((w for w in reversed(above) if parameter.name in w.parameters), None)
    owner = owner or (above[-1] if above else work[0] if work else None)
    if owner is not None and parameter.name not in owner.parameters:
        owner.parameters.append(parameter.name)
    return owner


def _replaced_injections(
    nb: Notebook,
    notes: list[CellNote],
    work: list[_StageWork],
    parameters: dict[str, Parameter],
    setup_flow: Flow,
) -> list[str]:
    """Warn about names only a dropped injected-parameters cell assigned that a stage reads."""
    dropped = [n.cell for n in notes if n.kind == "injected"]
    warnings = []
    for cell in dropped:
        try:
            tree = parse_cell(nb, cell, cell.source)
        except CompileError:
            continue  # it does not run: its syntax is no error of the pipeline
        assigned = {
            t.id
            for stmt in tree.body
            if isinstance(stmt, ast.Assign)
            for t in stmt.targets
            if isinstance(t, ast.Name)
        }
        for name in sorted(assigned - set(parameters) - set(setup_flow.writes)):
            reader = next((w for w in work if name in w.flow.reads), None)
            if reader is not None and not any(name in w.flow.writes for w in work):
                warnings.append(
                    f"stage '{reader.name}' reads '{name}', which only papermill's "
                    f"injected-parameters cell (cell {cell.index}, left out) assigns: declare it "
                    "in the parameters cell."
                )
    return warnings


def _link(nb: Notebook, work: list[_StageWork]) -> None:
    """Each stage's upstream stages, explicit ``after:`` and data flow, in notebook order; no cycle.

    A check stage comes before every stage below it in the notebook, as its failed assert stops
    the notebook run top to bottom there: what follows a failed check is skipped, not run."""
    order = [w.name for w in work]
    checks: set[str] = set()
    for w in work:
        ups = set(w.draft.after) | set(w.inputs.values()) | checks
        w.after = tuple(n for n in order if n in ups)
        if w.draft.options.get("check"):
            checks.add(w.name)
    cycle = _find_cycle(order, {w.name: w.after for w in work})
    if cycle:
        drafts = [w.draft for w in work]
        draft = next(d for d in drafts if d.name == cycle[0])
        asked = next((d for d in drafts if set(d.after) & set(cycle)), draft)
        cell = next(iter(asked.after.values()), asked.first)
        raise cell_error(
            nb,
            cell,
            "the stages form a cycle: " + " -> ".join(reversed(cycle)) + ".",
            "Remove one of the 'after:' tags so the stages can run in order.",
        )


def _find_cycle(order: list[str], after: dict[str, tuple[str, ...]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(name: str) -> list[str] | None:
        state[name] = 1
        path.append(name)
        for up in after[name]:
            if state.get(up) == 1:
                return [*path[path.index(up) :], up]
            if up not in state and (found := visit(up)):
                return found
        state[name] = 2
        path.pop()
        return None

    for name in order:
        if name not in state and (found := visit(name)):
            return found
    return None


def _version(parameters: dict[str, Parameter], setup: list[CodeCell], stages: list[Stage]) -> str:
    """Content hash of what runs: code, setup, edges, options and parameter defaults.

    Outputs, execution counts, cell ids and other metadata are not part of it on purpose.
    """
    content = {
        "schema": SCHEMA_VERSION,
        "parameters": {p.name: [p.type, p.default] for p in parameters.values()},
        "setup": [_normalize(c.source) for c in setup],
        "stages": [
            {
                "name": s.name,
                "code": [_normalize(c.source) for c in s.cells],
                "after": list(s.after),
                "inputs": s.inputs,
                "options": s.options,
                "metrics": list(s.metrics),
            }
            for s in stages
        ],
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]


def _normalize(source: str) -> str:
    return "\n".join(line.rstrip() for line in source.strip("\n").split("\n"))


def _kernelspec(metadata: dict[str, Any]) -> dict[str, Any]:
    spec = metadata.get("kernelspec")
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return {
            k: spec[k]
            for k in ("display_name", "language", "name")
            if isinstance(spec.get(k), str) and encodable(spec[k])
        }
    return {"display_name": "Python 3", "language": "python", "name": "python3"}
