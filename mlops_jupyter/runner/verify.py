"""``mlops verify``: run a notebook as the pipeline and top to bottom in one kernel, and compare.

The reference is what papermill would compute: every code cell in notebook order in one kernel
(``skip`` cells included; lines that drive the pipeline, such as ``%mlops run``, become ``pass``
exactly as in the stages; papermill's leftover ``injected-parameters`` cell is replaced by this
run's parameters, as papermill itself does). After the last cell of each stage a probe records a
fingerprint (``values.fingerprint``) of every value that stage hands on and the value of each
metric it owns. The pipeline runs as ``mlops run`` would — cache included, since a stale cache
entry is exactly what this must catch — and the two are compared: values passed between stages,
metrics (named in a metrics cell, and the last value of each logged one), what each stage
cell printed, and the files written (each file's last content in the pipeline, by the stage
latest in notebook order that wrote it, against its content after the whole notebook).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compiler.model import Pipeline
from ..errors import MlopsError
from ..status import Listener
from ..store.db import Store
from .executor import StageTask
from .params import coerce
from .run import RunOptions, Target, prepare, run_pipeline

REFERENCE = "(notebook)"  # the stage name the reference run goes by in messages
_PROBE = "_mlops_verify"
_ids = itertools.count(1)
# what a cell prints about its own timing differs between any two runs
_TIMING = re.compile(r"^(CPU times|Wall time|\d+(\.\d+)? [µmn]?s ± .*per loop).*$", re.M)


@dataclass
class Difference:
    kind: str  # value | metric | output | file | stage
    stage: str
    name: str
    cell: int | None
    pipeline: Any
    notebook: Any

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Verdict:
    run_id: str
    reference: str  # the executed reference notebook
    compared: dict[str, int] = field(default_factory=dict)  # kind -> how many were compared
    differences: list[Difference] = field(default_factory=list)

    @property
    def agree(self) -> bool:
        return not self.differences

    def to_dict(self) -> dict[str, Any]:
        return {
            "agree": self.agree,
            "run_id": self.run_id,
            "reference": self.reference,
            "compared": self.compared,
            "differences": [d.to_dict() for d in self.differences],
        }


def _code(source: str) -> list[str]:
    return source.splitlines(keepends=True)


def reference_notebook(
    pipeline: Pipeline, raw: dict[str, Any], report: Path, workdir: Path
) -> tuple[dict[str, Any], dict[int, str]]:
    """The source notebook as one kernel runs it, with a probe after each stage's last cell.

    Returns the notebook and ``{cell index: stage}`` for the stage cells (whose printed output
    is compared)."""
    from ..compiler.stages import _without_face_magics, strip_magic

    stage_source = {c.index: (s.name, c.source) for s in pipeline.stages for c in s.cells}
    last_of = {max(c.index for c in s.cells): s for s in pipeline.stages if s.cells}
    parameter_cells = {p.cell for p in pipeline.parameters.values()}
    start = f"{_PROBE}.verify_start({str(workdir)!r}, {str(report.parent / 'home')!r})"
    cells: list[dict[str, Any]] = [
        _cell(f"from mlops_jupyter import values as {_PROBE}\n{start}\n", {"role": "verify"})
    ]
    owner: dict[int, str] = {}
    for index, cell in enumerate(raw.get("cells", []), start=1):
        if cell.get("cell_type") != "code":
            continue
        tags = list((cell.get("metadata") or {}).get("tags") or [])
        if "injected-parameters" in tags:
            continue  # papermill replaces it with this run's parameters
        source = "".join(cell.get("source") or "")
        if index in stage_source:
            owner[index], source = stage_source[index]
        else:
            if source.lstrip("\n").startswith("%%mlops"):  # a stage line outside any stage
                rest, removed = strip_magic(source)
                source = "\n" * removed + rest  # the user's line numbers stay
            source = _without_face_magics(source)
        meta = {"role": "code", "source_cell": {"index": index}}
        new = _cell(source, meta)
        if index in parameter_cells:
            new["metadata"]["tags"] = ["parameters"]
        cells.append(new)
        stage = last_of.get(index)
        if stage is not None:
            cells.append(
                _cell(
                    f"{_PROBE}.verify_probe(globals(), {stage.name!r}, "
                    f"{list(stage.outputs)!r}, {list(stage.metrics)!r})\n",
                    {"role": "verify"},
                )
            )
    cells.append(_cell(f"{_PROBE}.verify_report({str(report)!r})\n", {"role": "verify"}))
    metadata = dict(raw.get("metadata") or {})
    metadata["kernelspec"] = pipeline.kernelspec
    notebook = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    return notebook, owner


def _cell(source: str, mlops: dict[str, Any]) -> dict[str, Any]:
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": f"verify-{next(_ids)}",
        "metadata": {"mlops": mlops},
        "outputs": [],
        "source": _code(source),
    }


def _printed(notebook: dict[str, Any]) -> dict[int, str]:
    """``{source cell index: what it printed on stdout}``, timing lines left out."""
    found: dict[int, str] = {}
    for cell in notebook.get("cells", []):
        where = ((cell.get("metadata") or {}).get("mlops") or {}).get("source_cell") or {}
        if "index" not in where:
            continue
        text = "".join(
            "".join(o.get("text") or "")
            for o in cell.get("outputs", [])
            if o.get("output_type") == "stream" and o.get("name") == "stdout"
        )
        found[where["index"]] = _TIMING.sub("", text).rstrip()
    return found


def _run_reference(
    pipeline: Pipeline,
    raw: dict[str, Any],
    workdir: Path,
    values: dict[str, Any],
    scratch: Path,
) -> tuple[dict[str, Any], dict[str, Any], dict[int, str]]:
    """Execute the reference notebook; ``(probes, executed notebook, stage cell owners)``."""
    from .local import LocalExecutor

    report = scratch / "probes.json"
    notebook, owner = reference_notebook(pipeline, raw, report, workdir)
    source = scratch / "reference.ipynb"
    source.write_text(json.dumps(notebook), encoding="utf-8")
    executed = scratch / "reference.executed.ipynb"
    imports = sorted({m for s in pipeline.stages for m in s.imports})
    # its mlops.log_metric calls go to a store of its own: the project's keeps only real runs
    executor = LocalExecutor(
        jobs=1,
        kernel_name=str(pipeline.kernelspec.get("name", "python3")),
        cwd=str(workdir),
        env={"MLOPS_HOME": str(scratch / "home")},
        preload=imports,
    )
    try:
        executor.warm(1)
        task = StageTask(
            stage=REFERENCE,
            notebook=source,
            executed=executed,
            manifest=report,
            parameters=values,
            kernel_name=str(pipeline.kernelspec.get("name", "python3")),
            cwd=workdir,
            source_notebook=pipeline.notebook,
        )
        outcome = executor.submit(task).result()
    finally:
        executor.close()
    if not outcome.ok:
        raise MlopsError(
            f"the notebook itself does not run top to bottom: {outcome.error}",
            hint="Fix the notebook first: `mlops verify` compares the pipeline with it.",
        )
    probes = json.loads(report.read_text())
    logged = _logged_metrics(scratch / "home")
    probes["logged"] = logged
    return probes, json.loads(executed.read_text(encoding="utf-8")), owner


def _logged_metrics(home: Path) -> dict[str, float]:
    if not (home / "mlops.db").exists():
        return {}
    with Store(home) as store:
        runs = store.list_runs(limit=1)
        return dict(runs[0]["metrics"]) if runs else {}


def _fingerprint(ref: dict[str, Any] | None, home: Path) -> str | None:
    """The fingerprint the stage recorded, or (a cache entry older than this fingerprint
    version) one computed here from the stored value."""
    from .. import values
    from ..store import objects

    if not ref:
        return None
    found = ref.get("fingerprint")
    if isinstance(found, str) and found.startswith(values.FINGERPRINT_VERSION + ":"):
        return found
    try:
        data = objects.open_objects(home / "objects").get(ref["hash"])
        return values.fingerprint(values.decode(data, ref["format"]))
    except Exception:
        return None


def _same_number(a: Any, b: Any) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == b or (a != a and b != b)  # NaN equals NaN here: the same result
    return bool(a == b)


def verify(
    notebook: str | Path,
    parameters: dict[str, Any] | None = None,
    listeners: list[Listener] | None = None,
) -> Verdict:
    """Run ``notebook`` both ways and compare; raises MlopsError for bad input."""
    from ..compiler.output import load_pipeline

    path = Path(notebook)
    if not path.is_file():
        raise MlopsError(f"{notebook}: no such notebook (verify compares a notebook file).")
    pipeline = load_pipeline(path)
    raw = json.loads(path.read_text(encoding="utf-8"))
    target = prepare(path)
    values = coerce(target.plan.parameters, dict(parameters or {}))
    options = RunOptions(parameters=dict(parameters or {}), origin="verify")
    run = run_pipeline(target, options, listeners)
    scratch = Path(tempfile.mkdtemp(prefix="mlops-verify-"))
    keep = target.home / "verify"
    try:
        probes, executed, owner = _run_reference(
            pipeline, raw, target.plan.workdir, values, scratch
        )
        keep.mkdir(parents=True, exist_ok=True)
        reference = keep / f"{run['run_id']}.ipynb"
        reference.write_text(json.dumps(executed), encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    verdict = Verdict(run["run_id"], str(reference))
    _compare(verdict, pipeline, run, probes, executed, owner, target.home)
    _compare_files(verdict, pipeline, run["run_id"], probes.get("files") or {}, target)
    return verdict


def _compare(
    verdict: Verdict,
    pipeline: Pipeline,
    run: dict[str, Any],
    probes: dict[str, Any],
    executed: dict[str, Any],
    owner: dict[int, str],
    home: Path,
) -> None:
    differ = verdict.differences.append
    counts = dict.fromkeys(("value", "metric", "output"), 0)
    with Store(home) as store:
        outputs = store.stage_outputs(run["run_id"])
    status = {s["name"]: s for s in run["stages"]}
    for stage in pipeline.stages:
        record = status.get(stage.name, {})
        if record.get("status") not in ("succeeded", "cached"):
            differ(
                Difference(
                    "stage",
                    stage.name,
                    "",
                    None,
                    record.get("error") or record.get("status"),
                    "ran",
                )
            )
            continue
        probe = probes["stages"].get(stage.name, {})
        for name in stage.outputs:
            counts["value"] += 1
            mine = _fingerprint((outputs.get(stage.name) or {}).get(name), home)
            theirs = probe.get("values", {}).get(name)
            if mine is None or mine != theirs:
                cell = stage.writes[name].cell if name in stage.writes else None
                differ(Difference("value", stage.name, name, cell, mine, theirs))
        for name in stage.metrics:
            counts["metric"] += 1
            mine, theirs = run["metrics"].get(name), probe.get("metrics", {}).get(name)
            if not _same_number(mine, theirs):
                cell = stage.writes[name].cell if name in stage.writes else None
                differ(Difference("metric", stage.name, name, cell, mine, theirs))
    named = {m for s in pipeline.stages for m in s.metrics}
    for name, theirs in probes.get("logged", {}).items():
        if name in named:
            continue
        counts["metric"] += 1
        mine = run["metrics"].get(name)
        if not _same_number(mine, theirs):
            differ(Difference("metric", "(logged)", name, None, mine, theirs))
    theirs_printed = _printed(executed)
    for stage in run["stages"]:
        if stage["status"] != "succeeded" or not stage.get("notebook"):
            continue  # a cached stage printed nothing in this run
        try:
            mine_printed = _printed(json.loads(Path(stage["notebook"]).read_text("utf-8")))
        except (OSError, ValueError):
            continue
        for index, text in mine_printed.items():
            if owner.get(index) != stage["name"]:
                continue  # setup cells print in every stage
            counts["output"] += 1
            if text != theirs_printed.get(index, ""):
                differ(
                    Difference(
                        "output", stage["name"], "stdout", index, text, theirs_printed.get(index)
                    )
                )
    verdict.compared = counts


def _compare_files(
    verdict: Verdict, pipeline: Pipeline, run_id: str, theirs: dict[str, str], target: Target
) -> None:
    """Each file either side wrote: its last content in the pipeline against the notebook's."""
    with Store(target.home) as store:
        files = store.stage_files(run_id)
    last: dict[str, tuple[str, str | None]] = {}  # path -> (stage, hash): the later stage's
    for stage in pipeline.stages:
        for path, ref in ((files.get(stage.name) or {}).get("written") or {}).items():
            last[path] = (stage.name, ref["hash"])
    root = str(target.plan.workdir)
    for path in sorted(set(last) | set(theirs)):
        writer, mine = last.get(path, ("(none)", None))
        if mine != theirs.get(path):
            name = os.path.relpath(path, root) if path.startswith(root) else path
            verdict.differences.append(
                Difference("file", writer, name, None, mine, theirs.get(path))
            )
    verdict.compared["file"] = len(set(last) | set(theirs))
