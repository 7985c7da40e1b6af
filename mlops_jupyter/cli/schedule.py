"""``mlops schedule add|list|show|pause|resume|rm|history`` and ``mlops scheduler``: argument
handling and printing only (the work is ``api.schedule_*`` / ``api.scheduler``).

Imports of what the commands call stay inside them: ``mlops --help`` imports this module."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    from ..request import add_parameter_option

    p = sub.add_parser("schedule", help="run a notebook on a cron schedule (see `mlops scheduler`)")
    verbs = p.add_subparsers(dest="schedule_command", metavar="VERB")
    p.set_defaults(func=lambda args, schedule=p: (schedule.print_help(), 2)[1])

    q = verbs.add_parser("add", help="add a schedule")
    q.add_argument("name", metavar="NAME")
    q.add_argument("target", metavar="NOTEBOOK|DIR")
    q.add_argument(
        "--cron", required=True, metavar="EXPR", help="5 fields, 6 with seconds first, or @daily"
    )
    add_parameter_option(q)
    q.add_argument("--tz", metavar="TZ", help="IANA time zone (default: the machine's)")
    q.add_argument(
        "--catch-up",
        default="latest",
        metavar="skip|latest|all",
        help="after downtime: fire no missed time, the latest (default), or all",
    )
    q.add_argument(
        "--max-catch-up",
        type=int,
        default=10,
        metavar="N",
        help="with --catch-up all: at most N missed fires (default 10)",
    )
    q.add_argument(
        "--overlap",
        default="skip",
        metavar="skip|queue",
        help="a fire due while the last run goes: skip it (default) or run it after",
    )
    q.add_argument(
        "--pin",
        action="store_true",
        help="compile now and always run this version (default: the notebook as saved)",
    )
    q.add_argument("--on-failure", metavar="CMD", help="shell command run when a fired run fails")
    q.add_argument("--json", action="store_true", help="print the schedule as one JSON object")
    q.set_defaults(func=add_command)

    q = verbs.add_parser("list", help="list schedules")
    q.add_argument("--json", action="store_true")
    q.set_defaults(func=list_command)
    for verb, text in (
        ("show", "show one schedule"),
        ("pause", "stop firing (until resume)"),
        ("resume", "fire again, from the next time on"),
        ("rm", "remove a schedule and its history (its runs stay)"),
        ("history", "a schedule's fires, newest first"),
    ):
        q = verbs.add_parser(verb, help=text)
        q.add_argument("name", metavar="NAME")
        q.add_argument("--json", action="store_true")
        q.set_defaults(func=one_command)

    p = sub.add_parser("scheduler", help="fire due schedules until stopped (Ctrl-C, SIGTERM)")
    p.add_argument("--once", action="store_true", help="fire what is due now, wait, exit")
    p.add_argument(
        "--poll",
        type=float,
        default=5.0,
        metavar="S",
        help="look for new or changed schedules at least every S seconds (default 5)",
    )
    p.add_argument("--lease", type=float, default=None, metavar="S", help=argparse.SUPPRESS)
    p.set_defaults(func=scheduler_command)


def _line(s: dict[str, Any]) -> list[str]:
    state = "on" if s["enabled"] else "paused"
    return [s["name"], s["cron"], s["tz"], state, s["next_fire"] or "-", s["target"]]


HEADER = ["NAME", "CRON", "TZ", "STATE", "NEXT FIRE", "TARGET"]


def add_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..request import ARGV, parameters_from_args, run_request
    from .output import print_json

    checked = run_request(parameters=parameters_from_args(args), names=ARGV)  # sizes, as run
    schedule = api.schedule_add(
        args.name,
        args.target,
        cron=args.cron,
        parameters=checked.parameters,
        tz=args.tz,
        catch_up=args.catch_up,
        max_catch_up=args.max_catch_up,
        overlap=args.overlap,
        pin=args.pin,
        on_failure=args.on_failure,
    )
    if args.json:
        print_json(schedule)
    else:
        print(f"schedule {schedule['name']} added: next fire {schedule['next_fire']}")
        print("Fire it:  mlops scheduler   (or `mlops scheduler --once` from cron/systemd)")
    return 0


def list_command(args: argparse.Namespace) -> int:
    from .. import api
    from .output import print_json, table

    found = api.schedules()
    if args.json:
        print_json(found)
    elif found:
        print(table(HEADER, [_line(s) for s in found]))
    else:
        print("no schedules (add one: mlops schedule add NAME NOTEBOOK --cron '0 2 * * *')")
    return 0


def one_command(args: argparse.Namespace) -> int:
    from .. import api
    from .output import print_json, table

    verb = args.schedule_command
    result: Any
    if verb == "show":
        result = api.schedule_show(args.name)
    elif verb in ("pause", "resume"):
        result = api.schedule_enable(args.name, verb == "resume")
    elif verb == "rm":
        result = api.schedule_remove(args.name)
    else:
        result = api.schedule_history(args.name)
    if args.json:
        print_json(result)
    elif verb == "history":
        rows = [
            [f["scheduled_for"], f["fired_at"] or "-", f["run_id"] or "-", f["status"], f["reason"]]
            for f in result
        ]
        print(
            table(["SCHEDULED FOR", "FIRED AT", "RUN", "STATUS", "REASON"], rows)
            if rows
            else f"schedule {args.name} has not fired yet"
        )
    elif verb == "rm":
        print(f"schedule {args.name} removed (its runs stay)")
    else:
        print(table(HEADER, [_line(result)]))
    return 0


def scheduler_command(args: argparse.Namespace) -> int:
    if args.poll <= 0:
        from ..errors import MlopsError

        raise MlopsError(
            f"--poll {args.poll} must be more than 0 seconds.", hint="For example --poll 5."
        )
    from .. import api

    api.scheduler(once=args.once, poll=args.poll, lease=args.lease)
    return 0
