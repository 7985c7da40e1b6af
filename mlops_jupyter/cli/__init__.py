"""The ``mlops`` command: a thin face over the core. Imports are lazy so ``--help`` stays instant."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .._version import __version__
from ..errors import MlopsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _cmd_explain(args: argparse.Namespace) -> int:
    from .. import api
    from ..views.explain import explain_text
    from .output import print_json

    pipeline = api.explain(args.notebook)
    if args.json:
        print_json(pipeline)
    else:
        sys.stdout.write(explain_text(pipeline, ids=args.ids))
    return EXIT_OK


def _cmd_compile(args: argparse.Namespace) -> int:
    from .. import api
    from .output import print_json

    compiled = api.compile(args.notebook, args.output, force=args.force)
    if args.json:
        print_json(compiled)
    else:
        out = compiled["output"]
        print(
            f"Compiled pipeline '{compiled['pipeline']}' version {compiled['version']} "
            f"({len(compiled['stages'])} stages) into {out}"
        )
        print(f"Run it:  mlops run {out}   or   python {out}/pipeline.py")
    for warning in compiled["warnings"]:
        print(f"warning: {warning}", file=sys.stderr)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace) -> int:
    from .run import run_command

    return run_command(args)


def _cmd_runs(args: argparse.Namespace) -> int:
    from .run import runs_command

    return runs_command(args)


def _cmd_show(args: argparse.Namespace) -> int:
    from .run import show_command

    return show_command(args)


def _cmd_verify(args: argparse.Namespace) -> int:
    from .run import verify_command

    return verify_command(args)


def _cmd_gc(args: argparse.Namespace) -> int:
    from .run import gc_command

    return gc_command(args)


def _cmd_runs_rm(args: argparse.Namespace) -> int:
    from .run import runs_rm_command

    return runs_rm_command(args)


def _cmd_doctor(args: argparse.Namespace) -> int:
    from .run import doctor_command

    return doctor_command(args)


def build_parser() -> argparse.ArgumentParser:
    from ..request import add_parameter_option, add_run_options

    parser = argparse.ArgumentParser(
        prog="mlops",
        description="Turn a tagged Jupyter notebook into a versioned, cached, recorded pipeline.",
    )
    parser.add_argument("--version", action="version", version=f"mlops-jupyter {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("explain", help="show stages, parameters and data flow (writes nothing)")
    p.add_argument("notebook")
    p.add_argument("--ids", action="store_true", help="show each cell's id beside its number")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_explain)

    p = sub.add_parser("compile", help="compile a notebook into a pipeline folder")
    p.add_argument("notebook")
    p.add_argument(
        "-o",
        "--output",
        metavar="DIR",
        help="output folder (default .mlops/pipelines/NAME/VERSION)",
    )
    p.add_argument(
        "--force",
        action="store_true",
        help="write into a folder holding files mlops did not write (they are never deleted)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_compile)

    p = sub.add_parser("run", help="run a notebook or compiled pipeline, recording the run")
    p.add_argument("target", metavar="NOTEBOOK|COMPILED_DIR")
    add_run_options(p)
    p.add_argument("--json", action="store_true", help="print the run as one JSON object")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser(
        "verify", help="run as the pipeline and top to bottom in one kernel, and compare"
    )
    p.add_argument("notebook")
    add_parameter_option(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=_cmd_verify)

    p = sub.add_parser("runs", help="list runs, newest first (`mlops runs rm RUN...` removes runs)")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_runs)
    runs_sub = p.add_subparsers(dest="runs_command", metavar="rm")
    p = runs_sub.add_parser(
        "rm", help="remove runs (records, folders, values only they used); never a running one"
    )
    p.add_argument("runs", metavar="RUN", nargs="+", help="run id, unique prefix, or latest")
    p.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_runs_rm)

    p = sub.add_parser("show", help="show one run")
    p.add_argument("run", metavar="RUN")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_show)

    from .records import add_commands  # metrics, data, params, diff

    add_commands(sub)

    p = sub.add_parser(
        "gc", help="remove old runs (if asked), then stored values nothing kept refers to"
    )
    p.add_argument("--keep-last", type=int, metavar="N", help="remove runs beyond the newest N")
    p.add_argument(
        "--older-than", metavar="AGE", help="remove runs started more than AGE ago (30d, 12h)"
    )
    p.add_argument("--dry-run", action="store_true", help="say what would go; remove nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_gc)

    from .export import add_commands as add_export_commands  # export airflow|kfp|docker
    from .schedule import add_commands as add_schedule_commands  # schedule ..., scheduler

    add_schedule_commands(sub)
    add_export_commands(sub)

    from .models import add_commands as add_model_commands  # models, model show|alias|promote

    add_model_commands(sub)

    from .serve import add_commands as add_serve_commands  # serve, monitor

    add_serve_commands(sub)

    p = sub.add_parser("doctor", help="check the store: database, objects, leftovers")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_doctor)
    return parser


DATA_VERBS = ("check", "drift")  # `mlops data VERB PATH`: see cli/records.py


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["data"] and len(argv) > 1 and argv[1] in DATA_VERBS:
        argv[:2] = [f"data-{argv[1]}"]  # a file called 'check' is ./check
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args))
    except MlopsError as exc:
        print(f"mlops {args.command}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("mlops: interrupted", file=sys.stderr)
        return EXIT_FAILED
    except BrokenPipeError:
        return EXIT_FAILED
    except Exception as exc:
        if type(exc).__module__ != "sqlite3":  # our own bug: its traceback is the report
            raise
        # a database whose damage opening it did not show (a page deep inside)
        from pathlib import Path

        from ..home import find_home

        database = find_home(Path.cwd()) / "mlops.db"
        print(
            f"mlops {args.command}: the store's database ({database}) cannot be read ({exc}). "
            "`mlops doctor` says what is wrong and what to do.",
            file=sys.stderr,
        )
        return EXIT_USAGE


def entry() -> None:
    """The ``mlops`` command (console script, ``python -m mlops_jupyter``): :func:`main`, then the
    process ends at once. Everything a command writes is committed (SQLite transactions, files
    written whole and renamed) and its kernels, servers and threads are stopped before it
    returns; what the interpreter's own teardown would add is unloading papermill, zmq and
    jupyter_client module by module: ~80 ms after every run, a tenth of a small pipeline's
    time. ``main`` itself returns, for callers in a process of their own (``pipeline.py``)."""
    import os

    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`mlops runs | head`): nothing to flush to
            pass
    os._exit(code)


if __name__ == "__main__":
    entry()
