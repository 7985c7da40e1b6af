#!/usr/bin/env python3
"""Dask benchmark: ``--executor dask`` beside ``--executor local``, whole processes, in one run.

The notebooks are ``bench_run.py``'s (``_notebooks.py``): the 4-stage diamond
``load -> left, right -> join`` and the 20-stage chain ``s01 -> ... -> s20`` of trivial stages.
Every ``mlops run NB --json`` gets a fresh ``MLOPS_HOME`` (a first run: every stage must be
``succeeded``, none cached). Configurations:

  local      ``--executor local`` (the default executor, ``-j`` = cores);
  lc         ``--executor dask`` with no address: the run starts a LocalCluster (one
             single-threaded worker process per job, ``-j`` = cores) and stops it, inside the
             measured process;
  ext2       ``--executor dask --address A``: a ``dask scheduler`` and two ``dask worker
             --nthreads 1`` processes on 127.0.0.1, started once before the first round and
             stopped after the last (warm workers: their start is *not* in any run's figure);
  ext1       the same with one worker, for the chain only (a chain cannot use two).

and, once a round, ``lc_start_stop``: a child process that makes the run's own
``DaskExecutor(jobs=cores)`` (LocalCluster, client, the workers' warm-up call) and closes it, to
time the cluster's start and stop apart from any stage.

Repetitions are interleaved: each round runs every measurement once, in a rotating order, after
one untimed warm-up round (page cache, ``.pyc`` files, the external workers' first imports).

From each run's JSON (the run's and each stage's ``started_at``/``ended_at``; on Dask a stage's
times are taken on its worker, the same host's clock) and the executed stage notebooks
(papermill's per-cell times):

- **per-stage time (chain)**: ``(ended[s20] - ended[s01]) / 19``: what each of stages 2..20 adds
  to the run, the hand-over between stages included. It splits exactly into the means over
  stages 2..20 of ``gap`` (previous stage ended -> this one started: the run loop records the
  outcome and submits; on Dask, client -> scheduler -> worker thread), ``wait`` (started -> first
  cell: kernel and papermill), ``cells`` (first cell start -> last cell end, the stage notebook's
  cells, mlops's own load/save cells included) and ``after`` (last cell end -> ended: papermill
  writes the notebook, the outputs manifest is read).
- **per-stage overhead over local** = per-stage time (Dask config) - per-stage time (local) in
  the same round, median over rounds (the difference of the two medians is reported too).
  Goal (issue 12): <= 50 ms on trivial stages.
- **start** = first stage started - run started (for Dask: the cluster or the connection, and
  the workers' warm-up call); **close** = run ended - last stage ended (the executor's close:
  kernels, client, the LocalCluster).

Run it with the project's venv:

    .venv/bin/python benchmarks/bench_dask.py            # ~4 min; writes benchmarks/results/dask.json

Exit 1 if a run fails or a check fails (every stage succeeded on a fresh store, stages ran on the
cluster's workers), or the per-stage overhead goal is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
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
from _common import code_version, machine, now, run_rounds, stats, tool, write_results  # noqa: E402
from bench_run import (  # noqa: E402
    Failure,
    _cell_span,
    _fingerprint,
    _package_files,
    _process,
    _stamp,
)

CHAIN_LENGTH = 20
TARGET_OVERHEAD_S = 0.050
# a scheduler of one's own is tuned through its environment, as runner/dask.py tunes its
# LocalCluster (and as tests/runner/test_dask.py starts one)
TUNED = {
    "DASK_DISTRIBUTED__SCHEDULER__WORK_STEALING_INTERVAL": "10ms",
    "DASK_DISTRIBUTED__SCHEDULER__UNKNOWN_TASK_DURATION": "10ms",
}

# the run's own executor, made and closed in a fresh process: what `--executor dask` with no
# address pays before its first stage and after its last
START_STOP = r"""
import json, os, sys, time
t0 = time.perf_counter()
import distributed
t1 = time.perf_counter()
from mlops_jupyter.runner.dask import DaskExecutor
ex = DaskExecutor(jobs=os.cpu_count() or 1, kernel_name="python3", cwd=sys.argv[1])
t2 = time.perf_counter()
ex.close()
t3 = time.perf_counter()
print(json.dumps({"import_distributed_s": t1 - t0, "start_s": t2 - t1, "stop_s": t3 - t2}))
"""


class Cluster:
    """A ``dask scheduler`` and ``workers`` ``dask worker --nthreads 1`` processes on 127.0.0.1,
    each its own process group (a worker's nanny and its process stop together)."""

    def __init__(self, folder: Path, workers: int) -> None:
        folder.mkdir(parents=True)
        self.folder, self.file = folder, folder / "scheduler.json"
        dask = tool("dask")
        env = {**os.environ, **TUNED}
        started = time.perf_counter()
        self.processes = [
            self._start(
                [dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard"],
                env,
                "scheduler",
            )
        ]
        for i in range(workers):
            self.processes.append(
                self._start(
                    [
                        dask,
                        "worker",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--host",
                        "127.0.0.1",
                        "--name",
                        f"w{i + 1}",
                    ],
                    env,
                    f"w{i + 1}",
                )
            )
        try:
            self._wait(workers)
        except BaseException:
            self.stop()
            raise
        self.start_s = time.perf_counter() - started

    def _wait(self, workers: int) -> None:
        from distributed import Client

        deadline = time.monotonic() + 60
        while not self.file.exists():
            if time.monotonic() > deadline:
                raise Failure(f"dask scheduler wrote no {self.file}")
            time.sleep(0.05)
        with Client(scheduler_file=str(self.file), timeout="30s", set_as_default=False) as c:
            c.wait_for_workers(workers, timeout=60)
            self.address = str(c.scheduler.address)
            self.workers = sorted(c.scheduler_info()["workers"])

    def _start(self, command: list[str], env: dict[str, str], name: str) -> subprocess.Popen[bytes]:
        log = open(self.folder / f"{name}.log", "wb")  # noqa: SIM115 (kept for the process)
        return subprocess.Popen(
            [*command, "--scheduler-file", str(self.file)],
            env=env,
            cwd=self.folder,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )

    def stop(self) -> float:
        """SIGTERM to every group, SIGKILL to what is left after 10 s; seconds until all exited."""
        started = time.perf_counter()
        for p in self.processes:
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except OSError:
                pass
        for p in self.processes:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)
        return time.perf_counter() - started


# -- one run's figures, from its JSON and executed notebooks ------------------------------------


def _timeline(run: dict[str, Any], spawn: float, end: float) -> dict[str, Any]:
    started, ended = _stamp(run["started_at"]), _stamp(run["ended_at"])
    stages = []
    for s in run["stages"]:
        row: dict[str, Any] = {
            "name": s["name"],
            "worker": s.get("worker"),
            "started": _stamp(s["started_at"]) - started,
            "ended": _stamp(s["ended_at"]) - started,
        }
        span = _cell_span(Path(s["notebook"])) if s.get("notebook") else None
        if span:
            row.update(first_cell=span[0] - started, last_cell_end=span[1] - started)
        stages.append(row)
    return {
        "process_s": end - spawn,
        "run_started_after_spawn_s": started - spawn,
        "start_s": min(r["started"] for r in stages),  # run started -> first stage started
        "close_s": (ended - started) - max(r["ended"] for r in stages),
        "exit_after_run_end_s": end - ended,
        "stages": stages,  # seconds from the run's started_at
    }


def _chain_figures(t: dict[str, Any]) -> dict[str, Any]:
    st = sorted(t["stages"], key=lambda r: r["name"])
    later = range(1, len(st))
    if not all("first_cell" in st[k] for k in later):
        raise Failure("a chain stage's executed notebook has no papermill cell times")

    def mean(values: list[float]) -> float:
        return sum(values) / len(values)

    return {
        "per_stage_s": (st[-1]["ended"] - st[0]["ended"]) / (len(st) - 1),
        "gap_s": mean([st[k]["started"] - st[k - 1]["ended"] for k in later]),
        "wait_s": mean([st[k]["first_cell"] - st[k]["started"] for k in later]),
        "cells_s": mean([st[k]["last_cell_end"] - st[k]["first_cell"] for k in later]),
        "after_s": mean([st[k]["ended"] - st[k]["last_cell_end"] for k in later]),
        "first_stage_s": st[0]["ended"] - st[0]["started"],
        "workers_used": len({r["worker"] for r in st}),
    }


def _diamond_figures(t: dict[str, Any]) -> dict[str, Any]:
    s = {r["name"]: r for r in t["stages"]}
    left, right = s["left"], s["right"]
    return {
        # two levels after the first stage: the branches side by side, then join
        "after_load_s": s["join"]["ended"] - s["load"]["ended"],
        "branch_start_skew_s": abs(left["started"] - right["started"]),
        "branch_overlap_s": min(left["ended"], right["ended"])
        - max(left["started"], right["started"]),
        "branches_on_two_workers": left["worker"] != right["worker"],
        "first_stage_s": s["load"]["ended"] - s["load"]["started"],
    }


# -- the measurements ---------------------------------------------------------------------------


class Bench:
    def __init__(self, work: Path, clusters: dict[str, Cluster]) -> None:
        self.work, self.clusters = work, clusters
        self.mlops = tool("mlops")
        self.diamond, _ = _notebooks.write_pair(
            work / "diamond", "diamond", _notebooks.diamond_stages()
        )
        self.chain, _ = _notebooks.write_pair(
            work / "chain", "chain", _notebooks.chain_stages(CHAIN_LENGTH)
        )
        self.count = 0
        self.samples: dict[str, list[float]] = {}
        self.figures: dict[str, list[dict[str, Any]]] = {}

    def run(self, key: str, nb: Path, stages: int, config: str) -> None:
        self.count += 1
        home = Path(tempfile.mkdtemp(prefix=f"home-{self.count}-", dir=self.work / "homes"))
        args = [self.mlops, "run", str(nb), "--json"]
        if config == "local":
            args += ["--executor", "local"]
        elif config == "lc":
            args += ["--executor", "dask"]
        else:
            args += ["--executor", "dask", "--address", self.clusters[config].address]
        env = {**os.environ, "MLOPS_HOME": str(home)}
        wall, spawn, end, out = _process(args, nb.parent, env)
        run = json.loads(out)
        statuses = {s["name"]: s["status"] for s in run["stages"]}
        if run["status"] != "succeeded" or len(statuses) != stages:
            raise Failure(f"{key}: run {run['status']}: {run.get('error')}; {statuses}")
        if set(statuses.values()) != {"succeeded"}:
            raise Failure(f"{key}: a first run on a fresh store must run every stage: {statuses}")
        workers = {s["worker"] for s in run["stages"]}
        if config == "local":
            ok = workers == {"local"}
        elif config == "lc":
            ok = all(str(w).startswith("tcp://127.0.0.1:") for w in workers)
        else:
            ok = workers <= set(self.clusters[config].workers)
        if not ok:
            raise Failure(f"{key}: stages ran on {workers}, not the {config} executor's workers")
        t = _timeline(run, spawn, end)
        figures = _chain_figures(t) if stages == CHAIN_LENGTH else _diamond_figures(t)
        figures.update({k: v for k, v in t.items() if k != "stages"}, stages=t["stages"])
        self.samples.setdefault(key, []).append(wall)
        self.figures.setdefault(key, []).append(figures)

    def start_stop(self) -> None:
        out = subprocess.run(
            [sys.executable, "-c", START_STOP, str(self.work)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if out.returncode != 0:
            raise Failure(f"LocalCluster start/stop failed: {out.stderr[-2000:]}")
        found = json.loads(out.stdout.strip().splitlines()[-1])
        self.figures.setdefault("lc_start_stop", []).append(found)

    def roundtrip(self, tasks: int = 30) -> None:
        """Bare Dask, from this process: ``submit(abs, -i).result()`` on the 1-worker cluster,
        what any task pays between a client and a worker (no mlops code)."""
        from distributed import Client

        with Client(self.clusters["ext1"].address, timeout="30s", set_as_default=False) as c:
            c.submit(abs, -1, pure=False).result()
            samples = []
            for i in range(tasks):
                t0 = time.perf_counter()
                c.submit(abs, -i, pure=False).result()
                samples.append(time.perf_counter() - t0)
        self.figures.setdefault("dask_roundtrip", []).append(
            {"median_s": statistics.median(samples), "min_s": min(samples), "tasks": tasks}
        )

    def measurements(self) -> list[Callable[[], None]]:
        def one(key: str, nb: Path, stages: int, config: str) -> Callable[[], None]:
            return lambda: self.run(key, nb, stages, config)

        found = []
        for config in ("local", "lc", "ext2"):
            found.append(one(f"{config}_diamond", self.diamond, 4, config))
            found.append(one(f"{config}_chain20", self.chain, CHAIN_LENGTH, config))
        found.append(one("ext1_chain20", self.chain, CHAIN_LENGTH, "ext1"))
        found.append(self.start_stop)
        found.append(self.roundtrip)
        return found


def _medians(rows: list[dict[str, Any]]) -> dict[str, float]:
    keys = [k for k, v in rows[0].items() if isinstance(v, (int, float))]
    return {k: statistics.median(float(r[k]) for r in rows) for k in keys}


def main() -> int:
    parser = argparse.ArgumentParser(description="Dask executor vs local executor benchmark")
    parser.add_argument("--runs", type=int, default=5, help="timed rounds (default 5)")
    parser.add_argument("--json", default=str(HERE / "results" / "dask.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temp folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mlops-bench-dask-"))
    (work / "homes").mkdir()
    load_start = os.getloadavg()
    round_loads: list[float] = []
    code_start, files_start = code_version(), _package_files()
    started = time.perf_counter()
    clusters: dict[str, Cluster] = {}
    stop_s: dict[str, float] = {}
    try:
        clusters["ext2"] = Cluster(work / "ext2", 2)
        clusters["ext1"] = Cluster(work / "ext1", 1)
        print(
            f"external clusters up: 2 workers in {clusters['ext2'].start_s:.2f} s, "
            f"1 worker in {clusters['ext1'].start_s:.2f} s (not in any figure below)",
            flush=True,
        )
        bench = Bench(work, clusters)
        measurements = bench.measurements()

        def reset() -> None:  # what the warm-up round recorded
            bench.samples.clear()
            bench.figures.clear()

        round_loads += run_rounds(measurements, args.runs, started, reset)
    except Failure as exc:
        print(f"\nFAILED: {exc}\n(temp folder kept: {work})", file=sys.stderr)
        return 1
    finally:
        for name, cluster in clusters.items():
            stop_s[name] = cluster.stop()
    elapsed = time.perf_counter() - started
    load_end = os.getloadavg()
    code_end, files_end = code_version(), _package_files()
    changed = sorted(
        f for f in files_start.keys() | files_end.keys() if files_start.get(f) != files_end.get(f)
    )

    wall = {k: stats(v) for k, v in bench.samples.items()}
    med_wall = {k: statistics.median(v) for k, v in bench.samples.items()}
    fig = {k: _medians(v) for k, v in bench.figures.items()}
    local_chain = fig["local_chain20"]
    dask_configs = {
        "lc": "LocalCluster (started and stopped by the run)",
        "ext2": "external scheduler + 2 warm workers",
        "ext1": "external scheduler + 1 warm worker",
    }
    overhead = {
        c: {
            "per_stage_over_local_s": fig[f"{c}_chain20"]["per_stage_s"]
            - local_chain["per_stage_s"],
            # round by round (the two ran minutes apart at most): drift and load cancel more
            "paired_per_stage_over_local_s": statistics.median(
                d["per_stage_s"] - b["per_stage_s"]
                for d, b in zip(
                    bench.figures[f"{c}_chain20"], bench.figures["local_chain20"], strict=True
                )
            ),
            "gap_over_local_s": fig[f"{c}_chain20"]["gap_s"] - local_chain["gap_s"],
            "wait_over_local_s": fig[f"{c}_chain20"]["wait_s"] - local_chain["wait_s"],
            "cells_over_local_s": fig[f"{c}_chain20"]["cells_s"] - local_chain["cells_s"],
            "after_over_local_s": fig[f"{c}_chain20"]["after_s"] - local_chain["after_s"],
            # the whole process's difference spread over the stages: start and close included
            "whole_process_per_stage_over_local_s": (
                med_wall[f"{c}_chain20"] - med_wall["local_chain20"]
            )
            / CHAIN_LENGTH,
            "chain_wall_ratio_to_local": med_wall[f"{c}_chain20"] / med_wall["local_chain20"],
            "per_stage_ratio_to_local": fig[f"{c}_chain20"]["per_stage_s"]
            / local_chain["per_stage_s"],
        }
        for c in dask_configs
    }
    for c in ("lc", "ext2"):
        overhead[c]["diamond_wall_ratio_to_local"] = (
            med_wall[f"{c}_diamond"] / med_wall["local_diamond"]
        )
        overhead[c]["diamond_after_load_over_local_s"] = (
            fig[f"{c}_diamond"]["after_load_s"] - fig["local_diamond"]["after_load_s"]
        )
    cluster_cost = {
        "lc_in_run_start_over_local_s": statistics.median(
            [fig["lc_chain20"]["start_s"], fig["lc_diamond"]["start_s"]]
        )
        - statistics.median([local_chain["start_s"], fig["local_diamond"]["start_s"]]),
        "lc_in_run_close_over_local_s": statistics.median(
            [fig["lc_chain20"]["close_s"], fig["lc_diamond"]["close_s"]]
        )
        - statistics.median([local_chain["close_s"], fig["local_diamond"]["close_s"]]),
        "lc_child_process": fig["lc_start_stop"],
        "bare_dask_submit_result_s": fig["dask_roundtrip"],
        "ext_connect_start_over_local_s": fig["ext2_chain20"]["start_s"] - local_chain["start_s"],
        "external_cluster_start_s": {k: c.start_s for k, c in clusters.items()},
        "external_cluster_stop_s": stop_s,
    }
    met = {c: o["paired_per_stage_over_local_s"] <= TARGET_OVERHEAD_S for c, o in overhead.items()}

    print(f"\n{'whole process, median of ' + str(args.runs):<44} {'wall':>8} {'vs local':>9}")
    for key in sorted(med_wall, key=lambda k: (k.split("_")[1], k)):
        base = med_wall["local_" + key.split("_", 1)[1]]
        print(f"  {key:<42} {med_wall[key]:7.2f}s {med_wall[key] / base:8.2f}x")
    print(
        f"\nchain, per stage (ms, means over s02..s20, medians over rounds): "
        f"{'per stage':>9} {'gap':>6} {'wait':>6} {'cells':>6} {'after':>6} {'over local':>10}"
    )
    for c in ("local", *dask_configs):
        f = fig[f"{c}_chain20"]
        extra = overhead[c]["per_stage_over_local_s"] * 1000 if c in overhead else 0.0
        print(
            f"  {c:<62} {f['per_stage_s'] * 1000:9.1f} {f['gap_s'] * 1000:6.1f} "
            f"{f['wait_s'] * 1000:6.1f} {f['cells_s'] * 1000:6.1f} {f['after_s'] * 1000:6.1f} "
            f"{extra:+10.1f}"
        )
    print("\nstart (run started -> first stage) / close (last stage -> run ended), medians:")
    for key in sorted(k for k in fig if k not in ("lc_start_stop", "dask_roundtrip")):
        print(
            f"  {key:<20} start {fig[key]['start_s']:6.3f} s   close {fig[key]['close_s']:6.3f} s"
        )
    for c in ("local", "lc", "ext2"):
        d = fig[f"{c}_diamond"]
        print(
            f"diamond {c:<5}: after load {d['after_load_s']:.3f} s, branch start skew "
            f"{d['branch_start_skew_s'] * 1000:.0f} ms, overlap {d['branch_overlap_s']:.3f} s, "
            f"two workers in {sum(r['branches_on_two_workers'] for r in bench.figures[c + '_diamond'])}"
            f"/{args.runs}"
        )
    ss = fig["lc_start_stop"]
    print(
        f"LocalCluster in a child process: import distributed {ss['import_distributed_s']:.3f} s, "
        f"DaskExecutor() {ss['start_s']:.3f} s, close() {ss['stop_s']:.3f} s"
    )
    rt = fig["dask_roundtrip"]
    print(
        f"bare Dask submit -> result (1 worker, from the benchmark process): median "
        f"{rt['median_s'] * 1000:.1f} ms, min {rt['min_s'] * 1000:.1f} ms"
    )
    for c, ok in met.items():
        print(
            f"target per-stage overhead <= 50 ms ({c}): {'met' if ok else 'MISSED'} "
            f"(paired by round {overhead[c]['paired_per_stage_over_local_s'] * 1000:+.1f} ms; "
            f"difference of medians {overhead[c]['per_stage_over_local_s'] * 1000:+.1f} ms)"
        )
    if changed:
        print(f"WARNING: mlops_jupyter changed during the run: {', '.join(changed)}")
    print(
        f"load average (1 min): start {load_start[0]:.2f}, after rounds "
        f"{min(round_loads):.2f}-{max(round_loads):.2f}; {elapsed:.0f} s in all"
    )

    write_results(
        Path(args.json),
        {
            "benchmark": "dask",
            "date": now(),
            "machine": machine(
                loadavg_at_start=load_start,
                loadavg_at_end=load_end,
                loadavg_1min_after_each_round=round_loads,
            ),
            "code": {
                **code_end,
                "package_fingerprint": _fingerprint(files_end),
                "changed_during_run": bool(changed),
                "files_changed_during_run": changed,
                "at_start": {**code_start, "package_fingerprint": _fingerprint(files_start)},
            },
            "distributed": __import__("distributed").__version__,
            "commands": {
                "local": "mlops run NB --json --executor local",
                "lc": "mlops run NB --json --executor dask",
                "ext2/ext1": "mlops run NB --json --executor dask --address tcp://127.0.0.1:PORT",
                "external cluster": "dask scheduler --host 127.0.0.1 --port 0 --no-dashboard; "
                "dask worker --nthreads 1 --no-dashboard --host 127.0.0.1 (x2, or x1), with "
                + ", ".join(f"{k}={v}" for k, v in TUNED.items()),
                "every run": "fresh MLOPS_HOME, -j default (cores), all stages succeeded",
            },
            "definitions": {
                "per_stage_s": "(ended[s20] - ended[s01]) / 19 from the run JSON; = mean over "
                "s02..s20 of gap + wait + cells + after",
                "gap_s": "previous stage ended -> this stage started (run loop + dispatch)",
                "wait_s": "stage started -> first cell started (papermill's cell times)",
                "cells_s": "first cell start -> last cell end in the executed stage notebook",
                "after_s": "last cell end -> stage ended",
                "start_s": "run started_at -> first stage started_at",
                "close_s": "last stage ended_at -> run ended_at",
                "after_load_s": "diamond: join ended - load ended (branches, then join)",
                "per_stage_over_local_s": "median per_stage_s(config) - median per_stage_s(local)",
                "paired_per_stage_over_local_s": "median over rounds of per_stage_s(config) - "
                "per_stage_s(local) in the same round (the target's figure)",
            },
            "rounds": args.runs,
            "seconds_in_all": elapsed,
            "wall": wall,
            "medians": fig,
            "overhead": overhead,
            "cluster_cost": cluster_cost,
            "target": {"per_stage_over_local_s": TARGET_OVERHEAD_S, "met": met},
            "runs": bench.figures,
        },
    )
    if args.keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if all(met.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
