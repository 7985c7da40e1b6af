"""The run request: what every face may ask of a run, validated once.

Two spellings reach it: argv (``mlops run``, ``%mlops run``, ``pipeline.py`` — through
:func:`add_run_options`) and JSON (``POST /mlops/api/runs``). Both become a :class:`RunRequest`
through :func:`run_request`, whose errors name the option the way the face's user wrote it
(``--jobs`` or ``'jobs'``). What needs the pipeline (parameter types, stage names) is checked by
the runner when the run starts, the same for every face.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping, Sequence
from typing import Any

from .errors import MlopsError, shown

# how each face names the fields in its messages
ARGV = {
    "parameters": "-p",
    "jobs": "--jobs",
    "no_cache": "--no-cache",
    "force": "--force",
    "stages": "--stages",
    "from_stage": "--from",
    "executor": "--executor",
    "address": "--address",
    "scheduler_file": "--scheduler-file",
}
JSON = {
    "parameters": "'parameters'",
    "jobs": "'jobs'",
    "no_cache": "'no_cache'",
    "force": "'force'",
    "stages": "'stages'",
    "from_stage": "'from'",
    "executor": "'executor'",
    "address": "'address'",
    "scheduler_file": "'scheduler_file'",
}
JSON_KEYS = {
    "path",
    "parameters",
    "stages",
    "from",
    "no_cache",
    "force",
    "jobs",
    "executor",
    "address",
    "scheduler_file",
}

# Limits on what a run request may carry, the same for every face. A parameter is recorded in the
# store and sent back with every run listed, so one pasted file would make every later `GET runs`
# that large; data belongs in a file the parameter names. The body limit is the server's (argv
# has the system's own), checked before the body is read.
MAX_BODY_BYTES = 1024 * 1024  # one REST request body: 1 MiB
MAX_VALUE_BYTES = 64 * 1024  # one parameter value (text as UTF-8, other values as JSON): 64 KiB
MAX_STAGE_NAMES = 1000  # in 'stages' or 'force'; a pipeline of more stages is not one to run here


class RunRequest:
    """A checked run request. A plain class, not a dataclass: ``mlops --help`` imports this
    module, and ``dataclasses`` would bring ``inspect`` and a dozen more modules with it."""

    __slots__ = (
        "address",
        "executor",
        "force",
        "from_stage",
        "jobs",
        "no_cache",
        "parameters",
        "scheduler_file",
        "stages",
    )

    def __init__(
        self,
        parameters: dict[str, Any] | None = None,  # text or JSON values by name
        jobs: int | None = None,
        no_cache: bool = False,
        force: list[str] | None = None,
        stages: list[str] | None = None,
        from_stage: str | None = None,
        executor: str = "local",
        address: str | None = None,  # the executor's: a Dask scheduler's tcp://HOST:PORT
        scheduler_file: str | None = None,  # or the JSON file `dask scheduler` wrote
    ) -> None:
        self.parameters = dict(parameters or {})
        self.jobs = jobs
        self.no_cache = no_cache
        self.force = list(force or [])
        self.stages = stages
        self.from_stage = from_stage
        self.executor = executor
        self.address = address
        self.scheduler_file = scheduler_file

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`mlops_jupyter.api.run` (parameters included)."""
        found = {
            name: getattr(self, name)
            for name in self.__slots__
            if name not in ("address", "scheduler_file")
        }
        where = {"address": self.address, "scheduler_file": self.scheduler_file}
        found["executor_options"] = {k: v for k, v in where.items() if v is not None}
        return found

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunRequest) and all(
            getattr(self, name) == getattr(other, name) for name in self.__slots__
        )

    def __repr__(self) -> str:
        return f"RunRequest({self.options()!r})"


