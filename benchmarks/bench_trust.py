#!/usr/bin/env python3
"""What the trust checks cost: `mlops run` before and after them, same cells, in one run.

The checks that keep a pipeline faithful to its notebook (issue 9) add work to every stage: each
value handed on is fingerprinted (``values.fingerprint``), an input that a later stage also reads
is fingerprinted again at the stage's end (was it changed in place?), an audit hook records the
files a stage opens, and the cache key covers every local module by content. This script runs the
package as it was before that work (``--before``, default 13fc0a8: ``git archive`` of its
``mlops_jupyter/`` put first on ``PYTHONPATH``) and as it is now (the venv's), interleaved, every
run a first run in a fresh ``MLOPS_HOME``:

  diamond  load -> left, right -> join, trivial cells (``left`` re-checks ``data``, which
           ``right`` reads too);
  chain    20 stages, each reading the previous stage's value (nothing is re-checked);
  frame    make -> left, right -> join where ``make`` builds a 500 MB float64 DataFrame that both
           branches read: ``make`` fingerprints it when it hands it on, ``left`` again at its end.

Then, in this process, the pieces of handing on a value, for the diamond's list and the 500 MB
frame: ``encode`` (pickle), ``objects.put`` (hash + write) and ``fingerprint``.

    .venv/bin/python benchmarks/bench_trust.py            # ~4 min; writes benchmarks/results/trust.json

Target (issue 9): < 5 % on the diamond and the chain. Exit 1 if a run fails or the package
measured is not the one meant.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import _notebooks  # noqa: E402
from _common import code_version, fmt, machine, now, stats, tool, write_results  # noqa: E402

TARGET_RATIO = 1.05
FRAME_ROWS = 8_192_000  # x 8 float64 columns = 524 MB

FRAME_STAGES = [
    (
        "make",
        "import numpy as np\nimport pandas as pd\n"
        f"frame = pd.DataFrame(np.random.default_rng(n).random(({FRAME_ROWS}, 8)), "
        'columns=list("abcdefgh"))',
    ),
    ("left", 'left_mean = float(frame["a"].mean())'),
    ("right", 'right_sum = float(frame["b"].sum())'),
    ("join", "total = left_mean + right_sum\nprint(total)"),
]


def _before_package(ref: str, into: Path) -> Path:
    """``mlops_jupyter/`` as committed at ``ref``, unpacked under ``into``."""
    archive = subprocess.run(
        ["git", "-C", str(HERE.parent), "archive", ref, "mlops_jupyter"],
        capture_output=True,
        check=True,
    ).stdout
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def _imported_from(env: dict[str, str]) -> str:
    out = subprocess.run(
        [sys.executable, "-c", "import mlops_jupyter; print(mlops_jupyter.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd="/",
    )
    return str(Path(out.stdout.strip()).parent)


def _run(mlops: str, nb: Path, env: dict[str, str], homes: Path) -> float:
    home = tempfile.mkdtemp(prefix="home-", dir=homes)
    t0 = time.perf_counter()
    proc = subprocess.run(
        [mlops, "run", str(nb), "--json"],
        cwd=nb.parent,
        env={**env, "MLOPS_HOME": home},
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - t0
    shutil.rmtree(home, ignore_errors=True)
    if proc.returncode != 0:
        raise SystemExit(f"mlops run {nb.name} failed ({proc.returncode}):\n{proc.stderr[-2000:]}")
    run = json.loads(proc.stdout)
    statuses = {s["name"]: s["status"] for s in run["stages"]}
    if set(statuses.values()) != {"succeeded"}:
        raise SystemExit(f"mlops run {nb.name}: not every stage ran: {statuses}")
    return wall


def _time(fn: Any, repeat: int) -> float:
    """Median seconds of one call (``repeat`` calls per sample, 5 samples)."""
    samples = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(repeat):
            fn()
        samples.append((time.perf_counter() - t0) / repeat)
    return statistics.median(samples)


def _pieces() -> dict[str, dict[str, float]]:
    """In this process (the package as it is now): what handing on a value costs, step by step,
    for the diamond's ``data`` (a list of 10 ints) and the 500 MB frame."""
    import numpy as np
    import pandas as pd

    from mlops_jupyter.store import objects
    from mlops_jupyter.values import encode, fingerprint

    frame = pd.DataFrame(
        np.random.default_rng(10).random((FRAME_ROWS, 8)), columns=list("abcdefgh")
    )
    found: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, value, repeat in (("list10", list(range(10)), 2000), ("frame", frame, 1)):
            data, _ = encode(value)
            found[label] = {
                "bytes": len(data),
                "encode_s": _time(lambda v=value: encode(v), repeat),
                "put_s": _time(lambda d=data: objects.put(Path(tmp), d), repeat),
                "fingerprint_s": _time(lambda v=value: fingerprint(v), repeat),
            }
    return found


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", default="13fc0a8", help="commit before the trust checks")
    parser.add_argument("--runs", type=int, default=5, help="rounds after one warm-up (>= 3)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "trust.json")
    args = parser.parse_args()
    if args.runs < 3:
        parser.error("--runs must be at least 3")
    mlops = tool("mlops")
    work = Path(tempfile.mkdtemp(prefix="mlops-bench-trust-"))
    try:
        old = _before_package(args.before, work / "before")
        base = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLOPS_HOME")}
        envs = {"before": {**base, "PYTHONPATH": str(old)}, "after": base}
        for label, env in envs.items():
            where = _imported_from(env)
            meant = str(old / "mlops_jupyter") if label == "before" else None
            if meant is not None and where != meant:
                raise SystemExit(f"{label}: imported {where}, not {meant}")
            if meant is None and where.startswith(str(work)):
                raise SystemExit(f"{label}: imported the old package from {where}")
            print(f"{label}: {where}")
        notebooks = {
            "diamond": _notebooks.write_pair(
                work / "diamond", "diamond", _notebooks.diamond_stages()
            )[0],
            "chain": _notebooks.write_pair(work / "chain", "chain", _notebooks.chain_stages(20))[0],
            "frame": _notebooks.write_pair(work / "frame", "frame", FRAME_STAGES)[0],
        }
        homes = work / "homes"
        homes.mkdir()
        jobs = [(s, label) for s in notebooks for label in envs]
        samples: dict[str, list[float]] = {f"{s}/{label}": [] for s, label in jobs}
        started = now()
        for rnd in range(args.runs + 1):
            shift = rnd % len(jobs)
            for scenario, label in jobs[shift:] + jobs[:shift]:
                wall = _run(mlops, notebooks[scenario], envs[label], homes)
                if rnd:  # round 0 warms caches and the page cache
                    samples[f"{scenario}/{label}"].append(wall)
            print(f"round {rnd}/{args.runs} done", flush=True)
        pieces = _pieces()
        results: dict[str, Any] = {
            "benchmark": "trust",
            "started": started,
            "ended": now(),
            "before": args.before,
            "after": code_version(),
            "machine": machine(loadavg=os.getloadavg()),
            "samples": {k: stats(v) for k, v in samples.items()},
            "pieces": pieces,
        }
        ok = True
        print(f"\n{'scenario':10} {'before':>12} {'after':>12}  change")
        ratios = {}
        for scenario in notebooks:
            b = statistics.median(samples[f"{scenario}/before"])
            a = statistics.median(samples[f"{scenario}/after"])
            ratios[scenario] = a / b
            print(f"{scenario:10} {fmt(b):>12} {fmt(a):>12}  {100 * (a / b - 1):+.1f} %")
        for scenario in ("diamond", "chain"):
            if ratios[scenario] > TARGET_RATIO:
                ok = False
                print(f"target missed: {scenario} +{100 * (ratios[scenario] - 1):.1f} % (< 5 %)")

        def small(seconds: float) -> str:
            return f"{seconds * 1e6:.1f} µs" if seconds < 1e-3 else fmt(seconds).strip()

        for label, piece in pieces.items():
            print(
                f"{label} ({piece['bytes']:,} bytes encoded), in process: encode "
                f"{small(piece['encode_s'])}, objects.put {small(piece['put_s'])}, "
                f"fingerprint {small(piece['fingerprint_s'])}"
            )
        results["ratios"] = ratios
        results["targets_met"] = ok
        write_results(args.out, results)
        return 0 if ok else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
