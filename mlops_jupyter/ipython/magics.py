"""``%mlops`` line magics and the ``%%mlops stage NAME`` cell marker, over ``api`` and ``widgets``.

Loaded by ``%load_ext mlops_jupyter`` (or ``c.InteractiveShellApp.extensions``). Loading costs
only this module and ``tags``: the runner, ipywidgets and papermill are imported when a verb
needs them.
"""

from __future__ import annotations

import argparse
import shlex
import threading
import time
from concurrent.futures import wait
from pathlib import Path
from typing import Any, NoReturn

from IPython.core.magic import Magics, line_cell_magic, magics_class
from IPython.display import display

from .. import api
from ..compiler.tags import MAGIC_PREFIX, TagError, parse_magic_line
from ..errors import MlopsError
from ..request import split_list
from ..session import MagicError, current_notebook, install_error_display, notebook_for

HELP = """\
%mlops — pipelines, runs, metrics and data from inside the notebook

  %%mlops stage NAME [--after A,B] [--no-cache] [--retries N] [--timeout S]
        first line of a cell: the cell runs as usual and starts pipeline stage NAME
  %mlops explain [NOTEBOOK] [--json]       stages, parameters and data flow (writes nothing)
  %mlops compile [NOTEBOOK] [-o DIR [--force]]  the compiled pipeline folder
  %mlops run [NOTEBOOK|DIR] [-p k=v ...] [-j N] [--no-cache] [--force S] [--stages a,b]
             [--from S] [--background]
        run the notebook as saved on disk (save it first) with a live stage graph;
        waits for the end (interrupt the kernel to stop it) unless --background
  %mlops runs [--limit N] [--all]          run history of this notebook (--all: the project's)
  %mlops show [RUN]                        one run's stage graph, parameters and metrics
  %mlops metrics [KEY ...] [--runs N] [--minimize K,...]
                                           runs x metrics table and a chart per metric
  %mlops data [PATH]                       data versions: hash, size, shape, schema changes,
                                           drift against the version before, failed checks
  %mlops models [NAME]                     logged models: versions x metrics, aliases
  %mlops monitor NAME[@ALIAS] [--window 1h]
                                           a served model's requests, errors, latency, input
                                           drift against its training data, prediction shift
  %mlops log key=value ... [--step N] [--param]
                                           log metrics (or, with --param, parameters)
  %mlops schedule add NAME [NOTEBOOK|DIR] --cron EXPR [-p k=v ...] [--tz TZ]
             [--catch-up skip|latest|all] [--overlap skip|queue] [--pin]
        run this notebook on a cron schedule (fired by JupyterLab's server while it runs,
        and by `mlops scheduler`); also: schedule list, show NAME, pause NAME,
        resume NAME, rm NAME, history NAME, export NAME --crontab|--systemd
  %mlops help                              this text

The notebook is the one JupyterLab (JPY_SESSION_NAME) or VS Code (__vsc_ipynb_file__) says
this kernel serves; elsewhere pass --notebook PATH (every verb above but log and help takes it).
In Python: mlops_jupyter.show_run(), show_metrics(), show_data(), show_models(),
show_monitor().
"""


VERBS = (
    "explain",
    "compile",
    "run",
    "runs",
    "show",
    "metrics",
    "data",
    "models",
    "monitor",
    "log",
    "schedule",
    "help",
)


class _Usage(Exception):
    """argparse asked to stop: an error message, or help already printed."""

    def __init__(self, message: str | None) -> None:
        super().__init__(message)
        self.message = message


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise _Usage(f"{message}. See %mlops help.")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise _Usage(message.strip() if message else None)


