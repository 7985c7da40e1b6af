"""``mlops metrics``, ``data``, ``params`` and ``diff``: argument handling and printing only.

``--json`` output is strict JSON: NaN and infinities (which the store keeps) print as ``null``,
as the server's REST API sends them, so ``jq`` and JavaScript can read it.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any


def json_safe(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None (JSON has no NaN or Infinity)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def _print_json(value: Any) -> None:
    sys.stdout.write(json.dumps(json_safe(value), indent=2, default=str, allow_nan=False) + "\n")


def _number(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _size(size: int | None) -> str:
    if size is None:
        return "-"
    amount = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if amount < 1000 or unit == "GB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1000
    return str(size)  # not reached


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    return "\n".join(lines)


def metrics_command(args: argparse.Namespace) -> int:
    from . import api

    series = api.metrics(args.run, args.key or None)
    if args.json:
        _print_json(series)
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
    print(_table(["metric", "points", "last", "min", "max", "steps", "stage"], rows))
    return 0


def _shape(version: dict[str, Any]) -> str:
    if version.get("columns") is not None:
        return f"{version.get('rows')}x{len(version['columns'])}"
    if version.get("kind") == "directory":
        return f"{version.get('files')} files"
    return "-"


def _describe_diff(diff: dict[str, Any]) -> str:
    parts = []
    if diff.get("added"):
        parts.append("+" + ", +".join(diff["added"]))
    if diff.get("removed"):
        parts.append("-" + ", -".join(diff["removed"]))
    for column, (old, new) in diff.get("dtypes", {}).items():
        parts.append(f"{column}: {old} -> {new}")
    if diff.get("rows"):
        parts.append(f"rows {diff['rows'][0]} -> {diff['rows'][1]}")
    return "; ".join(parts)


def data_command(args: argparse.Namespace) -> int:
    from . import api

    versions = api.data(args.path, limit=args.limit)
    if args.json:
        _print_json(versions)
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
                _size(v["size"]),
                _shape(v),
                "changed" if v.get("changed") else ("new" if not v.get("previous") else ""),
                v["path"],
            ]
        )
    print(_table(["time", "run", "stage", "hash", "size", "shape", "", "path"], rows))
    if args.path:  # one data set: say what changed between its versions
        for v in versions:
            if v.get("schema_diff"):
                print(
                    f"  {v['hash'][:12]} vs {str(v.get('previous'))[:12]}: {_describe_diff(v['schema_diff'])}"
                )
    return 0


def params_command(args: argparse.Namespace) -> int:
    from . import api

    values = api.params(args.run)
    if args.json:
        _print_json(values)
        return 0
    if not values:
        print(f"run {api.show(args.run)['run_id']} has no parameters")
    for name, value in values.items():
        print(f"{name} = {json.dumps(json_safe(value))}")
    return 0


def diff_command(args: argparse.Namespace) -> int:
    from . import api

    found = api.diff(args.run_a, args.run_b)
    if args.json:
        _print_json(found)
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
    print(_table(["", found["a"], found["b"]], rows))
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
