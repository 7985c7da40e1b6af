"""Notebook to pipeline: assign cells to stages, read parameters, resolve data flow, validate.

``build_pipeline`` is pure (a parsed notebook in, a :class:`Pipeline` out); ``compile_notebook``
adds the two edges of I/O: reading the notebook and writing the compiled folder.
"""

from __future__ import annotations

import ast
import builtins
import gc
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import tags as T
from .analysis import Flow, TooDeep, analyze
from .errors import CompileError
from .notebook import Cell, Notebook, read_notebook
from .pipeline import PARAMETER_TYPES, SCHEMA_VERSION, CodeCell, Parameter, Pipeline, Stage
from .syntax import parse_source

DEFAULT_STAGE = "main"
# Names a kernel provides without any stage defining them.
_PROVIDED = frozenset(dir(builtins)) | {"get_ipython", "display", "In", "Out", "exit", "quit"}


@dataclass
class _StageDraft:
    name: str
    first: Cell
    cells: list[Cell] = field(default_factory=list)
    after: dict[str, Cell] = field(default_factory=dict)  # name -> the cell that asked for it
    options: dict[str, Any] = field(default_factory=dict)
    magic_cells: set[int] = field(default_factory=set)


def _error(
    nb: Notebook, cell: Cell, message: str, hint: str | None = None, line: int | None = None
) -> CompileError:
    return CompileError(
        message, notebook=nb.path, cell=cell.index, cell_id=cell.id, line=line, hint=hint
    )


def pipeline_name(notebook_path: str) -> str:
    """A valid stage-style name from the notebook's file name (``My Model.ipynb`` -> ``my-model``)."""
    stem = re.sub(r"[^a-z0-9_-]+", "-", Path(notebook_path).stem.lower()).strip("-_")
    if not stem or not stem[0].isalpha():
        stem = "nb-" + stem if stem else "notebook"
    return stem[:63]