def build_parser() -> argparse.ArgumentParser:
    from ..request import add_run_options, add_schedule_verbs

    parser = _Parser(prog="%mlops", add_help=False)
    sub = parser.add_subparsers(dest="verb", parser_class=_Parser)

    def verb(name: str, text: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=text, description=text)
        return p

    def notebook_option(p: argparse.ArgumentParser) -> None:
        # the same option on every verb that needs the notebook or its store: HELP offers it
        # for all of them, so no verb may refuse it
        p.add_argument("--notebook", metavar="PATH", help="the notebook, when it cannot be found")

    def notebook_args(p: argparse.ArgumentParser, what: str = "NOTEBOOK") -> None:
        p.add_argument("target", nargs="?", metavar=what)
        notebook_option(p)

    p = verb("explain", "stages, parameters and data flow")
    notebook_args(p)
    p.add_argument("--json", action="store_true")

    p = verb("compile", "compile into a pipeline folder")
    notebook_args(p)
    p.add_argument("-o", "--output", metavar="DIR")
    p.add_argument("--force", action="store_true", help="write into a folder holding other files")

    p = verb("run", "run the pipeline with a live stage graph")
    notebook_args(p, "NOTEBOOK|DIR")
    add_run_options(p)
    p.add_argument("--background", action="store_true")

    p = verb("runs", "run history")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--all", action="store_true")
    notebook_option(p)

    p = verb("show", "one run")
    p.add_argument("run", nargs="?", default=None, metavar="RUN")
    notebook_option(p)

    p = verb("metrics", "runs x metrics")
    p.add_argument("keys", nargs="*", metavar="KEY")
    p.add_argument("--runs", type=int, default=20)
    p.add_argument("--minimize", action="append", default=[], metavar="K,...")
    notebook_option(p)

    p = verb("data", "data versions")
    p.add_argument("path", nargs="?", metavar="PATH")
    notebook_option(p)

    p = verb("models", "logged models: versions x metrics, aliases")
    p.add_argument("name", nargs="?", metavar="NAME")
    notebook_option(p)

    p = verb("monitor", "a served model's traffic, latency and drift")
    p.add_argument("ref", metavar="NAME[@ALIAS]")
    p.add_argument("--window", default="1h", metavar="AGE")
    notebook_option(p)

    p = verb("log", "log metrics or parameters")
    p.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    p.add_argument("--step", type=int)
    p.add_argument("--param", action="store_true")

    p = verb("schedule", "cron schedules")
    schedule_verbs = p.add_subparsers(dest="schedule_verb", parser_class=_Parser, required=True)
    for q in add_schedule_verbs(schedule_verbs, target_optional=True).values():
        notebook_option(q)

    verb("help", "usage")
    p = verb("_stage", "the %%mlops stage line, rewritten (internal)")
    p.add_argument("words", nargs=argparse.REMAINDER)
    return parser


class _Rich:
    """Something to display: HTML for the notebook, text for terminals and static renders."""

    def __init__(self, html: str, text: str) -> None:
        self.html, self.text = html, text

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, str]:
        return {"text/html": self.html, "text/plain": self.text}


def stage_line_transformer(lines: list[str]) -> list[str]:
    """IPython input transformer: a first line ``%%mlops ...`` becomes one ordinary statement.

    The cell then runs as a plain cell — its last expression is displayed, an exception
    fails it once with its own traceback, and line numbers stay those of the cell — instead
    of being re-run from inside a cell magic. A bad stage line stops the cell before its code.
    """
    if not lines:
        return lines
    first = lines[0]
    rest = first[len(MAGIC_PREFIX) :]
    if not first.startswith(MAGIC_PREFIX) or rest[:1] not in (" ", "\t", "\n", "\r", ""):
        return lines
    call = f"get_ipython().run_line_magic('mlops', {'_stage ' + rest.strip()!r})\n"
    return [call, *lines[1:]]


