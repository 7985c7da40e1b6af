"""``mlops run``, ``runs``, ``show`` and ``gc``: argument handling and printing only."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from .. import api
from ..request import parameters_from_args, run_options
from ..views.text import runs_table
from .output import print_json, table
from .progress import Progress


def summary(run: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for stage in run["stages"]:
        counts[stage["status"]] = counts.get(stage["status"], 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in counts.items()) or run.get("origin") or ""
    lines = [f"run {run['run_id']} {run['status']} in {run['duration_s'] or 0:.1f}s ({parts})"]
    if run["metrics"]:
        lines.append("  metrics: " + "  ".join(f"{k}={v:.6g}" for k, v in run["metrics"].items()))
    for stage in run["stages"]:
        if stage["error"] and stage["status"] == "failed":
            lines.append(f"  {stage['error']}")
            lines.append(f"  executed notebook: {stage['notebook']}")
    lines.append(f"  run folder: {run['run_dir']}")
    lines.append(f"  details: mlops show {run['run_id']}")
    return "\n".join(lines)


def run_command(args: argparse.Namespace) -> int:
    progress = Progress(enabled=sys.stderr.isatty() or not args.json)
    run = api.run(args.target, origin="cli", listeners=[progress], **run_options(args))
    if args.json:
        print_json(run)
    else:
        print(summary(run))
    return 0 if run["status"] == "succeeded" else 1


def runs_command(args: argparse.Namespace) -> int:
    runs = api.runs(limit=args.limit)
    if args.json:
        print_json(runs)
        return 0
    print(runs_table(runs))
    return 0


def verify_command(args: argparse.Namespace) -> int:
    progress = Progress(enabled=sys.stderr.isatty() or not args.json)
    found = api.verify(args.notebook, parameters_from_args(args), listeners=[progress])
    if args.json:
        print_json(found)
        return 0 if found["agree"] else 1
    compared = ", ".join(f"{n} {kind}s" for kind, n in found["compared"].items())
    if found["agree"]:
        print(f"pipeline and notebook agree ({compared} compared; run {found['run_id']})")
        return 0
    rows = [
        [
            d["kind"],
            d["stage"],
            d["name"],
            "-" if d["cell"] is None else str(d["cell"]),
            _short(d["pipeline"]),
            _short(d["notebook"]),
        ]
        for d in found["differences"]
    ]
    print(f"pipeline and notebook DIFFER ({compared} compared; run {found['run_id']}):")
    print(table(["what", "stage", "name", "cell", "pipeline", "notebook (top to bottom)"], rows))
    print(f"  the notebook as run top to bottom: {found['reference']}")
    return 1


def _short(value: object) -> str:
    text = "-" if value is None else str(value).replace("\n", "\\n")
    return text if len(text) <= 40 else text[:37] + "..."


def show_command(args: argparse.Namespace) -> int:
    run = api.show(args.run)
    if args.json:
        print_json(run)
        return 0
    print(summary(run))
    print(f"  pipeline: {run['pipeline']} version {run['version']}  notebook: {run['notebook']}")
    code = run["code"]
    if code["git_commit"]:
        print(f"  code: git {code['git_commit'][:12]}{' (dirty)' if code['git_dirty'] else ''}")
    print(f"  python: {run['environment'].get('python')}")
    if run["parameters"]:
        print("  parameters: " + "  ".join(f"{k}={v!r}" for k, v in run["parameters"].items()))
    for stage in run["stages"]:
        took = f"{stage['duration_s']:.2f}s" if stage["duration_s"] is not None else ""
        print(f"    {stage['name']:<16} {stage['status']:<10} {took:>8}  {stage['notebook'] or ''}")
    return 0


def gc_command(args: argparse.Namespace) -> int:
    removed, freed = api.gc(dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{verb} {removed} unreferenced objects ({freed / 1e6:.1f} MB)")
    return 0
