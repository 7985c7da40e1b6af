"""``mlops run``, ``runs`` (and ``runs rm``), ``show``, ``gc`` and ``doctor``: argument handling
and printing only."""

from __future__ import annotations

import argparse
import os
import re
import sys
from typing import Any

from .. import api
from ..request import parameters_from_args, run_options
from ..views.text import human_size, runs_table
from .output import print_json, table
from .progress import Progress


def summary(run: dict[str, Any]) -> str:
    counts: dict[str, int] = {}
    for stage in run["stages"]:
        counts[stage["status"]] = counts.get(stage["status"], 0) + 1
    parts = ", ".join(f"{n} {s}" for s, n in counts.items()) or run.get("origin") or ""
    took = _seconds(run["duration_s"] or 0)
    if run["status"] == "succeeded" and run["stages"] and set(counts) == {"cached"}:
        # nothing ran: "succeeded in 0.0s" would read as if every stage ran in no time
        head = f"run {run['run_id']} cached (all {len(run['stages'])} stages) in {took}"
    else:
        head = f"run {run['run_id']} {run['status']} in {took} ({parts})"
    lines = [head]
    if run["metrics"]:
        lines.append("  metrics: " + "  ".join(f"{k}={v:.6g}" for k, v in run["metrics"].items()))
    for stage in run["stages"]:
        if stage["error"] and stage["status"] == "failed":
            lines.append(f"  {stage['error']}")
            lines.append(f"  executed notebook: {stage['notebook']}")
    for note in run.get("notes") or ():
        lines.append(f"  note: {note}")
    lines.append(f"  run folder: {run['run_dir']}")
    lines.append(f"  details: {_show_command(run)}")
    return "\n".join(lines)


def _show_command(run: dict[str, Any]) -> str:
    """``mlops show ID``, said so that it works here: a compiled folder run from another folder
    records into its notebook's store, which `mlops` run here would not find."""
    import shlex
    from pathlib import Path

    from ..home import find_home

    command = f"mlops show {run['run_id']}"
    store = Path(run["run_dir"]).parent.parent  # <store>/runs/<id>
    if find_home(Path.cwd()) == store:
        return command
    if find_home(store.parent) == store:
        return f"cd {shlex.quote(str(store.parent))} && {command}"
    return f"MLOPS_HOME={shlex.quote(str(store))} {command}"


def _seconds(value: float) -> str:
    return f"{value:.1f}s" if value >= 0.1 else f"{value:.2f}s"


ORIGIN = re.compile(r"[a-z][a-z0-9-]{0,31}")


def _origin() -> str:
    """``cli``, or what started this command when it says so (``MLOPS_ORIGIN``: an exported
    Airflow or KFP task), so `mlops runs` tells a DAG's runs from a terminal's."""
    named = os.environ.get("MLOPS_ORIGIN", "")
    return named if ORIGIN.fullmatch(named) else "cli"


def run_command(args: argparse.Namespace) -> int:
    progress = Progress(enabled=sys.stderr.isatty() or not args.json)
    run = api.run(args.target, origin=_origin(), listeners=[progress], **run_options(args))
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
    found = api.gc(dry_run=args.dry_run, keep_last=args.keep_last, older_than=args.older_than)
    _print_collected(found, args.json)
    return 0


def runs_rm_command(args: argparse.Namespace) -> int:
    found = api.remove_runs(args.runs, dry_run=args.dry_run)
    _print_collected(found, args.json)
    return 0


def _print_collected(found: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(found)
        return
    verb = "would remove" if found["dry_run"] else "removed"
    for run in found["runs"]:
        print(
            f"{verb} run {run['run_id']}  {run['pipeline']}  {run['status']}  {run['started_at']}"
        )
    for run in found["kept"]:
        print(f"kept run {run['run_id']}: {run['reason']}")
    parts = [
        _count(len(found["runs"]), "run", found["run_folders"]["bytes"]),
        _count(found["objects"]["count"], "unreferenced object", found["objects"]["bytes"]),
        _count(found["temp_files"]["count"], "temp file", found["temp_files"]["bytes"]),
    ]
    freed = "would free" if found["dry_run"] else "freed"
    print(f"{verb} {', '.join(parts)}: {freed} {human_size(found['freed_bytes'])}")


def _count(n: int, what: str, size: int) -> str:
    return f"{n} {what}{'' if n == 1 else 's'} ({human_size(size)})"


def doctor_command(args: argparse.Namespace) -> int:
    report = api.doctor()
    if args.json:
        print_json(report)
    else:
        for found in report["findings"]:
            print(f"{found['severity']}: {found['check']}: {found['problem']}")
            for example in found["examples"]:
                print(f"    {example}")
            print(f"  what to do: {found['fix']}")
        state = "healthy" if report["healthy"] else "has problems"
        count = len(report["findings"])
        print(f"store {report['store']} {state} ({count} finding{'' if count == 1 else 's'})")
    return 0 if report["healthy"] else 1
