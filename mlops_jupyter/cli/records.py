"""``mlops metrics``, ``data``, ``params`` and ``diff``: argument handling and printing only.

Imports of what the commands print with stay inside them: ``mlops --help`` imports this module.

``--json`` output is strict JSON: NaN and infinities (which the store keeps) print as ``null``,
as the server's REST API sends them, so ``jq`` and JavaScript can read it.
"""

from __future__ import annotations

import argparse
import math
from typing import Any


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def metrics_command(args: argparse.Namespace) -> int:
    from .. import api
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
                _number(points[-1]["value"]),
                _number(min(values) if values else None),
                _number(max(values) if values else None),
                f"{min(steps)}..{max(steps)}" if steps else "-",
                points[-1]["stage"] or "-",
            ]
        )
    print(f"run {run_id}")
    print(table(["metric", "points", "last", "min", "max", "steps", "stage"], rows))
    return 0


def data_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.text import changes_line, human_size, schema_changes, shape
    from .output import print_json, table

    versions = api.data(args.path, limit=args.limit)
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
    from .output import print_json, table

    found = api.diff(args.run_a, args.run_b)
    if args.json:
        print_json(found)
        return 0

    def show(value: Any) -> str:
        if isinstance(value, str) and len(value) == 64:  # a content hash
            return value[:12]
        return "-" if value is None else _number(value) if isinstance(value, float) else str(value)

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

    p = sub.add_parser("data", help="data versions tracked, newest first")
    p.add_argument("path", metavar="PATH", nargs="?", help="one file, folder or DataFrame name")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=data_command)

    p = sub.add_parser("params", help="parameters of a run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=params_command)

    p = sub.add_parser("diff", help="two runs side by side: parameters, metrics, data, code")
    p.add_argument("run_a", metavar="RUN_A")
    p.add_argument("run_b", metavar="RUN_B")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=diff_command)
