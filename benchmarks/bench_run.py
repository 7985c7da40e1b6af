#!/usr/bin/env python3
"""Run benchmark: `mlops run` beside papermill on the same cells, whole processes, in one run.

Every scenario runs the same trivial cells two ways: as a tagged pipeline notebook with
``mlops run NB --json`` (each stage in its own fresh kernel), and as one plain notebook with
``papermill single.ipynb out.ipynb`` (all cells in one kernel). Repetitions are interleaved: each
round runs every measurement once, in a rotating order, so drift and load hit all of them alike.
Every ``mlops run`` gets its own fresh ``MLOPS_HOME`` temp dir, except where the scenario needs a
warm store (the reruns).

  (1) first run (nothing cached) of a 4-stage diamond  load -> left, right -> join;
  (2) a rerun with nothing changed (warm store: every stage must be "cached");
  (3) a rerun after editing the last stage (warm store: exactly ``join`` "succeeded", the rest
      "cached"; each round makes a new edit, so it is never a cache hit);
  (4) first run of a 20-stage chain (each stage reads the previous stage's value);
  (5) floors: ``python -c pass`` and ``mlops --help``.

Each executed stage of every mlops run in (1), (3) and (4) is also placed on a timeline from the run's JSON
(``started_at``/``ended_at``) and its executed notebook (papermill's per-cell start/end times):
how long a stage waited for its kernel, ran its cells, and wrote its results, against the
process's wall time.

Run it with the project's venv:

    .venv/bin/python benchmarks/bench_run.py             # ~2 min; writes benchmarks/results/run.json

Targets: (1) mlops / papermill <= 1.0; (2) <= 0.5 s; exit 1 if one is missed. Checks (the
benchmark stops with exit 1 when one fails): every run succeeds, (2) is all cached, (3) runs
exactly the edited stage. The commit, whether the tree is dirty, and a hash of every package
source file are taken before and after; a warning (and ``changed_during_run`` in the JSON) says
when the code changed under the benchmark.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _notebooks  # noqa: E402
from _common import code_version, fmt, machine, now, run_rounds, stats, tool  # noqa: E402

TARGET_FIRST_RUN_RATIO = 1.0
TARGET_RERUN_S = 0.5
CHAIN_LENGTH = 20


def _package_files() -> dict[str, str]:
    """sha256 of each source file of the package, to notice code changing while the benchmark runs."""
    import hashlib

    import mlops_jupyter

    root = Path(mlops_jupyter.__file__).resolve().parent
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*.py"))
    }


def _fingerprint(files: dict[str, str]) -> str:
    import hashlib

    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def _stamp(iso: str) -> float:
    """An ISO time from mlops or papermill (``...Z`` or ``...+00:00``) as a POSIX timestamp."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


class Failure(Exception):
    """A measured command failed or produced the wrong result: the benchmark is not valid."""


