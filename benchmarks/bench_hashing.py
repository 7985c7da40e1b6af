"""Benchmark: hashing a 1 GiB file in the page cache — ``mlops_jupyter.store.hashing`` (BLAKE3, mmap,
threads) against ``hashlib.md5`` (what DVC uses) and against reading it (``cat FILE > /dev/null``,
the limit) — and re-checking an unchanged file through the stat cache. Writes
``benchmarks/results/hashing.json``.

    .venv/bin/python benchmarks/bench_hashing.py [--size-mib 1024]

The file is written under /tmp and deleted at the end. Before timing, it is read once (so it is
in the page cache) and the benchmark waits until it is older than the stat cache's racy window,
as any data file written earlier is.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _common import write_results  # noqa: E402

sys.path.insert(0, str(HERE.parent))

from mlops_jupyter.store import hashing  # noqa: E402
from mlops_jupyter.store.db import Store  # noqa: E402


def timed(fn, repeats: int) -> float:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def md5_file(path: str) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def blake3_one_thread(path: str) -> str:
    import blake3

    hasher = blake3.blake3()
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            hasher.update(chunk)
    return str(hasher.hexdigest())


def write_file(path: str, size: int) -> None:
    block = os.urandom(1 << 24)
    with open(path, "wb") as handle:
        for _ in range(size // len(block)):
            handle.write(block)
        handle.write(block[: size % len(block)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    size = args.size_mib << 20
    gb = size / 1e9
    results: dict[str, object] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_avg_at_start": os.getloadavg(),
        },
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "file_bytes": size,
        "repeats": args.repeats,
    }
    folder = tempfile.mkdtemp(prefix="mlops-hash-bench-", dir="/tmp")
    path = os.path.join(folder, "big.bin")
    try:
        print(f"writing {args.size_mib} MiB to {path} ...", flush=True)
        write_file(path, size)
        subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True)  # into the page cache
        wait = hashing.RACY_WINDOW_NS / 1e9 - (time.time() - os.stat(path).st_mtime) + 0.1
        if wait > 0:
            time.sleep(wait)

        def rate(seconds: float) -> float:
            return round(gb / seconds, 2)

        cat = timed(
            lambda: subprocess.run(["cat", path], stdout=subprocess.DEVNULL, check=True),
            args.repeats,
        )
        md5 = timed(lambda: md5_file(path), args.repeats)
        one = timed(lambda: blake3_one_thread(path), args.repeats)
        ours = timed(lambda: hashing.hash_file(path), args.repeats)
        results["GB_per_s"] = {
            "cat > /dev/null": rate(cat),
            "hashlib.md5 (1 MiB reads)": rate(md5),
            "blake3, one thread (1 MiB reads)": rate(one),
            "mlops hashing.hash_file (blake3 mmap + threads)": rate(ours),
        }
        results["ratios"] = {
            "hash_file / md5": round(md5 / ours, 2),
            "hash_file / cat": round(cat / ours, 2),
        }

        with Store(os.path.join(folder, ".mlops")) as store:
            first = timed(lambda: hashing.check(path, store, verify=True), 1)
            assert hashing.check(path, store).cached, "the entry should be trusted by now"
            n = 2000
            started = time.perf_counter()
            for _ in range(n):
                hashing.check(path, store)
            recheck = (time.perf_counter() - started) / n
            started = time.perf_counter()
            for _ in range(n):
                os.stat(path)
            stat = (time.perf_counter() - started) / n
        results["first_check_s (hash + cache entry)"] = round(first, 3)
        results["recheck_unchanged_us (stat + cache lookup, open store)"] = round(recheck * 1e6, 1)
        results["os.stat_us"] = round(stat * 1e6, 2)
        results["targets"] = {
            "hash_file >= 3x md5": md5 / ours >= 3,
            "hash_file >= 50% of cat": cat / ours >= 0.5,
            "unchanged re-check <= 1 ms": recheck <= 0.001,
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)  # the 1 GiB file too
    results["machine"]["load_avg_at_end"] = os.getloadavg()  # type: ignore[index]
    print(json.dumps(results, indent=2))
    write_results(HERE / "results" / "hashing.json", results)


if __name__ == "__main__":
    main()
