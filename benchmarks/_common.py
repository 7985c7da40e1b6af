"""What every benchmark script needs: the venv's tools, the machine, the code measured, stats."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent


def tool(name: str) -> str:
    """The venv's own command (next to this interpreter), else whatever is on PATH."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if not found:
        raise SystemExit(f"cannot find {name!r}: run this with the project's venv python")
    return found


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(HERE.parent), *args], capture_output=True, text=True, check=True
    ).stdout


def code_version() -> dict[str, object]:
    """Which mlops_jupyter was measured: its location, the git commit and uncommitted changes."""
    import mlops_jupyter

    root = Path(mlops_jupyter.__file__).resolve().parent
    info: dict[str, object] = {
        "package": str(root),
        "version": getattr(mlops_jupyter, "__version__", None),
    }
    try:
        info["commit"] = _git("rev-parse", "--short", "HEAD").strip()
        package_dirty = _git("status", "--porcelain", "--", str(root)).splitlines()
        info["uncommitted_files_in_package"] = len(package_dirty)
        info["dirty_package_files"] = [line[3:] for line in package_dirty]
        info["tree_dirty"] = bool(_git("status", "--porcelain").strip())
    except (OSError, subprocess.CalledProcessError):
        pass
    return info


def mlflow_python() -> str:
    """The absolute path of ``$MLFLOW_PYTHON``, a venv's python that has mlflow (its pins would
    move this project's packages, so it lives apart); the benchmarks' children run elsewhere."""
    python = os.environ.get("MLFLOW_PYTHON")
    if not python:
        raise SystemExit("set MLFLOW_PYTHON to a venv's python that has mlflow (see the docstring)")
    return os.path.abspath(python)


def module_version(python: str, module: str) -> str:
    """``module.__version__`` as another venv's ``python`` imports it (an anchor's version)."""
    return subprocess.run(
        [python, "-c", f"import {module}; print({module}.__version__)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


def stats(samples: list[float]) -> dict[str, object]:
    return {
        "median_s": statistics.median(samples),
        "min_s": min(samples),
        "max_s": max(samples),
        "runs": len(samples),
        "samples_s": [round(s, 6) for s in samples],
    }


def fmt(seconds: float) -> str:
    return f"{seconds * 1000:8.1f} ms" if seconds < 1 else f"{seconds:8.2f} s "


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def machine(**extra: object) -> dict[str, object]:
    """The machine a result was measured on (plus load averages the caller took)."""
    return {
        "cpus": os.cpu_count(),
        "cpu": cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        **extra,
    }


def write_results(path: Path, results: object) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {path}")


def run_rounds(
    measurements: list[Callable[[], None]],
    rounds: int,
    started: float,
    reset: Callable[[], None],
) -> list[float]:
    """One untimed warm-up round (page cache, .pyc files, first imports), ``reset`` to drop what
    it recorded, then ``rounds`` rounds, each running every measurement once in an order rotated
    each round, so drift and load fall on all of them alike. Returns the load average after each
    round."""
    for measure in measurements:
        measure()
    reset()
    loads: list[float] = []
    for i in range(rounds):
        shift = i % len(measurements)
        for measure in measurements[shift:] + measurements[:shift]:
            measure()
        loads.append(os.getloadavg()[0])
        print(
            f"  round {i + 1}/{rounds} done ({time.perf_counter() - started:.0f} s, "
            f"load average {loads[-1]:.2f})",
            flush=True,
        )
    return loads
