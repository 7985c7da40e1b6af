"""``mlops models`` and ``mlops model show|alias|promote|history``: arguments and printing only
(the work is ``api.model_*``, the rules ``tracking/models.py``).

Imports of what the commands call stay inside them: ``mlops --help`` imports this module."""

from __future__ import annotations

import argparse
from typing import Any

EXIT_OK, EXIT_REFUSED = 0, 1


def add_commands(sub: Any) -> None:
    p = sub.add_parser("models", help="list logged models: versions, newest, aliases")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=models_command)

    p = sub.add_parser("model", help="show a model version, set an alias, promote with gates")
    verbs = p.add_subparsers(dest="model_command", metavar="VERB")
    p.set_defaults(func=lambda args, model=p: (model.print_help(), 2)[1])

    v = verbs.add_parser("show", help="a version's lineage and signature")
    v.add_argument("ref", metavar="NAME[@V|@ALIAS]")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=show_command)

    v = verbs.add_parser("alias", help="point ALIAS at a version (no requirements; recorded)")
    v.add_argument("ref", metavar="NAME@V")
    v.add_argument("alias", metavar="ALIAS")
    v.add_argument("--reason", metavar="TEXT", help="why (kept with the move)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=alias_command)

    v = verbs.add_parser(
        "promote", help="move ALIAS to a version only if its run succeeded and requirements hold"
    )
    v.add_argument("ref", metavar="NAME@V")
    v.add_argument("--to", required=True, metavar="ALIAS", dest="alias")
    v.add_argument(
        "--require",
        action="append",
        default=[],
        metavar="REQ",
        help="rmse<=0.5 (threshold), accuracy>=+0.01 (change from the alias's version), "
        "accuracy>=+2%% (relative change); repeatable",
    )
    v.add_argument("--reason", metavar="TEXT", help="why (kept with the move)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=promote_command)

    v = verbs.add_parser("history", help="every move of a model's aliases: who, when, why")
    v.add_argument("name", metavar="NAME")
    v.add_argument("--json", action="store_true")
    v.set_defaults(func=history_command)


def models_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.models import models_table
    from .output import print_json

    found = api.models()
    if args.json:
        print_json(found)
    else:
        print(models_table(found))
    return EXIT_OK


def show_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.models import model_text
    from .output import print_json

    record = api.model_show(args.ref)
    if args.json:
        print_json(record)
    else:
        print(model_text(record))
    return EXIT_OK


def alias_command(args: argparse.Namespace) -> int:
    from .. import api
    from .output import print_json

    result = api.model_alias(args.ref, args.alias, reason=args.reason)
    if args.json:
        print_json(result)
    elif result["moved"]:
        before = "nowhere" if result["from"] is None else f"version {result['from']}"
        print(f"{result['name']}@{args.alias} moved from {before} to version {result['to']}")
    else:
        print(f"{result['name']}@{args.alias} is already version {result['to']}")
    return EXIT_OK


def promote_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.models import promotion_text
    from .output import print_json

    result = api.model_promote(args.ref, args.alias, requires=args.require, reason=args.reason)
    if args.json:
        print_json(result)
    else:
        print(promotion_text(result))
    return EXIT_OK if result["moved"] or result["already"] else EXIT_REFUSED


def history_command(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.models import moves_table
    from .output import print_json

    moves = api.model_history(args.name)
    if args.json:
        print_json(moves)
    else:
        print(moves_table(moves))
    return EXIT_OK
