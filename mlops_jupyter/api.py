"""The one core every face calls: the CLI, the ``%mlops`` magics, the widgets and the server.

Each function takes plain arguments, returns plain JSON-ready data (the same objects the CLI
prints with ``--json``), and raises :class:`~mlops_jupyter.errors.MlopsError` for bad input.
Faces only parse their own input and render these results.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .errors import MlopsError, NotFoundError
from .home import check_home, find_home
from .status import Listener


def explain(notebook: str | Path) -> dict[str, Any]:
    """Stages, parameters and data flow of a notebook (``mlops explain --json``); writes nothing."""
    from .compiler.output import load_pipeline

    return load_pipeline(notebook).to_dict()


def compile(
    notebook: str | Path, output: str | Path | None = None, *, force: bool = False
) -> dict[str, Any]:
    """Compile into ``output`` (default: the store's pipelines folder); ``mlops compile --json``.

    A folder holding files mlops did not write is refused unless ``force`` (which still never
    deletes them)."""
    from .compiler.output import compile_notebook

    if output is None:
        _check_store_place(notebook)
    return compile_notebook(notebook, output, force=force).to_dict()


def _check_store_place(where: str | Path) -> None:
    """A file where the store's folder belongs: one clear error before anything is written."""
    check_home(find_home(where))


def run(
    target: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    jobs: int | None = None,
    no_cache: bool = False,
    force: list[str] | None = None,
    stages: list[str] | None = None,
    from_stage: str | None = None,
    origin: str = "api",
    listeners: list[Listener] | None = None,
    cancel: threading.Event | None = None,
    executor: str = "local",
    executor_options: dict[str, Any] | None = None,
    address: str | None = None,
    scheduler_file: str | None = None,
    home: str | Path | None = None,
) -> dict[str, Any]:
    """Run a notebook or compiled folder and wait for it; returns the ``mlops run --json`` object.

    ``parameters`` values may be text (``"100"``, read as the declared type) or JSON values.
    ``listeners`` receive the run's events as they happen; setting ``cancel`` stops the run the
    way Ctrl-C does. ``executor`` names the backend stages run on (``runner/executors.py``:
    ``local``, or one an installed package registers), with its ``executor_options``;
    ``address`` (``tcp://HOST:PORT``) or ``scheduler_file`` say where ``executor="dask"`` finds
    its scheduler (neither: a LocalCluster for this run).
    """
    from .runner.run import RunOptions, run_pipeline

    _check_store_place(target)

    options = RunOptions(
        parameters=dict(parameters or {}),
        jobs=jobs,
        no_cache=no_cache,
        force=list(force or []),
        stages=stages,
        from_stage=from_stage,
        origin=origin,
        cancel=cancel,
        executor=executor,
        executor_options={
            **(executor_options or {}),
            **{k: v for k, v in (("address", address), ("scheduler_file", scheduler_file)) if v},
        },
    )
    # home: the store to record into, when the caller decides it (the server: one inside its
    # root); by default the one the notebook's own runs use, for a compiled folder too
    return run_pipeline(target, options, listeners, home)


class RunHandle:
    """A run going on in a thread of this process: what ``start_run`` returns.

    ``recorded`` resolves to the run id as soon as the run is in the store (so it can be polled
    at once), or to the error raised before that (a compile error, a bad parameter); ``done`` is
    set when the run has ended and is recorded, with ``result`` (the ``mlops run --json``
    object) or ``error``. Setting ``cancel`` stops the run the way Ctrl-C does. (A plain class:
    `mlops explain` imports this module, and must not pay for dataclasses or concurrent.futures.)
    """

    def __init__(self, cancel: threading.Event | None = None) -> None:
        from concurrent.futures import Future

        self.cancel = cancel or threading.Event()
        self.recorded: Future[str] = Future()
        self.done = threading.Event()
        self.run_id: str | None = None
        self.result: dict[str, Any] | None = None
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return not self.done.is_set()


def start_run(
    target: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    listeners: list[Listener] | None = None,
    on_done: Callable[[RunHandle], None] | None = None,
    handle: RunHandle | None = None,
    **options: Any,
) -> RunHandle:
    """Start :func:`run` in a daemon thread and return at once. ``on_done`` is called on that
    thread once the run ended (before ``done`` is set); ``options`` are :func:`run`'s. Pass a
    ``handle`` made beforehand when a listener needs it from the run's first event on."""
    handle = handle or RunHandle(cancel=threading.Event())

    def first(event: dict[str, Any]) -> None:
        if event.get("event") == "run" and not handle.recorded.done():
            handle.run_id = event["run_id"]
            handle.recorded.set_result(event["run_id"])

    def work() -> None:
        try:
            handle.result = run(
                target,
                parameters,
                listeners=[*(listeners or []), first],  # theirs first: "recorded" means seen
                cancel=handle.cancel,
                **options,
            )
        except BaseException as exc:  # handed to whoever waits on the handle
            handle.error = exc
        finally:
            if not handle.recorded.done():  # it never started: the caller's error to report
                handle.recorded.set_exception(
                    handle.error or RuntimeError("the run ended before it was recorded")
                )
            try:
                if on_done is not None:
                    on_done(handle)
            finally:
                handle.done.set()

    # daemon: a run must not keep a stopping process alive; its owner cancels it first
    handle.thread = threading.Thread(target=work, name="mlops-run", daemon=True)
    handle.thread.start()
    return handle


def verify(
    notebook: str | Path,
    parameters: dict[str, Any] | None = None,
    *,
    listeners: list[Listener] | None = None,
) -> dict[str, Any]:
    """Run the notebook as the pipeline and top to bottom in one kernel, and compare
    (``mlops verify --json``): ``{"agree", "run_id", "reference", "compared", "differences"}``."""
    from .runner.verify import verify as run_both

    return run_both(notebook, parameters, listeners).to_dict()


def _store(where: str | Path | None, *, create: bool = False, looking_for: str = "") -> Any:
    """The store serving ``where``; reading commands never create one where there is none."""
    from .errors import NotFoundError
    from .store.db import Store

    home = find_home(Path(where) if where else Path.cwd())
    check_home(home)  # a file in the store's place is an error to fix, not "no runs yet"
    if not create and not (home / "mlops.db").exists():
        raise NotFoundError(
            f"{looking_for}there are no runs yet (no store at {home}).",
            hint="Start one with `mlops run NOTEBOOK`, or set MLOPS_HOME.",
        )
    return Store(home)


def runs(
    where: str | Path | None = None,
    *,
    limit: int = 20,
    notebook: str | Path | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Runs newest first, from the store that serves ``where`` (a folder or notebook); a page
    of ``limit`` after skipping the ``offset`` newest."""
    try:
        store = _store(where or notebook)
    except NotFoundError:
        return []  # no store yet: no runs
    with store:
        shown = str(Path(notebook).resolve()) if notebook else None
        return store.list_runs(limit=limit, notebook=shown, offset=offset)


def show(run_ref: str, where: str | Path | None = None) -> dict[str, Any]:
    """One run (``mlops show --json``); ``run_ref`` is an id, a unique prefix, or ``latest``."""
    with _store(where, looking_for=f"no run '{run_ref}': ") as store:
        return store.get_run(store.resolve_run(run_ref))


def metrics(
    run_ref: str = "latest", keys: list[str] | None = None, where: str | Path | None = None
) -> dict[str, list[dict[str, Any]]]:
    """``{key: [{"step", "value", "time", "stage"}, ...]}`` for one run (``mlops metrics --json``)."""
    with _store(where) as store:
        return store.metric_series(store.resolve_run(run_ref), keys)


def metrics_over_runs(
    keys: list[str] | None = None,
    *,
    runs: int = 20,
    pipeline: str | None = None,
    where: str | Path | None = None,
) -> list[dict[str, Any]]:
    """The last ``runs`` runs (newest first) with their parameters and last metric values."""
    found = []
    with _store(where) as store:
        for run in store.list_runs(limit=runs if not pipeline else 10 * runs):
            if pipeline and run["pipeline"] != pipeline:
                continue
            values = run["metrics"]
            if keys:
                values = {k: v for k, v in values.items() if k in keys}
            found.append(
                {
                    "run_id": run["run_id"],
                    "pipeline": run["pipeline"],
                    "version": run["version"],
                    "status": run["status"],
                    "started_at": run["started_at"],
                    "parameters": run["parameters"],
                    "metrics": values,
                }
            )
            if len(found) == runs:
                break
    return found


def params(run_ref: str = "latest", where: str | Path | None = None) -> dict[str, Any]:
    """The parameter values a run used."""
    return dict(show(run_ref, where)["parameters"])


def data(
    path: str | Path | None = None,
    where: str | Path | None = None,
    *,
    limit: int = 100,
    drift: bool = False,
) -> list[dict[str, Any]]:
    """Recorded data versions, newest first (``mlops data --json``): each is ``{run_id, stage,
    path, kind, hash, size, time, changed, previous, schema_diff}`` plus, for tables, ``rows,
    columns, dtypes, profile``. ``path`` is a file or folder (as given, or resolved against the
    current folder) or the name a DataFrame was tracked under; unknown paths are an error."""
    if limit < 1:
        raise MlopsError(f"limit must be at least 1, not {limit}.")
    names = [] if path is None else list(dict.fromkeys([str(path), str(Path(path).resolve())]))
    try:
        store = _store(where)
    except NotFoundError:  # no store yet: nothing was tracked
        found: list[dict[str, Any]] = []
    else:
        with store:
            found = store.data_versions(names or None, limit=limit)
            if drift:
                _drift_against_previous(store, found)
    if path is not None and not found:
        raise NotFoundError(
            f"no data versions recorded for '{path}'.",
            hint="`mlops data` lists what has been tracked (mlops.track_data(PATH)).",
        )
    return found


def _drift_against_previous(store: Any, versions: list[dict[str, Any]]) -> None:
    """Each changed table version gets ``"drift": {"drift", "share", "drifted": [columns]}``
    against the version before it (what the data views show); None where either side has no
    sketch."""
    from .tracking import checks
    from .tracking.drift import compare

    sketches: dict[str, Any] = {}

    def sketch(key: str | None) -> Any:
        if key and key not in sketches:
            sketches[key] = checks.load_sketch(store, key)
        return sketches.get(key) if key else None

    listed = {(v["path"], v["hash"]): v for v in reversed(versions)}  # the newest of each
    for version in versions:
        if not (version.get("changed") and version.get("previous") and version.get("sketch")):
            continue
        before = listed.get((version["path"], version["previous"])) or store.data_version(
            version["path"], version["previous"]
        )
        ref, cur = sketch(before.get("sketch")), sketch(version["sketch"])
        if ref is None or cur is None:
            version["drift"] = None
            continue
        found = compare(ref, cur)
        drifted = [name for name, c in found["columns"].items() if c["drift"]]
        version["drift"] = {"drift": found["drift"], "share": found["share"], "drifted": drifted}


def _data_path(path: str | Path, store: Any) -> str:
    """The path a file's versions are recorded under (absolute), or a DataFrame's name as
    given when that is what the store knows."""
    text = str(path)
    absolute = str(Path(path).resolve())
    if store.last_data_version(absolute) is None and store.last_data_version(text) is not None:
        return text
    return absolute


def data_check(
    path: str | Path,
    *,
    against: str | None = None,
    schema: str | Path | None = None,
    where: str | Path | None = None,
) -> dict[str, Any]:
    """``mlops data check``: the table at ``path`` now, against ``schema`` (a pandera YAML
    file) or the schema of a recorded version (``against``: a hash prefix; default the newest
    that passed its check). Reads only: nothing is recorded. ``{"path", "against", "passed",
    "failures"}``."""
    from .tracking import checks, datasets

    file = Path(path).resolve()
    fmt = datasets.TABLE_SUFFIXES.get(file.suffix.lower())
    if fmt is None:
        raise MlopsError(
            f"{path} is not a table mlops reads (.csv, .tsv, .parquet).",
            hint="Check a DataFrame with mlops.check_data(frame) in the notebook instead.",
        )
    if not file.is_file():
        raise NotFoundError(f"there is no file {path}.")
    rules: Any = None
    if schema is not None:
        try:
            rules = checks.parse_schema(Path(schema))
        except (ValueError, TypeError, ImportError) as exc:
            raise MlopsError(str(exc)) from None
        against_info: Any = "schema"
    else:
        with _store(where, looking_for=f"nothing to check {path} against: ") as store:
            key = str(file)
            version = (
                store.data_version(key, against) if against else store.baseline_data_version(key)
            )
            if version is None:
                raise NotFoundError(
                    f"no version of {path} is recorded to check it against.",
                    hint="Record one with mlops.check_data(PATH) or mlops.track_data(PATH) in "
                    "a run, or pass --schema FILE.",
                )
            if not version.get("dtypes"):
                raise MlopsError(f"version {version['hash'][:12]} of {path} is not a table.")
            try:
                rules = checks.infer_schema(
                    version, checks.load_sketch(store, version.get("sketch"))
                )
            except ImportError as exc:
                raise MlopsError(str(exc)) from None
            against_info = {"hash": version["hash"], "time": version["time"]}
    validator = checks.Validator(rules)
    found = datasets.describe_table(str(file), fmt, validator=validator)
    if found is None or "table_error" in found:
        error = (found or {}).get("table_error", "pandas cannot read it")
        raise MlopsError(f"{path} cannot be read as a table ({error}).")
    failures = validator.failures()
    return {
        "path": str(file),
        "against": against_info,
        "passed": not failures,
        "failures": failures,
    }


def data_drift(
    path: str | Path,
    *,
    from_version: str | None = None,
    to_version: str | None = None,
    where: str | Path | None = None,
) -> dict[str, Any]:
    """``mlops data drift``: two recorded versions of a table compared column by column
    (tracking/drift.py); by default the newest and the one before it. ``{"path", "from",
    "to", "drift", "share", "columns"}``."""
    from .tracking import checks, drift

    with _store(where, looking_for=f"no versions of {path}: ") as store:
        key = _data_path(path, store)
        history = store.data_versions([key], limit=None)
        if not history:
            raise NotFoundError(
                f"no data versions recorded for '{path}'.",
                hint="`mlops data` lists what has been tracked (mlops.track_data(PATH)).",
            )
        distinct = list({v["hash"]: v for v in reversed(history)}.values())[::-1]
        to = store.data_version(key, to_version) if to_version else distinct[0]
        if from_version:
            start = store.data_version(key, from_version)
        else:
            older = [
                v for v in distinct if v["timestamp"] < to["timestamp"] and v["hash"] != to["hash"]
            ]
            if not older:
                raise NotFoundError(
                    f"{path} has only one version before {to['hash'][:12]}: nothing to compare.",
                    hint="Drift compares two versions: track the data again once it changed.",
                )
            start = older[0]
        sketches = []
        for version in (start, to):
            sketch = checks.load_sketch(store, version.get("sketch"))
            if sketch is None:
                raise MlopsError(
                    f"version {version['hash'][:12]} of {path} has no drift sketch: it is not a "
                    "table, or it was recorded before mlops-jupyter kept them.",
                    hint="Track the data again (mlops.track_data) to record one.",
                )
            sketches.append(sketch)
    found = drift.compare(*sketches)
    return {
        "path": key,
        "from": {"hash": start["hash"], "time": start["time"], "rows": start.get("rows")},
        "to": {"hash": to["hash"], "time": to["time"], "rows": to.get("rows")},
        **found,
    }


def diff(run_a: str, run_b: str, where: str | Path | None = None) -> dict[str, Any]:
    """Two runs side by side: ``{section: {name: [a, b]}}`` for what differs, plus both ids."""
    a, b = show(run_a, where), show(run_b, where)

    def side_by_side(left: dict[str, Any], right: dict[str, Any]) -> dict[str, list[Any]]:
        names = list(dict.fromkeys([*left, *right]))
        return {n: [left.get(n), right.get(n)] for n in names if left.get(n) != right.get(n)}

    stage_status = {s["name"]: s["status"] for s in a["stages"]}
    other_status = {s["name"]: s["status"] for s in b["stages"]}
    return {
        "a": a["run_id"],
        "b": b["run_id"],
        "parameters": side_by_side(a["parameters"], b["parameters"]),
        "metrics": side_by_side(a["metrics"], b["metrics"]),
        "code": side_by_side(
            {"pipeline": a["pipeline"], "version": a["version"], **a["code"]},
            {"pipeline": b["pipeline"], "version": b["version"], **b["code"]},
        ),
        "data": side_by_side(a.get("data", {}), b.get("data", {})),
        "stages": side_by_side(stage_status, other_status),
        "environment": side_by_side(
            {"python": a["environment"].get("python"), **a["environment"].get("packages", {})},
            {"python": b["environment"].get("python"), **b["environment"].get("packages", {})},
        ),
    }


def run_graph(run_ref: str = "latest", where: str | Path | None = None) -> dict[str, Any]:
    """``show`` plus each stage's upstream stages (``"after"``) within the run, read from the
    compiled pipeline's manifest; a run whose compiled folder is gone keeps no edges."""
    import json

    run = show(run_ref, where)
    edges: dict[str, list[str]] = {}
    if run.get("compiled"):
        try:
            manifest = json.loads((Path(run["compiled"]) / "pipeline.json").read_text())
            edges = {s["name"]: list(s.get("after", [])) for s in manifest.get("stages", [])}
        except (OSError, ValueError, KeyError, TypeError):
            pass
    names = {stage["name"] for stage in run["stages"]}
    for stage in run["stages"]:
        stage["after"] = [u for u in edges.get(stage["name"], []) if u in names]
    return run


def metric_steps(
    run_ref: str = "latest", keys: list[str] | None = None, where: str | Path | None = None
) -> dict[str, dict[str, list[Any]]]:
    """``{key: {"steps": [...], "values": [...]}}`` in logging order: ``metrics`` without a dict
    and a timestamp per point, for charts of long series (100,000 points in ~0.2 s, not ~0.5 s).
    A step logged as None stays None; NaN (stored as NULL) comes back as NaN."""
    with _store(where) as store:
        return store.metric_steps(store.resolve_run(run_ref), keys)


def stage_notebook(run_ref: str, stage: str, where: str | Path | None = None) -> Path:
    """The executed notebook of one stage of a run, a file inside the store's ``runs/``.

    The path comes from the store's database, which a copied project folder can bring along:
    a path that leads anywhere else is refused rather than read.
    """
    import os

    from .errors import RefusedError

    run = show(run_ref, where)
    found = next((s for s in run["stages"] if s["name"] == stage), None)
    if found is None:
        raise NotFoundError(f"run {run['run_id']} has no stage '{stage}'.")
    path = found.get("notebook")
    if not path or not os.path.isfile(path):
        raise NotFoundError(
            f"stage '{stage}' of run {run['run_id']} has no executed notebook ({found['status']})."
        )
    runs_dir = os.path.realpath(find_home(Path(where) if where else Path.cwd()) / "runs")
    real = os.path.realpath(path)
    if os.path.commonpath([runs_dir, real]) != runs_dir:
        raise RefusedError(f"the executed notebook of stage '{stage}' is outside the store.")
    return Path(real)


def gc(
    dry_run: bool = False,
    where: str | Path | None = None,
    *,
    keep_last: int | None = None,
    older_than: str | float | None = None,
) -> dict[str, Any]:
    """Remove the runs beyond the newest ``keep_last`` and/or started more than ``older_than``
    ago (``"30d"``, or seconds; a run both select is removed), never a run still going or one a
    kept run's cached stages came from; then the objects and temp files nothing kept needs. The
    ``mlops gc --json`` object: ``{"dry_run", "runs", "kept", "run_folders", "objects",
    "temp_files", "freed_bytes"}`` (``store/gc.py`` says exactly what is kept)."""
    from .store.gc import collect, parse_age

    if keep_last is not None and keep_last < 0:
        raise MlopsError(f"--keep-last must be 0 or more, not {keep_last}.")
    age = None if older_than is None else parse_age(older_than)
    try:
        store = _store(where)
    except NotFoundError:
        return _nothing_collected(dry_run)
    with store:
        return collect(store, keep_last=keep_last, older_than=age, dry_run=dry_run)


def remove_runs(
    run_refs: list[str], *, dry_run: bool = False, where: str | Path | None = None
) -> dict[str, Any]:
    """``mlops runs rm``: remove these runs (ids, unique prefixes or ``latest``), refusing any
    still going, then what only they needed; the same object as :func:`gc` returns."""
    from .store.gc import collect

    with _store(where, looking_for=f"no run '{run_refs[0] if run_refs else ''}': ") as store:
        ids = [store.resolve_run(ref) for ref in run_refs]
        return collect(store, runs=ids, dry_run=dry_run)


def doctor(where: str | Path | None = None) -> dict[str, Any]:
    """Check the store serving ``where`` (``mlops doctor --json``): ``{"store", "healthy",
    "findings": [{"check", "severity", "problem", "fix", "examples"}]}``; ``healthy`` is False
    when any finding is a ``problem`` (a ``note`` is harmless). Kernel folders that runs killed
    outright left in the temp folder are findings too."""
    from .runner.kernels import dead_kernel_dirs
    from .store.doctor import check, finding

    home = find_home(Path(where) if where else Path.cwd())
    if not os.path.lexists(home):
        raise NotFoundError(
            f"there is no store at {home} to check.",
            hint="Run a notebook first (`mlops run NOTEBOOK`), or set MLOPS_HOME.",
        )
    found = check(home)
    folders = dead_kernel_dirs()
    if folders:
        found.append(
            finding(
                "kernel folders",
                f"{len(folders)} kernel folders in the temp folder belong to runs whose process "
                "is gone.",
                "The next `mlops run` that starts a kernel removes them.",
                [str(f) for f in folders],
            )
        )
    healthy = not any(f["severity"] == "problem" for f in found)
    return {"store": str(home), "healthy": healthy, "findings": found}


def _nothing_collected(dry_run: bool) -> dict[str, Any]:
    none = {"count": 0, "bytes": 0}
    return {
        "dry_run": dry_run,
        "runs": [],
        "kept": [],
        "run_folders": dict(none),
        "objects": dict(none),
        "temp_files": dict(none),
        "freed_bytes": 0,
    }


# -- exports (export/): `mlops export airflow|kfp|docker`


def export(
    kind: str,
    target: str | Path,
    output: str | Path,
    *,
    force: bool = False,
    image: str | None = None,
    schedule: str | None = None,
) -> dict[str, Any]:
    """Write the pipeline of ``target`` (a notebook, compiled first, or a compiled folder) for
    another orchestrator (``mlops export KIND --json``). A notebook that does not compile is the
    compiler's error; ``schedule`` names a schedule whose cron an Airflow DAG fires on."""
    from .export import exporters
    from .runner.plan import load_plan

    exporter = exporters.get(kind)  # an unknown kind says so before anything is compiled
    path = Path(target)
    if kind == "docker" and not path.exists() and _is_model_ref(str(target)):
        from .export.docker import export_model

        with _store(None, looking_for=f"no model '{target}': ") as store:
            home = store.home
        result = export_model(home, str(target), Path(output), {"force": force})
        return {**result.to_dict_model(str(target))}
    folder = path if path.is_dir() else Path(compile(path)["output"])
    options: dict[str, Any] = {"force": force}
    if image:
        options["image"] = image
    if schedule:
        options["schedule"] = schedule_show(schedule, path)
    plan = load_plan(folder)
    return exporter(plan, Path(output), options).to_dict(plan)


def _is_model_ref(text: str) -> bool:
    """``NAME@ALIAS`` or ``NAME@V``: what `mlops export docker` takes besides a notebook or a
    folder (a bare name could be a misspelt path, so the ``@`` is required)."""
    from .tracking import models as registry

    if "@" not in text or text.endswith(".ipynb"):
        return False
    try:
        registry.parse_ref(text)
    except MlopsError:
        return False
    return True


# -- schedules (schedule/): `mlops schedule ...` and `mlops scheduler`


def _schedule_home(where: str | Path | None, name: str) -> Path:
    """The store holding schedule ``name``; asking about one where there is no store creates
    nothing."""
    home = find_home(Path(where) if where else Path.cwd())
    check_home(home)
    if not (home / "mlops.db").exists():
        raise NotFoundError(
            f"no schedule named '{name}' (no store at {home}).",
            hint="Add one with mlops schedule add NAME NOTEBOOK --cron '0 2 * * *'.",
        )
    return home


def schedule_add(
    name: str,
    target: str | Path,
    *,
    cron: str,
    parameters: dict[str, Any] | None = None,
    tz: str | None = None,
    catch_up: str = "latest",
    max_catch_up: int = 10,
    overlap: str = "skip",
    pin: bool = False,
    on_failure: str | None = None,
    home: str | Path | None = None,
) -> dict[str, Any]:
    """Add a schedule to the store the target's runs use (``mlops schedule add --json``), or to
    ``home`` when the caller decides the store (the server: one inside its root). Everything is
    checked first (parameters as ``mlops run -p`` checks them); nothing is written for bad
    input; a name already taken is a ConflictError."""
    from .schedule.model import add

    if home is None:
        _check_store_place(target)
    return add(
        Path(home) if home is not None else find_home(target),
        name,
        target,
        cron_expr=cron,
        parameters=parameters,
        tz=tz,
        catch_up=catch_up,
        max_catch_up=max_catch_up,
        overlap=overlap,
        pin=pin,
        on_failure=on_failure,
    )


def schedule_export(name: str, kind: str, where: str | Path | None = None) -> str:
    """``mlops schedule export NAME --crontab|--systemd``: text that makes the machine's own
    scheduler call ``mlops scheduler --once`` at the schedule's times."""
    from .schedule.export import export
    from .store.db import Store
    from .store.schedules import get_schedule

    home = _schedule_home(where, name)
    with Store(home) as store:
        row = get_schedule(store, name)
    return export(row, kind, home)


def cron_times(expr: str, tz: str | None = None, count: int = 5) -> dict[str, Any]:
    """The next ``count`` fire times of a cron expression (what the panel shows as it is typed):
    ``{"cron", "tz", "next": [ISO, ...]}``; a bad expression or zone is an MlopsError."""
    import time

    from .schedule import cron

    text = cron.check_cron(expr)
    zone = cron.check_zone(tz)
    times: list[str] = []
    after = time.time()
    for _ in range(count):
        after = cron.next_after(text, zone, after)
        times.append(str(cron.iso(after, zone)))
    return {"cron": text, "tz": zone, "next": times}


def schedules(where: str | Path | None = None) -> list[dict[str, Any]]:
    """Every schedule, by name (``mlops schedule list --json``); none where there is no store."""
    from .schedule.model import to_json
    from .store.schedules import list_schedules

    home = find_home(Path(where) if where else Path.cwd())
    check_home(home)
    if not (home / "mlops.db").exists():
        return []
    from .store.db import Store

    with Store(home) as store:
        return [to_json(row) for row in list_schedules(store)]


def schedule_show(name: str, where: str | Path | None = None) -> dict[str, Any]:
    from .schedule.model import to_json
    from .store.db import Store
    from .store.schedules import get_schedule

    with Store(_schedule_home(where, name)) as store:
        return to_json(get_schedule(store, name))


def schedule_enable(name: str, enabled: bool, where: str | Path | None = None) -> dict[str, Any]:
    """``mlops schedule pause`` (False) / ``resume`` (True)."""
    from .schedule.model import set_enabled

    return set_enabled(_schedule_home(where, name), name, enabled)


def schedule_remove(name: str, where: str | Path | None = None) -> dict[str, Any]:
    """Remove a schedule and its fire history; the runs it started stay."""
    from .store.db import Store
    from .store.schedules import remove_schedule

    with Store(_schedule_home(where, name)) as store:
        remove_schedule(store, name)
    return {"removed": name}


def schedule_history(name: str, where: str | Path | None = None) -> list[dict[str, Any]]:
    """The schedule's fires, newest first (``mlops schedule history --json``)."""
    from .schedule.model import fire_json
    from .store.db import Store
    from .store.schedules import get_schedule, history

    with Store(_schedule_home(where, name)) as store:
        tz = get_schedule(store, name)["tz"]
        return [fire_json(fire, tz) for fire in history(store, name)]


def scheduler(
    where: str | Path | None = None,
    *,
    once: bool = False,
    poll: float = 5.0,
    lease: float | None = None,
    clock: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Run the scheduler loop on the store serving ``where`` until SIGTERM / Ctrl-C (``once``:
    fire what is due now, wait for those runs, return). Returns ``{"fired": N}``."""
    import time

    from .schedule.loop import LEASE_S, Scheduler

    home = find_home(Path(where) if where else Path.cwd())
    check_home(home)
    loop = Scheduler(
        home, clock=clock or time.time, poll=poll, lease=LEASE_S if lease is None else lease
    )
    loop.run(once=once)
    return {"fired": len(loop.fired)}


# -- the model registry (tracking/models.py): `mlops models`, `mlops model show|alias|promote`


def models(
    where: str | Path | None = None, *, notebook: str | Path | None = None
) -> list[dict[str, Any]]:
    """``[{"name", "versions", "latest", "aliases": {alias: version}}]`` (``mlops models
    --json``); ``notebook``: only the models versions of which that notebook's runs logged."""
    from .tracking import models as registry

    try:
        store = _store(where or notebook)
    except NotFoundError:
        return []  # no store yet: no models
    with store:
        found = registry.list_models(store)
        if notebook is not None:
            logged = store.models_of_notebook(str(Path(notebook).resolve()))
            found = [m for m in found if m["name"] in logged]
        return found


def model(name: str, where: str | Path | None = None) -> dict[str, Any]:
    """One model whole: ``{"name", "latest", "aliases", "versions": [model_show records,
    newest first], "moves": [alias moves, oldest first]}`` (the models views)."""
    from .tracking import models as registry

    registry.parse_ref(name)
    with _store(where, looking_for=f"no model '{name}': ") as store:
        registry.resolve(store, name)
        numbers = store.model_version_numbers(name)
        versions = [store.model_version(name, v) for v in reversed(numbers)]
        summary = next(m for m in store.model_summaries() if m["name"] == name)
        return {
            "name": name,
            "latest": summary["latest"],
            "aliases": summary["aliases"],
            "versions": versions,
            "moves": registry.history(store, name),
        }


def model_show(ref: str, where: str | Path | None = None) -> dict[str, Any]:
    """One version (``NAME``, ``NAME@3``, ``NAME@ALIAS``) with its lineage and signature."""
    from .tracking import models as registry

    registry.parse_ref(ref)
    with _store(where, looking_for=f"no model '{ref}': ") as store:
        return registry.show(store, ref)


def model_alias(
    ref: str, alias: str, *, reason: str | None = None, where: str | Path | None = None
) -> dict[str, Any]:
    """Point ``alias`` at the version ``ref`` names, with no requirements (recorded)."""
    from .tracking import models as registry

    registry.parse_ref(ref)
    registry.check_alias(alias)
    with _store(where, looking_for=f"no model '{ref}': ") as store:
        return registry.set_alias(store, ref, alias, reason)


def model_promote(
    ref: str,
    alias: str,
    *,
    requires: list[str] | tuple[str, ...] = (),
    reason: str | None = None,
    where: str | Path | None = None,
) -> dict[str, Any]:
    """Move ``alias`` to ``ref`` if its run succeeded and every requirement holds; the result
    says which held (``"moved"`` False: nothing changed)."""
    from .tracking import models as registry

    registry.parse_ref(ref)
    registry.check_alias(alias)
    for text in requires:
        registry.parse_requirement(text)
    with _store(where, looking_for=f"no model '{ref}': ") as store:
        return registry.promote(store, ref, alias, list(requires), reason)


def model_history(name: str, where: str | Path | None = None) -> list[dict[str, Any]]:
    """Every recorded move of the model's aliases (who, when, from, to, why), oldest first."""
    from .tracking import models as registry

    registry.parse_ref(name)
    with _store(where, looking_for=f"no model '{name}': ") as store:
        return registry.history(store, name)


# -- serving (serve/): `mlops serve`, `mlops monitor`


def serve(
    ref: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    token: str | None = None,
    sample: float = 1.0,
    poll: float = 2.0,
    max_body: int | None = None,
    where: str | Path | None = None,
    ready: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Serve the version ``ref`` names (following its alias) until stopped. Bad input — an
    unknown model, a sample outside 0..1, a port out of range — is an MlopsError before
    anything listens; ``ready`` gets what is served just before the server starts."""
    from .tracking import models as registry

    registry.parse_ref(ref)
    if not 0.0 <= sample <= 1.0:
        raise MlopsError(f"--sample is a share of requests from 0 to 1, not {sample}.")
    if not 0 <= port <= 65535:
        raise MlopsError(f"--port must be from 0 to 65535, not {port}.")
    if workers < 1:
        raise MlopsError(f"--workers must be at least 1, not {workers}.")
    if poll <= 0:
        raise MlopsError(f"--poll must be a number of seconds above 0, not {poll}.")
    if max_body is not None and max_body < 1:
        raise MlopsError(f"--max-body must be a number of bytes above 0, not {max_body}.")
    if token is not None and not token.strip():
        raise MlopsError("the token is empty.", hint="Give a token, or leave --token out.")
    with _store(where, looking_for=f"no model '{ref}': ") as store:
        name, version = registry.resolve(store, ref)
        home = store.home
    try:
        from .serve import app
    except ImportError as exc:  # fastapi or uvicorn missing
        raise MlopsError(
            f"mlops serve runs on FastAPI and uvicorn, which are not installed ({exc}).",
            hint='pip install "mlops-jupyter[serve]"',
        ) from None
    if ready is not None:
        ready({"model": name, "version": version, "host": host, "port": port, "home": str(home)})
    config = app.Config(
        str(home), ref, token.strip() if token else None, sample, poll, max_body or app.MAX_BODY
    )
    app.run(config, host=host, port=port, workers=workers)


def monitor(
    ref: str,
    *,
    window: str | float = "1h",
    where: str | Path | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """``mlops monitor --json``: requests, errors, latency, input drift against the training
    data and prediction shift of the version ``ref`` names, over the last ``window``."""
    from .serve import monitor as monitoring
    from .store.gc import parse_age
    from .tracking import models as registry

    registry.parse_ref(ref)
    seconds = parse_age(window)
    if seconds <= 0:
        raise MlopsError(f"--window must be longer than 0, not {window!r}.")
    with _store(where, looking_for=f"no model '{ref}': ") as store:
        return monitoring.report(store, ref, window=seconds, now=now)
