"""``mlops schedule add|list|show|pause|resume|rm|history|export`` and ``mlops scheduler``:
argument handling and printing only (the verbs and their options are ``request``'s, shared with
``%mlops schedule``; the work is ``api.schedule_*`` / ``api.scheduler``).

Imports of what the commands call stay inside them: ``mlops --help`` imports this module."""

from __future__ import annotations

import argparse
from typing import Any


def add_commands(sub: Any) -> None:
    from ..request import add_schedule_verbs

    p = sub.add_parser("schedule", help="run a notebook on a cron schedule (see `mlops scheduler`)")
    verbs = p.add_subparsers(dest="schedule_command", metavar="VERB")
    p.set_defaults(func=lambda args, schedule=p: (schedule.print_help(), 2)[1])
    for parser in add_schedule_verbs(verbs).values():
        parser.set_defaults(func=schedule_command)

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


def schedule_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.text import history_table, schedules_table
    from .output import print_json

    verb = args.schedule_command
    result: Any
    if verb == "add":
        from ..request import schedule_from_args

        result = api.schedule_add(target=args.target, **schedule_from_args(args))
        if not args.json:
            print(f"schedule {result['name']} added: next fire {result['next_fire']}")
            print("Fire it:  mlops scheduler   (or `mlops scheduler --once` from cron/systemd)")
    elif verb == "list":
        result = api.schedules()
        if not args.json:
            print(schedules_table(result))
    elif verb == "export":
        print(api.schedule_export(args.name, args.kind), end="")
        return 0
    elif verb == "history":
        result = api.schedule_history(args.name)
        if not args.json:
            print(history_table(args.name, result))
    elif verb == "rm":
        result = api.schedule_remove(args.name)
        if not args.json:
            print(f"schedule {args.name} removed (its runs stay)")
    else:
        if verb == "show":
            result = api.schedule_show(args.name)
        else:
            result = api.schedule_enable(args.name, verb == "resume")
        if not args.json:
            print(schedules_table([result]))
    if args.json:
        print_json(result)
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