def _names(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MlopsError(f"{name} must be a list of stage names.")
    if len(value) > MAX_STAGE_NAMES:
        raise MlopsError(
            f"{name} names {len(value):,} stages; at most {MAX_STAGE_NAMES:,} may be given.",
            hint="Name each stage once (stages a run needs are run anyway).",
        )
    return value


def value_bytes(value: Any) -> int:
    """The size a parameter value is held to: UTF-8 bytes of text, else of its JSON."""
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    import json  # only for JSON values: argv gives text, and `mlops --help` imports this module

    try:
        return len(json.dumps(value, default=str).encode("utf-8", "surrogatepass"))
    except (TypeError, ValueError, RecursionError):
        return 0  # not JSON (a cycle, say): the runner's type check says so


def _check_sizes(parameters: Mapping[Any, Any], name: str) -> None:
    for key, value in parameters.items():
        size = value_bytes(value)
        if size > MAX_VALUE_BYTES:
            raise MlopsError(
                f"the value of parameter {shown(key)} ({name}) is {size:,} bytes; it may be at "
                f"most 64 KiB ({MAX_VALUE_BYTES:,} bytes).",
                hint="Put the data in a file and pass its path.",
            )


def run_request(
    *,
    parameters: Any = None,
    jobs: Any = None,
    no_cache: Any = False,
    force: Any = None,
    stages: Any = None,
    from_stage: Any = None,
    executor: Any = None,
    address: Any = None,
    scheduler_file: Any = None,
    names: Mapping[str, str] = JSON,
) -> RunRequest:
    """A checked :class:`RunRequest` from loosely typed input; a bad field is an MlopsError.
    Whether ``executor`` names an installed executor is the runner's to say (it knows them)."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise MlopsError(f"{names['parameters']} must be an object {{name: value}}.")
    _check_sizes(parameters, names["parameters"])
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise MlopsError(f"{names['jobs']} must be a whole number of at least 1.")
    if not isinstance(no_cache, bool):
        raise MlopsError(f"{names['no_cache']} must be true or false.")
    if from_stage is not None and (not isinstance(from_stage, str) or not from_stage):
        raise MlopsError(f"{names['from_stage']} must be a stage name.")
    for key, value in (("executor", executor), ("address", address)):
        if value is not None and (not isinstance(value, str) or not value):
            raise MlopsError(f"{names[key]} must be text, e.g. {_EXAMPLES[key]}.")
    if scheduler_file is not None and (not isinstance(scheduler_file, str) or not scheduler_file):
        raise MlopsError(f"{names['scheduler_file']} must be the path of a scheduler file.")
    if address is not None and scheduler_file is not None:
        raise MlopsError(
            f"{names['address']} and {names['scheduler_file']} both say where the Dask scheduler "
            "is: give one."
        )
    if address is not None or scheduler_file is not None:
        given = names["address"] if address is not None else names["scheduler_file"]
        if executor in (None, "dask"):
            executor = "dask"  # only the dask executor has a scheduler to find
        else:
            raise MlopsError(f"{given} is for {names['executor']} dask, not {executor!r}.")
    return RunRequest(
        parameters=dict(parameters),
        jobs=jobs,
        no_cache=no_cache,
        force=_names(force, names["force"]) if force is not None else [],
        stages=_names(stages, names["stages"]) if stages is not None else None,
        from_stage=from_stage,
        executor=executor or "local",
        address=address,
        scheduler_file=scheduler_file,
    )


_EXAMPLES = {"executor": "'local' or 'dask'", "address": "tcp://10.0.0.5:8786"}


def from_json(body: Mapping[str, Any]) -> RunRequest:
    """The body of ``POST /mlops/api/runs`` (its ``path`` is the server's to resolve)."""
    unknown = sorted(set(body) - JSON_KEYS)
    if unknown:
        raise MlopsError(f"unknown keys: {', '.join(unknown)}.")
    return run_request(
        parameters=body.get("parameters"),
        jobs=body.get("jobs"),
        no_cache=body.get("no_cache", False),
        force=body.get("force"),
        stages=body.get("stages"),
        from_stage=body.get("from"),
        executor=body.get("executor"),
        address=body.get("address"),
        scheduler_file=body.get("scheduler_file"),
        names=JSON,
    )


# -- argv


PARAMETER_FLAGS = ("-p", "--param")


def join_name_value(words: Sequence[str]) -> list[str]:
    """papermill's ``-p NAME VALUE`` rewritten as ``-p NAME=VALUE``. A name never holds ``=``,
    so a word after ``-p`` without one is papermill's spelling, and the next word is its value
    whatever it looks like (``-p lr -0.5``), as papermill takes it."""
    out: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word == "--":
            out.extend(words[i:])
            break
        if word in PARAMETER_FLAGS and i + 2 < len(words):
            name = words[i + 1]
            if "=" not in name and not name.startswith("-"):
                out += [word, f"{name}={words[i + 2]}"]
                i += 3
                continue
        out.append(word)
        i += 1
    return out


def add_parameter_option(parser: argparse.ArgumentParser) -> None:
    """``-p NAME=VALUE`` (repeatable), also spelled ``-p NAME VALUE`` as papermill does."""
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter (repeatable; or -p NAME VALUE, as papermill writes it); the value "
        "is read as its declared type",
    )
    # argparse gives an option one fixed number of words, and this one takes one or two; so the
    # words are joined before this parser (a subcommand's too: argparse hands a subparser its
    # words through parse_known_args) sees them. Only a parser with -p is affected.
    parse = parser.parse_known_args

    def parse_known_args(args: Any = None, namespace: Any = None) -> Any:
        import sys

        return parse(join_name_value(sys.argv[1:] if args is None else list(args)), namespace)

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def parameters_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``-p`` values :func:`add_parameter_option` parsed, by name (text, typed later)."""
    from .runner.params import split_assignments

    return split_assignments(args.param)


def add_run_options(parser: argparse.ArgumentParser) -> None:
    add_parameter_option(parser)
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
    parser.add_argument(
        "--executor",
        metavar="NAME",
        help="where stages run: local (default), dask, or one a plug-in adds",
    )
    parser.add_argument(
        "--address",
        metavar="tcp://HOST:PORT",
        help="--executor dask: the scheduler to use (default: a LocalCluster for this run)",
    )
    parser.add_argument(
        "--scheduler-file", metavar="FILE", help="--executor dask: the scheduler's file"
    )


def split_list(values: Sequence[str] | None) -> list[str]:
    """``["a,b", "c"]`` -> ``["a", "b", "c"]``."""
    return [part for value in values or [] for part in value.split(",") if part]


def from_args(args: argparse.Namespace) -> RunRequest:
    """The run options :func:`add_run_options` parsed."""
    return run_request(
        parameters=parameters_from_args(args),
        jobs=args.jobs,
        no_cache=args.no_cache,
        force=split_list(args.force),
        stages=split_list([args.stages]) if args.stages else None,
        from_stage=args.from_stage,
        executor=args.executor,
        address=args.address,
        scheduler_file=args.scheduler_file,
        names=ARGV,
    )


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``api.run`` from parsed run options; bad ones are an MlopsError."""
    return from_args(args).options()


# -- the schedule request (``mlops schedule add``, ``%mlops schedule add``, ``POST schedules``)

SCHEDULE_JSON_KEYS = {
    "name",
    "path",
    "cron",
    "parameters",
    "tz",
    "catch_up",
    "max_catch_up",
    "overlap",
    "pin",
    "on_failure",
}
SCHEDULE_VERBS = {
    "add": "add a schedule",
    "list": "list schedules",
    "show": "show one schedule",
    "pause": "stop firing (until resume)",
    "resume": "fire again, from the next time on",
    "rm": "remove a schedule and its history (its runs stay)",
    "history": "a schedule's fires, newest first",
    "export": "a crontab line or systemd units that fire it through `mlops scheduler --once`",
}


def schedule_request(
    *,
    name: Any,
    cron: Any,
    parameters: Any = None,
    tz: Any = None,
    catch_up: Any = "latest",
    max_catch_up: Any = 10,
    overlap: Any = "skip",
    pin: Any = False,
    on_failure: Any = None,
    names: Mapping[str, str] = JSON,
) -> dict[str, Any]:
    """Keyword arguments for ``api.schedule_add`` (all but the target), their types checked;
    the values themselves (cron, zone, policies, parameters against the pipeline) are checked
    by the schedule model, the same for every face."""
    for key, value in (("name", name), ("cron", cron)):
        if not isinstance(value, str):
            raise MlopsError(f"'{key}' must be text.", hint="For example 'cron': '0 2 * * *'.")
    for key, value in (
        ("tz", tz),
        ("catch_up", catch_up),
        ("overlap", overlap),
        ("on_failure", on_failure),
    ):
        if value is not None and not isinstance(value, str):
            raise MlopsError(f"'{key}' must be text.")
    if isinstance(max_catch_up, bool) or not isinstance(max_catch_up, int):
        raise MlopsError("'max_catch_up' must be a whole number of at least 1.")
    if not isinstance(pin, bool):
        raise MlopsError("'pin' must be true or false.")
    checked = run_request(parameters=parameters, names=names)
    return {
        "name": name,
        "cron": cron,
        "parameters": checked.parameters,
        "tz": tz or None,
        "catch_up": catch_up or "latest",
        "max_catch_up": max_catch_up,
        "overlap": overlap or "skip",
        "pin": pin,
        "on_failure": on_failure or None,
    }


def schedule_from_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body of ``POST /mlops/api/schedules`` (its ``path`` is the server's to resolve)."""
    unknown = sorted(set(body) - SCHEDULE_JSON_KEYS)
    if unknown:
        raise MlopsError(
            f"unknown keys: {', '.join(unknown)}.",
            hint=f"A schedule request has {', '.join(sorted(SCHEDULE_JSON_KEYS))}.",
        )
    fields = {k: body[k] for k in SCHEDULE_JSON_KEYS - {"path"} if k in body}
    for required in ("name", "cron"):
        fields.setdefault(required, None)
    return schedule_request(**fields, names=JSON)


def schedule_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The ``schedule add`` options :func:`add_schedule_verbs` parsed."""
    return schedule_request(
        name=args.name,
        cron=args.cron,
        parameters=parameters_from_args(args),
        tz=args.tz,
        catch_up=args.catch_up,
        max_catch_up=args.max_catch_up,
        overlap=args.overlap,
        pin=args.pin,
        on_failure=args.on_failure,
        names=ARGV,
    )


def add_schedule_verbs(verbs: Any, *, target_optional: bool = False) -> dict[str, Any]:
    """The schedule verbs and their options on a subparsers object, the same for ``mlops
    schedule`` and ``%mlops schedule`` (where the target defaults to the notebook itself).
    Returns the parsers by verb, for the face to attach its handlers."""
    parsers: dict[str, Any] = {}
    q = parsers["add"] = verbs.add_parser("add", help=SCHEDULE_VERBS["add"])
    q.add_argument("name", metavar="NAME")
    q.add_argument("target", metavar="NOTEBOOK|DIR", nargs="?" if target_optional else None)
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

    q = parsers["list"] = verbs.add_parser("list", help=SCHEDULE_VERBS["list"])
    q.add_argument("--json", action="store_true")
    for verb in ("show", "pause", "resume", "rm", "history"):
        q = parsers[verb] = verbs.add_parser(verb, help=SCHEDULE_VERBS[verb])
        q.add_argument("name", metavar="NAME")
        q.add_argument("--json", action="store_true")
    q = parsers["export"] = verbs.add_parser("export", help=SCHEDULE_VERBS["export"])
    q.add_argument("name", metavar="NAME")
    kind = q.add_mutually_exclusive_group(required=True)
    kind.add_argument("--crontab", action="store_const", const="crontab", dest="kind")
    kind.add_argument("--systemd", action="store_const", const="systemd", dest="kind")
    return parsers


# -- the model registry's one write over REST: POST /mlops/api/models/{name}/aliases

MODEL_ALIAS_KEYS = frozenset({"version", "alias", "promote", "require", "reason"})
MAX_REQUIREMENTS = 50


def model_alias_from_json(body: Mapping[str, Any]) -> dict[str, Any]:
    """``{"version": V, "alias": A, "promote": bool, "require": [..], "reason": str|null}``,
    checked: the version a positive whole number, requirements and reason text (the registry
    checks what they say)."""
    unknown = sorted(set(body) - MODEL_ALIAS_KEYS)
    if unknown:
        raise MlopsError(
            f"unknown keys: {', '.join(unknown)}.",
            hint=f"An alias request has {', '.join(sorted(MODEL_ALIAS_KEYS))}.",
        )
    version, alias = body.get("version"), body.get("alias")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise MlopsError(f"'version' must be a version number (1, 2, ...), not {shown(version)}.")
    if not isinstance(alias, str) or not alias:
        raise MlopsError("'alias' must be the alias's name (text), for example 'champion'.")
    require = body.get("require", [])
    if not isinstance(require, list) or not all(isinstance(r, str) for r in require):
        raise MlopsError("'require' must be a list of requirements as text, like 'rmse<=0.5'.")
    if len(require) > MAX_REQUIREMENTS:
        raise MlopsError(f"at most {MAX_REQUIREMENTS} requirements, not {len(require)}.")
    reason = body.get("reason")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_VALUE_BYTES):
        raise MlopsError("'reason' must be text (at most 64 KiB), or null.")
    promote = body.get("promote", bool(require))
    if not isinstance(promote, bool):
        raise MlopsError("'promote' must be true or false.")
    if require and not promote:
        raise MlopsError("requirements are checked only by a promotion: send 'promote': true.")
    return {
        "version": version,
        "alias": alias,
        "promote": promote,
        "require": require,
        "reason": reason,
    }