def _process(
    cmd: list[str], cwd: Path, env: dict[str, str] | None = None
) -> tuple[float, float, float, str]:
    """Run a whole process; (wall seconds, spawn time, exit time, stdout)."""
    spawn = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    end = time.time()
    if proc.returncode != 0:
        raise Failure(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return wall, spawn, end, proc.stdout


# -- timelines ----------------------------------------------------------------------------------


def _cell_span(notebook: Path) -> tuple[float, float] | None:
    """(first cell start, last cell end) from papermill's metadata in an executed notebook."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
        times = [c["metadata"]["papermill"] for c in cells if c.get("cell_type") == "code"]
        return _stamp(times[0]["start_time"]), _stamp(times[-1]["end_time"])
    except (OSError, KeyError, IndexError, TypeError, ValueError):
        return None


def _mlops_timeline(run: dict[str, Any], spawn: float, end: float) -> dict[str, Any]:
    """Offsets from process spawn: run start/end, and per executed stage submit -> kernel ready ->
    cells done -> recorded. ``wait`` is submit to first cell (kernel boot/handshake, papermill import)."""
    stages = []
    for s in run["stages"]:
        row: dict[str, Any] = {"name": s["name"], "status": s["status"]}
        if s["status"] == "succeeded":
            started, ended = _stamp(s["started_at"]) - spawn, _stamp(s["ended_at"]) - spawn
            row.update(submitted=started, ended=ended)
            span = _cell_span(Path(s["notebook"])) if s.get("notebook") else None
            if span:
                first, last = span[0] - spawn, span[1] - spawn
                row.update(
                    first_cell=first,
                    last_cell_end=last,
                    wait=first - started,
                    cells=last - first,
                    after_cells=ended - last,
                )
        stages.append(row)
    ran = [r for r in stages if "wait" in r]
    return {
        "process_s": end - spawn,
        "run_started": _stamp(run["started_at"]) - spawn,
        "run_ended": _stamp(run["ended_at"]) - spawn,
        "exit_after_run_end": end - _stamp(run["ended_at"]),
        "stages": stages,
        "sum_wait_s": sum(r["wait"] for r in ran),
        "sum_cells_s": sum(r["cells"] for r in ran),
        "sum_after_cells_s": sum(r["after_cells"] for r in ran),
    }


def _papermill_timeline(out: Path, spawn: float, end: float) -> dict[str, Any]:
    span = _cell_span(out)
    if not span:
        return {"process_s": end - spawn}
    return {
        "process_s": end - spawn,
        "first_cell": span[0] - spawn,
        "last_cell_end": span[1] - spawn,
        "exit_after_last_cell": end - span[1],
    }


def _statuses(run: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run["stages"]}


# -- the measurements ---------------------------------------------------------------------------


class Bench:
    def __init__(self, work: Path, mlops: str, papermill: str) -> None:
        self.work, self.mlops, self.papermill = work, mlops, papermill
        names = [s for s, _ in _notebooks.diamond_stages()]
        self.diamond_names = names
        self.diamond, self.diamond_single = _notebooks.write_pair(
            work / "diamond", "diamond", _notebooks.diamond_stages()
        )
        self.chain, self.chain_single = _notebooks.write_pair(
            work / "chain", "chain", _notebooks.chain_stages(CHAIN_LENGTH)
        )
        # the edit scenario has its own folder and warm store; the notebook keeps the name
        # "diamond" so it is the same pipeline, edited
        self.edit_nb, _ = _notebooks.write_pair(
            work / "edit", "diamond", _notebooks.diamond_stages()
        )
        self.rerun_home = work / "homes" / "rerun"
        self.edit_home = work / "homes" / "edit"
        self.count = 0
        self.samples: dict[str, list[float]] = {}
        self.timelines: dict[str, list[dict[str, Any]]] = {}

    def _home(self) -> Path:
        self.count += 1
        return Path(tempfile.mkdtemp(prefix=f"home-{self.count}-", dir=self.work / "homes"))

    def _mlops_run(self, nb: Path, home: Path) -> tuple[float, float, float, dict[str, Any]]:
        env = {**os.environ, "MLOPS_HOME": str(home)}
        wall, spawn, end, out = _process([self.mlops, "run", str(nb), "--json"], nb.parent, env)
        run = json.loads(out)
        if run["status"] != "succeeded":
            raise Failure(f"mlops run {nb.name}: {run['status']}: {run.get('error')}")
        return wall, spawn, end, run

    def _papermill_run(self, nb: Path) -> tuple[float, float, float, Path]:
        self.count += 1
        out = nb.parent / f"out-{self.count}.ipynb"
        wall, spawn, end, _ = _process([self.papermill, str(nb), str(out)], nb.parent)
        return wall, spawn, end, out

    def _add(self, key: str, wall: float, timeline: dict[str, Any] | None = None) -> None:
        self.samples.setdefault(key, []).append(wall)
        if timeline is not None:
            self.timelines.setdefault(key, []).append(timeline)

    # each measurement: one repetition

    def papermill_diamond(self) -> None:
        wall, spawn, end, out = self._papermill_run(self.diamond_single)
        self._add("papermill_diamond", wall, _papermill_timeline(out, spawn, end))

    def mlops_first(self) -> None:
        wall, spawn, end, run = self._mlops_run(self.diamond, self._home())
        if set(_statuses(run).values()) != {"succeeded"}:
            raise Failure(f"first run: expected every stage succeeded, got {_statuses(run)}")
        self._add("mlops_diamond_first", wall, _mlops_timeline(run, spawn, end))

    def warm(self) -> None:
        """Untimed: fill both warm stores with a first run of the diamond."""
        self._mlops_run(self.diamond, self.rerun_home)
        self._mlops_run(self.edit_nb, self.edit_home)

    def mlops_rerun(self) -> None:
        wall, _, _, run = self._mlops_run(self.diamond, self.rerun_home)
        if set(_statuses(run).values()) != {"cached"}:
            raise Failure(
                f"rerun with nothing changed: expected every stage cached, got {_statuses(run)}"
            )
        self._add("mlops_diamond_rerun", wall)

    def mlops_edit(self) -> None:
        self.count += 1  # a new edit every time: never a cache hit for `join`
        stages = _notebooks.diamond_stages(join_extra=f"print('edit', {self.count})")
        _notebooks.write_pair(self.edit_nb.parent, "diamond", stages)
        wall, spawn, end, run = self._mlops_run(self.edit_nb, self.edit_home)
        got = _statuses(run)
        want = {name: ("succeeded" if name == "join" else "cached") for name in self.diamond_names}
        if got != want:
            raise Failure(f"rerun after editing `join`: expected {want}, got {got}")
        self._add("mlops_diamond_edit_last", wall, _mlops_timeline(run, spawn, end))

    def papermill_chain(self) -> None:
        wall, spawn, end, out = self._papermill_run(self.chain_single)
        self._add("papermill_chain20", wall, _papermill_timeline(out, spawn, end))

    def mlops_chain(self) -> None:
        wall, spawn, end, run = self._mlops_run(self.chain, self._home())
        statuses = _statuses(run)
        if len(statuses) != CHAIN_LENGTH or set(statuses.values()) != {"succeeded"}:
            raise Failure(
                f"chain first run: expected {CHAIN_LENGTH} stages succeeded, got {statuses}"
            )
        self._add("mlops_chain20_first", wall, _mlops_timeline(run, spawn, end))

    def python_pass(self) -> None:
        self._add("python_pass", _process([sys.executable, "-c", "pass"], self.work)[0])

    def mlops_help(self) -> None:
        self._add("mlops_help", _process([self.mlops, "--help"], self.work)[0])


def _median_timeline(timelines: list[dict[str, Any]]) -> dict[str, Any]:
    """The repetition whose process time is the median one (a real run, not a blend)."""
    ordered = sorted(timelines, key=lambda t: t["process_s"])
    return ordered[(len(ordered) - 1) // 2]


def _phase_medians(timelines: list[dict[str, Any]]) -> dict[str, float]:
    keys = [
        "process_s",
        "run_started",
        "run_ended",
        "exit_after_run_end",
        "sum_wait_s",
        "sum_cells_s",
        "sum_after_cells_s",
        "first_cell",
        "last_cell_end",
        "exit_after_last_cell",
    ]
    return {
        k: statistics.median(t[k] for t in timelines)
        for k in keys
        if all(k in t for t in timelines)
    }


def _print_timeline(title: str, t: dict[str, Any]) -> None:
    print(f"\n{title}  (seconds from process spawn; wait = submitted -> first cell)")
    print(f"  run started (imports, compile, store, environment): {t['run_started']:6.3f}")
    print(
        f"  {'stage':<8} {'submitted':>9} {'1st cell':>9} {'cells end':>9} {'recorded':>9} "
        f"{'wait':>7} {'cells':>7} {'after':>7}"
    )
    for r in t["stages"]:
        if "wait" in r:
            print(
                f"  {r['name']:<8} {r['submitted']:9.3f} {r['first_cell']:9.3f} {r['last_cell_end']:9.3f} "
                f"{r['ended']:9.3f} {r['wait']:7.3f} {r['cells']:7.3f} {r['after_cells']:7.3f}"
            )
        else:
            print(f"  {r['name']:<8} {r['status']}")
    print(
        f"  run ended (kernels closed, run recorded): {t['run_ended']:6.3f}   "
        f"process exit: {t['process_s']:6.3f}  (+{t['exit_after_run_end']:.3f} after run end)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description="mlops run benchmark (vs papermill)")
    parser.add_argument(
        "--runs", type=int, default=7, help="timed rounds (each measures everything once)"
    )
    parser.add_argument(
        "--json", default=str(HERE / "results" / "run.json"), help="where to write results"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep the temp folder (notebooks, stores)"
    )
    args = parser.parse_args()
    if args.runs < 5:
        parser.error("--runs must be at least 5")

    mlops, papermill = tool("mlops"), tool("papermill")
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-run-"))
    (work / "homes").mkdir()
    load_start = os.getloadavg()
    round_loads: list[float] = []
    code_start, files_start = code_version(), _package_files()
    fingerprint_start = _fingerprint(files_start)
    started = time.perf_counter()
    bench = Bench(work, mlops, papermill)
    measurements: list[Callable[[], None]] = [
        bench.papermill_diamond,
        bench.mlops_first,
        bench.mlops_rerun,
        bench.mlops_edit,
        bench.papermill_chain,
        bench.mlops_chain,
        bench.python_pass,
        bench.mlops_help,
    ]
    try:
        print(
            f"notebooks in {work}: diamond (4 stages), chain ({CHAIN_LENGTH} stages), each also as one notebook"
        )
        bench.warm()

        def reset() -> None:  # what the warm-up round recorded
            bench.samples.clear()
            bench.timelines.clear()

        round_loads += run_rounds(measurements, args.runs, started, reset)
    except Failure as exc:
        print(f"\nFAILED: {exc}", file=sys.stderr)
        print(f"(temp folder kept: {work})", file=sys.stderr)
        return 1
    load_end = os.getloadavg()
    code_end, files_end = code_version(), _package_files()
    fingerprint_end = _fingerprint(files_end)
    changed_files = sorted(
        f for f in files_start.keys() | files_end.keys() if files_start.get(f) != files_end.get(f)
    )
    code_changed = bool(changed_files)  # a new commit that leaves the package alone is fine
    elapsed = time.perf_counter() - started

    results = {k: stats(v) for k, v in bench.samples.items()}
    med = {k: float(v["median_s"]) for k, v in results.items()}  # type: ignore[arg-type]
    ratios = {
        "diamond_first_mlops_over_papermill": med["mlops_diamond_first"] / med["papermill_diamond"],
        "diamond_rerun_mlops_over_papermill": med["mlops_diamond_rerun"] / med["papermill_diamond"],
        "diamond_edit_last_mlops_over_papermill": med["mlops_diamond_edit_last"]
        / med["papermill_diamond"],
        "chain20_first_mlops_over_papermill": med["mlops_chain20_first"] / med["papermill_chain20"],
    }
    targets = {
        "diamond_first_ratio_le_1": ratios["diamond_first_mlops_over_papermill"]
        <= TARGET_FIRST_RUN_RATIO,
        "rerun_le_0_5s": med["mlops_diamond_rerun"] <= TARGET_RERUN_S,
    }

    rows = [
        ("(1) papermill diamond_single.ipynb (5 cells)", "papermill_diamond", None),
        (
            "(1) mlops run diamond.ipynb, first run",
            "mlops_diamond_first",
            "diamond_first_mlops_over_papermill",
        ),
        (
            "(2) mlops run, rerun, nothing changed",
            "mlops_diamond_rerun",
            "diamond_rerun_mlops_over_papermill",
        ),
        (
            "(3) mlops run, rerun after editing `join`",
            "mlops_diamond_edit_last",
            "diamond_edit_last_mlops_over_papermill",
        ),
        (f"(4) papermill chain_single.ipynb ({CHAIN_LENGTH + 1} cells)", "papermill_chain20", None),
        (
            f"(4) mlops run chain.ipynb ({CHAIN_LENGTH} stages), first run",
            "mlops_chain20_first",
            "chain20_first_mlops_over_papermill",
        ),
        ("(5) python -c pass", "python_pass", None),
        ("(5) mlops --help", "mlops_help", None),
    ]
    print()
    print(
        f"{'measurement (whole processes)':<52} {'median':>11} {'min':>11} {'max':>11} {'vs papermill':>13}  runs"
    )
    for label, key, ratio in rows:
        r = results[key]
        rtxt = f"{ratios[ratio]:.2f}x" if ratio else ""
        low, high = float(r["min_s"]), float(r["max_s"])  # type: ignore[arg-type]
        print(
            f"{label:<52} {fmt(med[key]):>11} {fmt(low):>11} {fmt(high):>11} {rtxt:>13}  {r['runs']}"
        )

    timelines: dict[str, dict[str, Any]] = {
        k: {"median_run": _median_timeline(v), "phase_medians": _phase_medians(v), "all": v}
        for k, v in bench.timelines.items()
    }
    _print_timeline(
        "diamond first run, the median repetition", timelines["mlops_diamond_first"]["median_run"]
    )
    pm = timelines["papermill_diamond"]["phase_medians"]
    if "first_cell" in pm:
        print(
            f"papermill diamond (medians): first cell at {pm['first_cell']:.3f}, last cell ends "
            f"{pm['last_cell_end']:.3f}, process exit {pm['process_s']:.3f}"
        )
    ch = timelines["mlops_chain20_first"]["phase_medians"]
    print(
        f"chain, {CHAIN_LENGTH} stages (medians): run started {ch['run_started']:.3f}, run ended "
        f"{ch['run_ended']:.3f}, exit {ch['process_s']:.3f}; summed over stages: wait "
        f"{ch['sum_wait_s']:.3f}, cells {ch['sum_cells_s']:.3f}, after cells {ch['sum_after_cells_s']:.3f}"
    )
    pc = timelines["papermill_chain20"]["phase_medians"]
    if "first_cell" in pc:
        print(
            f"papermill chain (medians): first cell at {pc['first_cell']:.3f}, last cell ends "
            f"{pc['last_cell_end']:.3f}, process exit {pc['process_s']:.3f}"
        )

    print()
    print(
        f"mlops first run minus papermill: {med['mlops_diamond_first'] - med['papermill_diamond']:+.3f} s; "
        f"rerun minus python floor: {fmt(med['mlops_diamond_rerun'] - med['python_pass']).strip()}"
    )
    for name, ok in targets.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")
    print("checks: every run succeeded; rerun all cached; edit rerun ran only `join`: passed")
    if code_changed:
        print(
            f"WARNING: mlops_jupyter changed during the benchmark ({code_start.get('commit')} -> "
            f"{code_end.get('commit')}; files: {', '.join(changed_files) or 'none'}): the figures "
            "may mix two versions of the code; run it again",
            flush=True,
        )
    print(
        f"code: {code_end.get('commit')}"
        f"{' + uncommitted changes in the package' if code_end.get('uncommitted_files_in_package') else ''}"
        f"{' (tree dirty)' if code_end.get('tree_dirty') else ''}, package fingerprint {fingerprint_end}"
        + (
            f" (HEAD moved from {code_start.get('commit')} during the run)"
            if code_start.get("commit") != code_end.get("commit")
            else ""
        )
    )
    print(
        f"load average (1 min): start {load_start[0]:.2f}, after rounds "
        f"{min(round_loads):.2f}-{max(round_loads):.2f}; "
        f"{elapsed:.0f} s in all"
    )

    report = {
        "benchmark": "run",
        "date": now(),
        "machine": machine(
            loadavg_at_start=load_start,
            loadavg_at_end=load_end,
            loadavg_1min_after_each_round=round_loads,
        ),
        "code": {
            **code_end,
            "package_fingerprint": fingerprint_end,
            "changed_during_run": code_changed,
            "files_changed_during_run": changed_files,
            "at_start": {**code_start, "package_fingerprint": fingerprint_start},
        },
        "commands": {
            "mlops": "mlops run NB --json  (fresh MLOPS_HOME per run; warm store for the reruns)",
            "papermill": "papermill SINGLE.ipynb OUT.ipynb",
        },
        "notebooks": {
            "diamond": {
                "stages": bench.diamond_names,
                "edges": "load -> left, right -> join",
                "single_cells": 1 + len(bench.diamond_names),
            },
            "chain": {"stages": CHAIN_LENGTH, "single_cells": 1 + CHAIN_LENGTH},
            "parameters_cell": _notebooks.PARAMETERS,
            "generator": "benchmarks/_notebooks.py",
        },
        "rounds": args.runs,
        "seconds_in_all": elapsed,
        "results": results,
        "ratios": ratios,
        "timelines": timelines,
        "targets": {
            "diamond_first_ratio": TARGET_FIRST_RUN_RATIO,
            "rerun_s": TARGET_RERUN_S,
            "met": targets,
        },
        "checks": {"runs_succeeded": True, "rerun_all_cached": True, "edit_rerun_only_join": True},
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
