"""The run options every face parses the same way (``mlops run``, ``%mlops run``, ``pipeline.py``).

Arguments in, keyword arguments for :func:`mlops_jupyter.api.run` out, so the faces cannot drift.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .errors import MlopsError
from .runner.params import split_assignments


def add_run_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter (repeatable); the value is read as its declared type",
    )
    parser.add_argument(
        "-j", "--jobs", type=int, default=None, help="stages at once (default: cores)"
    )
    parser.add_argument(
        "--no-cache", action="store_true", help="run every stage, ignoring the cache"
    )
    parser.add_argument(
        "--force",
        action="append",
        default=[],
        metavar="STAGE",
        help="rerun this stage even if cached (repeatable, or a,b)",
    )
    parser.add_argument(
        "--stages", metavar="A,B", help="run only these stages (upstream values from the cache)"
    )
    parser.add_argument(
        "--from", dest="from_stage", metavar="STAGE", help="run this stage and all after it"
    )


def split_list(values: Sequence[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``."""
    return [part for value in values or [] for part in value.split(",") if part]


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``api.run`` from parsed run options; bad ones are an MlopsError."""
    if args.jobs is not None and args.jobs < 1:
        raise MlopsError("--jobs needs a number of at least 1.")
    return {
        "parameters": split_assignments(args.param),
        "jobs": args.jobs,
        "no_cache": args.no_cache,
        "force": split_list(args.force),
        "stages": split_list([args.stages]) if args.stages else None,
        "from_stage": args.from_stage,
    }
