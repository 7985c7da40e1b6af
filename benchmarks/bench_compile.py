#!/usr/bin/env python3
"""Compile benchmark: how long `mlops compile` takes on a 1,000-cell, 100-stage notebook.

Measured in one run, on the same generated notebook (benchmarks/gen_notebook.py):

  (a) in process, after one warm-up: ``load_pipeline(path)`` (read + analyse + resolve) and
      ``compile_notebook(path, output=DIR)`` into a fresh folder, and again into the same,
      unchanged folder (nothing to rewrite);
  (b) the whole process ``mlops compile NB -o DIR`` (what a user waits for);
  (c) the whole process ``jupyter nbconvert --to script NB`` (the tool people reach for today);
  (d) the whole process ``python -c pass`` (the floor for any Python command).

Run it with the project's venv:

    .venv/bin/python benchmarks/bench_compile.py            # writes benchmarks/results/compile.json

Targets: in-process compile <= 100 ms, whole process <= 1 s, >= 5x faster than nbconvert.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import gen_notebook  # noqa: E402
from _common import code_version, fmt, machine, now, stats, tool  # noqa: E402

TARGET_IN_PROCESS_S = 0.100
TARGET_PROCESS_S = 1.0
TARGET_SPEEDUP = 5.0


def _time(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _samples(fn: Callable[[], object], runs: int, warmup: int = 1) -> list[float]:
    for _ in range(warmup):
        fn()
    return [_time(fn) for _ in range(runs)]


def _run(cmd: list[str], cwd: Path) -> None:
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(
            f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-2000:]}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description="mlops compile benchmark")
    parser.add_argument("--stages", type=int, default=100)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=10, help="in-process runs (after one warm-up)")
    parser.add_argument("--process-runs", type=int, default=5, help="`mlops compile` process runs")
    parser.add_argument(
        "--nbconvert-runs", type=int, default=3, help="`jupyter nbconvert` process runs"
    )
    parser.add_argument(
        "--json", default=str(HERE / "results" / "compile.json"), help="where to write results"
    )
    args = parser.parse_args()

    mlops, jupyter = tool("mlops"), tool("jupyter")
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-"))
    try:
        nb = gen_notebook.write(work / "big.ipynb", args.stages, args.cells)
        print(
            f"notebook: {args.cells} cells, {args.stages} stages, {nb.stat().st_size / 1024:.0f} KiB  ({nb})"
        )

        results: dict[str, dict[str, object]] = {}

        # (a) in process --------------------------------------------------------------------
        t0 = time.perf_counter()
        from mlops_jupyter.compiler.output import compile_notebook, load_pipeline

        import_s = time.perf_counter() - t0
        pipeline = load_pipeline(nb)
        edges = sum(len(s.inputs) for s in pipeline.stages)
        print(
            f"pipeline: {len(pipeline.stages)} stages, {edges} data-flow inputs, version {pipeline.version}"
        )

        results["load_pipeline"] = stats(_samples(lambda: load_pipeline(nb), args.runs))

        counter = iter(range(10**6))

        def fresh() -> None:
            compile_notebook(nb, output=work / f"fresh-{next(counter)}")

        results["compile_notebook_fresh"] = stats(_samples(fresh, args.runs))
        same = work / "same"
        results["compile_notebook_unchanged"] = stats(
            _samples(lambda: compile_notebook(nb, output=same), args.runs)
        )

        # (b)-(d) whole processes -------------------------------------------------------------
        def process(cmd_for: Callable[[int], list[str]]) -> Callable[[], None]:
            n = iter(range(10**6))
            return lambda: _run(cmd_for(next(n)), work)

        results["mlops_compile_process"] = stats(
            _samples(
                process(lambda i: [mlops, "compile", str(nb), "-o", str(work / f"proc-{i}")]),
                args.process_runs,
            )
        )
        results["nbconvert_script_process"] = stats(
            _samples(
                process(
                    lambda i: [
                        jupyter,
                        "nbconvert",
                        "--to",
                        "script",
                        str(nb),
                        "--output-dir",
                        str(work / f"nbc-{i}"),
                    ]
                ),
                args.nbconvert_runs,
            )
        )
        results["python_pass_process"] = stats(
            _samples(process(lambda i: [sys.executable, "-c", "pass"]), 5)
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {k: float(v["median_s"]) for k, v in results.items()}  # type: ignore[arg-type]
    speedup = med["nbconvert_script_process"] / med["mlops_compile_process"]
    targets = {
        "in_process_compile_le_100ms": med["compile_notebook_fresh"] <= TARGET_IN_PROCESS_S,
        "process_le_1s": med["mlops_compile_process"] <= TARGET_PROCESS_S,
        "speedup_vs_nbconvert_ge_5x": speedup >= TARGET_SPEEDUP,
    }

    rows = [
        ("(a) load_pipeline, in process", "load_pipeline"),
        ("(a) compile_notebook, fresh dir, in process", "compile_notebook_fresh"),
        ("(a) compile_notebook, unchanged dir, in process", "compile_notebook_unchanged"),
        ("(b) `mlops compile` whole process", "mlops_compile_process"),
        ("(c) `jupyter nbconvert --to script` whole process", "nbconvert_script_process"),
        ("(d) `python -c pass` whole process", "python_pass_process"),
    ]
    print()
    print(f"{'measurement':<52} {'median':>11} {'min':>11}  runs")
    for label, key in rows:
        r = results[key]
        print(f"{label:<52} {fmt(med[key]):>11} {fmt(float(r['min_s'])):>11}  {r['runs']}")  # type: ignore[arg-type]
    print()
    print(f"first import of mlops_jupyter.compiler.output in this process: {fmt(import_s).strip()}")
    print(f"nbconvert / mlops compile (process): {speedup:.1f}x")
    print(
        f"mlops compile process minus python floor: "
        f"{fmt(med['mlops_compile_process'] - med['python_pass_process']).strip()}"
    )
    for name, ok in targets.items():
        print(f"target {name}: {'met' if ok else 'MISSED'}")

    report = {
        "benchmark": "compile",
        "date": now(),
        "machine": machine(loadavg_at_end=os.getloadavg() if hasattr(os, "getloadavg") else None),
        "code": code_version(),
        "notebook": {
            "cells": args.cells,
            "stages": args.stages,
            "data_flow_inputs": edges,
            "generator": "benchmarks/gen_notebook.py",
        },
        "import_compiler_s": import_s,
        "results": results,
        "ratios": {"nbconvert_over_mlops_compile_process": speedup},
        "targets": {
            "in_process_compile_s": TARGET_IN_PROCESS_S,
            "process_s": TARGET_PROCESS_S,
            "speedup_vs_nbconvert": TARGET_SPEEDUP,
            "met": targets,
        },
    }
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwrote {out}")
    return 0 if all(targets.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