def _parse(nb: Notebook, cell: Cell, source: str) -> ast.Module:
    try:
        return parse_source(source)
    except SyntaxError as exc:
        raise _error(
            nb,
            cell,
            f"has a syntax error: {exc.msg}.",
            "Fix it, or tag the cell 'skip' to leave it out of the pipeline.",
            line=exc.lineno,
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        reason = (
            "is nested too deeply"
            if isinstance(exc, RecursionError)
            else f"cannot be parsed ({exc})"
        )
        raise _error(nb, cell, f"{reason}.", "Tag the cell 'skip' to leave it out.") from None


def _analyze(
    nb: Notebook, trees: list[tuple[int, ast.Module]], modules: set[str] | None = None
) -> Flow:
    try:
        return analyze(trees, modules)
    except TooDeep as exc:
        cell = next(c for c in nb.cells if c.index == exc.cell)
        raise _error(
            nb, cell, "is nested too deeply to analyse.", "Split the expression up."
        ) from None


def _cell_tags(nb: Notebook, cell: Cell) -> T.CellTags:
    try:
        return T.parse_cell_tags(cell.tags, cell.source)
    except T.TagError as exc:
        raise _error(nb, cell, exc.message, exc.hint) from None


def _literal_type(value: Any) -> str | None:
    kind = PARAMETER_TYPES.get(type(value))
    if kind == "list":
        return "list" if all(_literal_type(v) for v in value) else None
    if kind == "dict":
        ok = all(isinstance(k, str) and _literal_type(v) for k, v in value.items())
        return "dict" if ok else None
    if kind == "float" and not math.isfinite(value):
        return None
    return kind


def _parameters(nb: Notebook, cell: Cell, found: dict[str, Parameter]) -> None:
    tree = _parse(nb, cell, cell.source)
    for stmt in tree.body:
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        target = None
        value_node: ast.expr | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value_node = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value_node = stmt.target, stmt.value
        if not isinstance(target, ast.Name) or value_node is None:
            raise _error(
                nb,
                cell,
                "a parameters cell may only assign literal values to names (like 'n = 100').",
                "Move other code to a setup cell or a stage.",
                line=stmt.lineno,
            )
        name = target.id
        try:
            value = ast.literal_eval(value_node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise _error(
                nb,
                cell,
                f"parameter '{name}' is not a literal: parameters are passed as values, never as code.",
                f"Write a literal such as '{name} = 100', or compute it in a stage from a literal parameter.",
                line=stmt.lineno,
            ) from None
        kind = _literal_type(value)
        if kind is None:
            raise _error(
                nb,
                cell,
                f"parameter '{name}' is a {type(value).__name__}; parameters are int, float, str, "
                "bool, list, dict or None (lists and dicts of those, dict keys strings).",
                "Use a list instead of a tuple or set, and finite numbers.",
                line=stmt.lineno,
            )
        found[name] = Parameter(name, value, kind, cell.index, cell.id, stmt.lineno)


def _metric_names(nb: Notebook, cell: Cell) -> list[tuple[str, int]]:
    tree = _parse(nb, cell, cell.source)
    names: list[tuple[str, int]] = []

    def take(expr: ast.expr, line: int) -> None:
        if isinstance(expr, ast.Name):
            names.append((expr.id, line))
        elif isinstance(expr, ast.Tuple):
            for elt in expr.elts:
                take(elt, line)
        elif (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id in ("print", "display")
            and not expr.keywords
        ):
            for arg in expr.args:
                take(arg, line)
        else:
            raise _error(
                nb,
                cell,
                "a metrics cell lists the names to record, as bare names or print(name).",
                "Compute the metric in a stage and list only its name here.",
                line=line,
            )

    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            take(ast.Constant(None), stmt.lineno)
        else:
            take(stmt.value, stmt.lineno)
    return names


def _assign_stages(nb: Notebook) -> tuple[list[_StageDraft], list[Cell], list[Cell], list[Cell]]:
    """Walk the cells once: stage drafts in notebook order, and parameters/setup/metrics cells."""
    drafts: dict[str, _StageDraft] = {}
    params: list[Cell] = []
    setup: list[Cell] = []
    metrics: list[Cell] = []
    current: _StageDraft | None = None
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
                current = drafts[tags.stage] = _StageDraft(tags.stage, cell)
            elif tags.dialect == "kale" and existing.first is not cell:
                current = existing  # Kale's dialect: a repeated block: name continues that step
            else:
                raise _error(
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
            current = drafts[DEFAULT_STAGE] = _StageDraft(DEFAULT_STAGE, cell)
        for name in tags.after:
            current.after.setdefault(name, cell)
        for key, value in tags.options().items():
            if current.options.get(key, value) != value:
                raise _error(
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


def _strip_magic(source: str) -> tuple[str, int]:
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


def _code_cell(cell: Cell, source: str, offset: int = 0) -> CodeCell:
    """The cell as a stage runs it."""
    return CodeCell(cell.index, cell.ref, _without_face_magics(source), cell.tags, offset)


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


def build_pipeline(nb: Notebook) -> Pipeline:
    """Turn a parsed notebook into a validated :class:`Pipeline` (pure: no I/O)."""
    drafts, param_cells, setup_cells, metric_cells = _assign_stages(nb)

    parameters: dict[str, Parameter] = {}
    for cell in param_cells:
        _parameters(nb, cell, parameters)

    setup = [_code_cell(cell, cell.source) for cell in setup_cells]
    setup_parsed = [(c.index, _parse(nb, c, c.source)) for c in setup_cells]
    setup_flow = _analyze(nb, setup_parsed)
    setup_params = [n for n in setup_flow.reads if n in parameters]

    names = {d.name for d in drafts}
    for draft in drafts:
        for up, cell in draft.after.items():
            if up not in names:
                known = ", ".join(sorted(names)) or "none"
                raise _error(
                    nb,
                    cell,
                    f"'after:{up}' names no stage of this notebook (stages: {known}).",
                    "Fix the name or remove the tag.",
                )

    flows: list[Flow] = []
    imports: list[tuple[str, ...]] = []
    cells: list[list[CodeCell]] = []
    # names bound to a module by the nearest writer above: a method call on them mutates nothing
    modules = set(setup_flow.modules)
    for draft in drafts:
        trees = []
        stage_cells = []
        for cell in draft.cells:
            source, offset = cell.source, 0
            if cell.index in draft.magic_cells:
                source, offset = _strip_magic(cell.source)
            # blank lines in place of the magic keep the user's line numbers in errors
            trees.append((cell.index, _parse(nb, cell, "\n" * offset + source)))
            stage_cells.append(_code_cell(cell, source, offset))
        flows.append(_analyze(nb, trees, modules))
        for name in flows[-1].writes:
            (modules.add if name in flows[-1].modules else modules.discard)(name)
        imports.append(tuple(sorted(setup_flow.imports | flows[-1].imports)))
        cells.append(stage_cells)

    # Resolve each read to the nearest upstream writer, in notebook order.
    inputs: list[dict[str, str]] = [{} for _ in drafts]
    outputs: list[list[str]] = [[] for _ in drafts]
    stage_params: list[list[str]] = [[] for _ in drafts]
    warnings: list[str] = []
    for i, (draft, flow) in enumerate(zip(drafts, flows, strict=True)):
        for name, use in flow.reads.items():
            producer = next((j for j in range(i - 1, -1, -1) if name in flows[j].writes), None)
            if producer is not None:
                if name in flows[producer].deleted:
                    cell = next(c for c in draft.cells if c.index == use.cell)
                    gone = flows[producer].writes[name]
                    raise _error(
                        nb,
                        cell,
                        f"stage '{draft.name}' reads '{name}', but stage '{drafts[producer].name}' "
                        f"deletes it before (del in cell {gone.cell}, line {gone.line}).",
                        "Remove the del, or recompute the value in this stage.",
                        line=use.line,
                    )
                inputs[i][name] = drafts[producer].name
                if name not in outputs[producer]:
                    outputs[producer].append(name)
            elif name in parameters:
                stage_params[i].append(name)
            elif name not in setup_flow.writes and name not in _PROVIDED and not flow.star_import:
                later = next(
                    (
                        d.name
                        for d, f in zip(drafts[i + 1 :], flows[i + 1 :], strict=True)
                        if name in f.writes
                    ),
                    None,
                )
                if later:
                    warnings.append(
                        f"stage '{draft.name}' reads '{name}' (cell {use.cell}, line {use.line}), "
                        f"which only the later stage '{later}' assigns."
                    )
        for name in setup_params:
            if name not in stage_params[i] and name not in inputs[i]:
                stage_params[i].append(name)

    # Metrics: each name belongs to the last stage before the metrics cell that writes it.
    metrics: list[list[str]] = [[] for _ in drafts]
    for cell in metric_cells:
        for name, line in _metric_names(nb, cell):
            owner = next(
                (
                    j
                    for j in range(len(drafts) - 1, -1, -1)
                    if drafts[j].first.index < cell.index and name in flows[j].writes
                ),
                None,
            )
            if owner is None:
                raise _error(
                    nb,
                    cell,
                    f"metric '{name}' is not assigned by any stage above this cell.",
                    "Assign it in a stage, or fix the name.",
                    line=line,
                )
            if name not in metrics[owner]:
                metrics[owner].append(name)

    order = [d.name for d in drafts]
    after: dict[str, tuple[str, ...]] = {}
    for i, draft in enumerate(drafts):
        ups = set(draft.after) | set(inputs[i].values())
        after[draft.name] = tuple(n for n in order if n in ups)
    cycle = _find_cycle(order, after)
    if cycle:
        draft = next(d for d in drafts if d.name == cycle[0])
        asked = next((d for d in drafts if set(d.after) & set(cycle)), draft)
        cell = next(iter(asked.after.values()), asked.first)
        raise _error(
            nb,
            cell,
            "the stages form a cycle: " + " -> ".join(reversed(cycle)) + ".",
            "Remove one of the 'after:' tags so the stages can run in order.",
        )

    stages = [
        Stage(
            name=d.name,
            cells=tuple(cells[i]),
            after=after[d.name],
            inputs=inputs[i],
            outputs=tuple(outputs[i]),
            parameters=tuple(stage_params[i]),
            metrics=tuple(metrics[i]),
            options=dict(sorted(d.options.items())),
            reads=flows[i].reads,
            writes=flows[i].writes,
            explicit_after=tuple(d.after),
            imports=imports[i],
        )
        for i, d in enumerate(drafts)
    ]
    if not stages:
        raise CompileError(
            "has no code cells to run.",
            notebook=nb.path,
            hint="Add code cells, or remove the 'skip' tags from them.",
        )
    return Pipeline(
        name=pipeline_name(nb.path),
        version=_version(parameters, setup, stages),
        notebook=Path(nb.path).name,
        parameters=parameters,
        setup=tuple(setup),
        stages=tuple(stages),
        kernelspec=_kernelspec(nb.metadata),
        warnings=tuple(warnings),
    )


def _kernelspec(metadata: dict[str, Any]) -> dict[str, Any]:
    spec = metadata.get("kernelspec")
    if isinstance(spec, dict) and isinstance(spec.get("name"), str):
        return {
            k: spec[k] for k in ("display_name", "language", "name") if isinstance(spec.get(k), str)
        }
    return {"display_name": "Python 3", "language": "python", "name": "python3"}


@contextmanager
def _no_gc() -> Iterator[None]:
    """Syntax trees are many small objects and no cycles: the cyclic GC only costs time here."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and compile a notebook file in memory (what ``mlops explain`` shows)."""
    with _no_gc():
        return build_pipeline(read_notebook(path))


@dataclass(frozen=True)
class Compiled:
    pipeline: Pipeline
    output: Path

    def to_dict(self) -> dict[str, Any]:
        return self.pipeline.to_dict(output=str(self.output))


def default_output(notebook: str | Path, pipeline: Pipeline) -> Path:
    from .paths import find_home

    return find_home(notebook) / "pipelines" / pipeline.name / pipeline.version


def render_files(pipeline: Pipeline, workdir: str = ".") -> dict[str, str]:
    """Every file of the compiled folder, by relative path; ``pipeline.json`` last.

    ``workdir`` is the notebook's folder relative to the output: stages run there, so relative
    paths in the user's code mean what they meant in the notebook.
    """
    from .render.manifest import render_manifest
    from .render.script import render_script
    from .render.stage import render_stage

    files = {f"stages/{s.name}.ipynb": render_stage(pipeline, s) for s in pipeline.stages}
    files["pipeline.py"] = render_script(pipeline)
    files["pipeline.json"] = render_manifest(
        pipeline, workdir
    )  # written last: it marks the folder complete
    return files


def write_compiled(
    pipeline: Pipeline, output: Path, protect: Path | None = None, workdir: str = "."
) -> None:
    """Write the compiled folder; only files that changed are rewritten, stale stages removed.

    ``protect`` (the source notebook) is never written or removed, wherever ``output`` points.
    """
    from .files import write_atomic

    files = render_files(pipeline, workdir)
    if output.exists() and not output.is_dir():
        raise CompileError(
            f"output {output} exists and is not a folder.", hint="Pick another -o folder."
        )
    guarded = protect.resolve() if protect else None
    if guarded and any((output / rel).resolve() == guarded for rel in files):
        raise CompileError(
            f"output folder {output} would overwrite the source notebook.",
            notebook=str(protect),
            hint="Pick another -o folder.",
        )
    stages_dir = output / "stages"
    stages_dir.mkdir(parents=True, exist_ok=True)
    for old in stages_dir.glob("*.ipynb"):
        if f"stages/{old.name}" not in files and old.resolve() != guarded:
            old.unlink()
    for relative, text in files.items():
        target = output / relative
        data = text.encode()
        try:
            if target.read_bytes() == data:
                continue
        except OSError:
            pass
        write_atomic(target, data, fsync=False)
        if relative == "pipeline.py":
            target.chmod(0o755)


def compile_notebook(notebook: str | Path, output: str | Path | None = None) -> Compiled:
    """Compile a notebook file into a folder; nothing is written unless it compiles cleanly."""
    pipeline = load_pipeline(notebook)
    out = Path(output) if output is not None else default_output(notebook, pipeline)
    workdir = os.path.relpath(Path(notebook).resolve().parent, out.resolve())
    write_compiled(pipeline, out, protect=Path(notebook), workdir=Path(workdir).as_posix())
    return Compiled(pipeline, out)
