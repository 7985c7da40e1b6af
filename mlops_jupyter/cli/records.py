"""``mlops metrics``, ``data``, ``params`` and ``diff``: argument handling and printing only.

Imports of what the commands print with stay inside them: ``mlops --help`` imports this module.

``--json`` output is strict JSON: NaN and infinities (which the store keeps) print as ``null``,
as the server's REST API sends them, so ``jq`` and JavaScript can read it.
"""

from __future__ import annotations

import argparse
import math
from typing import Any


def metrics_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.text import short_number
    from .output import print_json, table

    series = api.metrics(args.run, args.key or None)
    if args.json:
        print_json(series)
        return 0
    run_id = api.show(args.run)["run_id"]
    if not series:
        wanted = f" named {', '.join(args.key)}" if args.key else ""
        print(f"run {run_id} has no metrics{wanted}")
        return 0
    rows = []
    for key, points in series.items():
        values = [p["value"] for p in points if not math.isnan(p["value"])]
        steps = [p["step"] for p in points if p["step"] is not None]
        rows.append(
            [
                key,
                str(len(points)),
                short_number(points[-1]["value"]),
                short_number(min(values) if values else None),
                short_number(max(values) if values else None),
                f"{min(steps)}..{max(steps)}" if steps else "-",
                points[-1]["stage"] or "-",
            ]
        )
    print(f"run {run_id}")
    print(table(["metric", "points", "last", "min", "max", "steps", "stage"], rows))
    return 0


def data_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.tables import version_notes
    from ..views.text import changes_line, human_size, schema_changes, shape
    from .output import print_json, table

    versions = api.data(args.path, limit=args.limit, drift=True)
    if args.json:
        print_json(versions)
        return 0
    if not versions:
        print("no data tracked yet: call mlops.track_data(PATH) in a notebook or stage")
        return 0
    rows = []
    for v in versions:
        rows.append(
            [
                (v["time"] or "")[:19].replace("T", " "),
                v["run_id"] or "-",
                v["stage"] or "-",
                v["hash"][:12],
                human_size(v["size"], missing="-"),
                shape(v, times="x", missing="-"),
                "changed" if v.get("changed") else ("new" if not v.get("previous") else ""),
                v["path"],
            ]
        )
    print(table(["time", "run", "stage", "hash", "size", "shape", "", "path"], rows))
    if args.path:  # one data set: say what changed between its versions
        for v in versions:
            if v.get("schema_diff"):
                print(
                    f"  {v['hash'][:12]} vs {str(v.get('previous'))[:12]}: {changes_line(schema_changes(v['schema_diff'], ascii=True))}"
                )
    for v in versions:  # drift against the version before, a failed check
        for _, text, _ in version_notes(v):
            print(f"  {v['hash'][:12]}: {text}")
    return 0


def data_check_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.data import check_text
    from .output import print_json

    result = api.data_check(args.path, against=args.against, schema=args.schema)
    if args.json:
        print_json(result)
    else:
        print(check_text(result))
    return 0 if result["passed"] else 1


def data_drift_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.data import drift_text
    from .output import print_json

    result = api.data_drift(args.path, from_version=args.from_version, to_version=args.to_version)
    if args.json:
        print_json(result)
    else:
        print(drift_text(result))
    return 0


def params_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.text import strict_json
    from .output import print_json

    values = api.params(args.run)
    if args.json:
        print_json(values)
        return 0
    if not values:
        print(f"run {api.show(args.run)['run_id']} has no parameters")
    for name, value in values.items():
        print(f"{name} = {strict_json(value, indent=None)}")
    return 0


def diff_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.text import short_number
    from .output import print_json, table

    found = api.diff(args.run_a, args.run_b)
    if args.json:
        print_json(found)
        return 0

    def show(value: Any) -> str:
        if isinstance(value, str) and len(value) == 64:  # a content hash
            return value[:12]
        return (
            "-"
            if value is None
            else short_number(value)
            if isinstance(value, float)
            else str(value)
        )

    rows: list[list[str]] = []
    for section in ("parameters", "metrics", "data", "code", "stages", "environment"):
        entries = found[section]
        rows.append([section, "" if entries else "(same)", ""])
        for name, (a, b) in entries.items():
            rows.append([f"  {name}", show(a), show(b)])
    print(table(["", found["a"], found["b"]], rows))
    return 0


def add_commands(sub: Any) -> None:
    """Register the four commands on the ``mlops`` parser's subparsers."""
    p = sub.add_parser("metrics", help="metrics of a run (every logged point with --json)")
    p.add_argument("run", metavar="RUN", nargs="?", default="latest", help="default: latest")
    p.add_argument("-k", "--key", action="append", default=[], help="only this metric (repeatable)")
    p.add_argument("--json", action="store_true", help='{key: [{"step", "value", "time"}, ...]}')
    p.set_defaults(func=metrics_command)

    p = sub.add_parser(
        "data",
        help="data versions tracked, newest first (also: data check PATH, data drift PATH)",
        description="Data versions tracked, newest first. `mlops data check PATH [--against V] "
        "[--schema FILE]` checks a table against a recorded version's schema; `mlops data "
        "drift PATH [--from V1] [--to V2]` compares two versions column by column.",
    )
    p.add_argument("path", metavar="PATH", nargs="?", help="one file, folder or DataFrame name")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=data_command)

    # `mlops data check PATH` and `mlops data drift PATH` (main() routes them here: `data`
    # itself takes an optional PATH, which argparse cannot share with sub-verbs)
    p = sub.add_parser("data-check", help=argparse.SUPPRESS)
    p.add_argument("path", metavar="PATH", help="a .csv, .tsv or .parquet file")
    p.add_argument(
        "--against", metavar="VERSION", help="a recorded version (hash prefix); default: the "
        "newest that passed its check"
    )  # fmt: skip
    p.add_argument("--schema", metavar="FILE", help="a pandera schema (YAML) instead")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=data_check_command, command="data check")

    p = sub.add_parser("data-drift", help=argparse.SUPPRESS)
    p.add_argument("path", metavar="PATH", help="a file or DataFrame name with two versions")
    p.add_argument("--from", dest="from_version", metavar="V1", help="hash prefix; default: "
                   "the version before --to")  # fmt: skip
    p.add_argument("--to", dest="to_version", metavar="V2", help="hash prefix; default: newest")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=data_drift_command, command="data drift")

    p = sub.add_parser("params", help="parameters of a run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=params_command)

    p = sub.add_parser("diff", help="two runs side by side: parameters, metrics, data, code")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=diff_command)