@magics_class
class MlopsMagics(Magics):
    def __init__(self, shell: Any) -> None:
        super().__init__(shell)
        self.parser = build_parser()
        self.stage: str | None = None  # the stage the last %%mlops cell marked

    # -- entry

    @line_cell_magic
    def mlops(self, line: str, cell: str | None = None) -> Any:
        """Pipelines from the notebook: %mlops help lists the verbs."""
        __tracebackhide__ = True  # IPython leaves this frame out of tracebacks
        if cell is not None:
            # reached only when the input transformer was bypassed (e.g. run_cell_magic)
            self._mark(shlex.split(line))
            assert self.shell is not None
            result = self.shell.run_cell(cell, store_history=False)
            result.raise_error()
            return None
        try:
            words = shlex.split(line, posix=True)
        except ValueError as exc:
            raise MagicError(f"%mlops: cannot read {line!r} ({exc}).") from None
        if not words or words[0] in ("help", "-h", "--help"):
            print(HELP)
            return None
        verb = words[0]
        if verb not in VERBS and verb != "_stage":
            raise MagicError(
                f"%mlops: unknown verb {verb!r}; the verbs are {', '.join(VERBS)}. See %mlops help."
            )
        try:
            args = self.parser.parse_args(words)
        except _Usage as stop:
            if stop.message:
                raise MagicError(f"%mlops {verb}: {stop.message}") from None
            return None
        try:
            return getattr(self, f"_{args.verb.lstrip('_')}")(args)
        except MagicError:
            raise
        except MlopsError as exc:
            raise MagicError(f"%mlops {verb}: {exc}") from None

    # -- verbs

    def _mark(self, words: list[str]) -> None:
        try:
            found = parse_magic_line(" ".join([MAGIC_PREFIX, *words]))
        except TagError as exc:
            text = exc.message + (f" {exc.hint}" if exc.hint else "")
            raise MagicError(f"%%mlops: {text}") from None
        self.stage = str(found["stage"])

    def _stage(self, args: argparse.Namespace) -> None:
        self._mark(args.words)

    def _notebook(self, args: argparse.Namespace) -> Path:
        given = getattr(args, "target", None) or getattr(args, "notebook", None)
        return notebook_for(self.shell, given)

    def _where(self, args: argparse.Namespace) -> Path | None:
        """The notebook whose store a read verb looks in: ``--notebook``, else the session's
        (None: the working folder's store)."""
        if args.notebook:
            return notebook_for(self.shell, args.notebook)
        return current_notebook(self.shell)

    def _explain(self, args: argparse.Namespace) -> None:
        pipeline = api.explain(self._notebook(args))
        if args.json:
            from ..views.text import strict_json

            print(strict_json(pipeline))
            return
        from ..views.explain import explain_text

        print(explain_text(pipeline), end="")

    def _compile(self, args: argparse.Namespace) -> None:
        compiled = api.compile(self._notebook(args), args.output, force=args.force)
        print(
            f"Compiled pipeline '{compiled['pipeline']}' version {compiled['version']} "
            f"({len(compiled['stages'])} stages) into {compiled['output']}"
        )
        for warning in compiled["warnings"]:
            print(f"warning: {warning}")

    def _run(self, args: argparse.Namespace) -> None:
        from ..request import run_options
        from .widgets import RunView, track_live

        options = run_options(args)
        target = self._notebook(args)
        view = RunView()

        def finished(handle: api.RunHandle) -> None:
            if handle.error is not None:
                view.finish(message=f"the run stopped: {handle.error}")
            else:
                view.finish(handle.result)

        # The run goes on a worker thread and this (the kernel's) thread waits for it:
        # - widget updates are comm messages; ipykernel sends them from any thread, so the graph
        #   redraws live while the cell is busy;
        # - "Interrupt kernel" raises KeyboardInterrupt here, in a wait, never inside a SQLite
        #   write or a widget update; we set the run's cancel Event and the runner stops kernels
        #   and records the run as interrupted, exactly as Ctrl-C does for the CLI;
        # - the cell ends when the run ends, so "Run All" and papermill see the next cell
        #   (e.g. %mlops metrics) only after the run is recorded. --background returns at once.
        handle = api.start_run(
            target,
            listeners=[view.listener],
            on_done=finished,
            handle=api.RunHandle(cancel=view.cancel),
            origin="magic",
            **options,
        )
        done = handle.done
        try:
            wait([handle.recorded])
        except KeyboardInterrupt:
            self._stop(view, done)
            raise
        if handle.error is not None and handle.run_id is None:
            done.wait()  # it did not start: a bad parameter, notebook, stage name...
            view.close()
            raise handle.error
        if (
            target.is_file()
        ):  # the run reads the file: say how old it is (unsaved edits are not in it)
            view.set_note(f"{target.name} as saved {_ago(time.time() - target.stat().st_mtime)}")
        if args.background:
            track_live(view)
            view.show_stop(True)
            display(view)
            return
        shown = display(view, display_id=True)
        try:
            while not done.wait(0.5):
                view.tick()
        except KeyboardInterrupt:
            self._stop(view, done)
            raise
        finally:
            if shown is not None:
                shown.update(view)  # the saved notebook's text/html fallback: the final picture
        if handle.error is not None:
            raise handle.error

    @staticmethod
    def _stop(view: Any, done: threading.Event) -> None:
        """Interrupted: cancel the run and wait until the runner has recorded it. (An Event, not
        Thread.join: before Python 3.13 a join that KeyboardInterrupt broke into can return early
        on the next call.)"""
        view.cancel.set()
        while not done.wait(0.5):
            view.tick()

    def _runs(self, args: argparse.Namespace) -> None:
        where = self._where(args)
        notebook = None if args.all else where
        runs = api.runs(where or Path.cwd(), limit=args.limit, notebook=notebook)
        from ..views.tables import runs_table_html
        from ..views.text import runs_table

        display(_Rich(runs_table_html(runs), runs_table(runs)))

    def _show(self, args: argparse.Namespace) -> None:
        from .widgets import show_run

        display(show_run(args.run, where=self._where(args)))

    def _metrics(self, args: argparse.Namespace) -> None:
        from .widgets import show_metrics

        display(
            show_metrics(
                args.keys or None,
                args.runs,
                minimize=split_list(args.minimize) or None,
                where=self._where(args),
            )
        )

    def _data(self, args: argparse.Namespace) -> None:
        from .widgets import show_data

        display(show_data(args.path, where=self._where(args)))

    def _models(self, args: argparse.Namespace) -> None:
        from .widgets import show_models

        display(show_models(args.name, where=self._where(args)))

    def _monitor(self, args: argparse.Namespace) -> None:
        from .widgets import show_monitor

        display(show_monitor(args.ref, window=args.window, where=self._where(args)))

    def _log(self, args: argparse.Namespace) -> None:
        from ..tracking import runtime as mlops

        values: dict[str, Any] = {}
        for pair in args.pairs:
            key, sep, text = pair.partition("=")
            if not sep or not key:
                raise MlopsError(f"{pair!r} is not KEY=VALUE.", hint="Write e.g. accuracy=0.93.")
            values[key] = text if args.param else _number(key, text)
        if args.param:
            for key, value in values.items():
                mlops.log_param(key, value)
        else:
            mlops.log_metrics(values, step=args.step)

    def _schedule(self, args: argparse.Namespace) -> None:
        """The CLI's schedule verbs, the target defaulting to this notebook and the store to
        its own."""
        from ..views.text import history_table, schedules_table, strict_json

        verb = args.schedule_verb
        result: Any
        if verb == "add":
            from ..request import schedule_from_args

            result = api.schedule_add(target=self._notebook(args), **schedule_from_args(args))
            text = f"schedule {result['name']} added: next fire {result['next_fire']}"
        else:
            where = self._where(args) or Path.cwd()
            if verb == "list":
                result = api.schedules(where)
                text = schedules_table(result)
            elif verb == "export":
                print(api.schedule_export(args.name, args.kind, where), end="")
                return
            elif verb == "history":
                result = api.schedule_history(args.name, where)
                text = history_table(args.name, result)
            elif verb == "rm":
                result = api.schedule_remove(args.name, where)
                text = f"schedule {args.name} removed (its runs stay)"
            elif verb == "show":
                result = api.schedule_show(args.name, where)
                text = schedules_table([result])
            else:
                result = api.schedule_enable(args.name, verb == "resume", where)
                text = schedules_table([result])
        print(strict_json(result) if args.json else text)

    def _help(self, args: argparse.Namespace) -> None:
        print(HELP)


def _number(key: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise MlopsError(
            f"{key}={text!r}: a metric is a number.",
            hint="Log text with --param, e.g. %mlops log --param model=forest.",
        ) from None


def _ago(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f}s ago"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.1f} h ago"


def load(shell: Any) -> None:
    """Register the magics, the ``%%mlops`` line transformer and clean MlopsError display."""
    shell.register_magics(MlopsMagics)
    if stage_line_transformer not in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.append(stage_line_transformer)
    install_error_display(shell)


def unload(shell: Any) -> None:
    if stage_line_transformer in shell.input_transformers_cleanup:
        shell.input_transformers_cleanup.remove(stage_line_transformer)
