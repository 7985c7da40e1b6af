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

from .errors import MlopsError

# how each face names the fields in its messages
ARGV = {
    "parameters": "-p",
    "jobs": "--jobs",
    "no_cache": "--no-cache",
    "force": "--force",
    "stages": "--stages",
    "from_stage": "--from",
}
JSON = {
    "parameters": "'parameters'",
    "jobs": "'jobs'",
    "no_cache": "'no_cache'",
    "force": "'force'",
    "stages": "'stages'",
    "from_stage": "'from'",
}
JSON_KEYS = {"path", "parameters", "stages", "from", "no_cache", "force", "jobs"}


class RunRequest:
    """A checked run request. A plain class, not a dataclass: ``mlops --help`` imports this
    module, and ``dataclasses`` would bring ``inspect`` and a dozen more modules with it."""

    __slots__ = ("force", "from_stage", "jobs", "no_cache", "parameters", "stages")

    def __init__(
        self,
        parameters: dict[str, Any] | None = None,  # text or JSON values by name
        jobs: int | None = None,
        no_cache: bool = False,
        force: list[str] | None = None,
        stages: list[str] | None = None,
        from_stage: str | None = None,
    ) -> None:
        self.parameters = dict(parameters or {})
        self.jobs = jobs
        self.no_cache = no_cache
        self.force = list(force or [])
        self.stages = stages
        self.from_stage = from_stage

    def options(self) -> dict[str, Any]:
        """Keyword arguments for :func:`mlops_jupyter.api.run` (parameters included)."""
        return {name: getattr(self, name) for name in self.__slots__}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RunRequest) and self.options() == other.options()

    def __repr__(self) -> str:
        return f"RunRequest({self.options()!r})"


def _names(value: Any, name: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise MlopsError(f"{name} must be a list of stage names.")
    return value


def run_request(
    *,
    parameters: Any = None,
    jobs: Any = None,
    no_cache: Any = False,
    force: Any = None,
    stages: Any = None,
    from_stage: Any = None,
    names: Mapping[str, str] = JSON,
) -> RunRequest:
    """A checked :class:`RunRequest` from loosely typed input; a bad field is an MlopsError."""
    if parameters is None:
        parameters = {}
    if not isinstance(parameters, dict):
        raise MlopsError(f"{names['parameters']} must be an object {{name: value}}.")
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise MlopsError(f"{names['jobs']} must be a whole number of at least 1.")
    if not isinstance(no_cache, bool):
        raise MlopsError(f"{names['no_cache']} must be true or false.")
    if from_stage is not None and (not isinstance(from_stage, str) or not from_stage):
        raise MlopsError(f"{names['from_stage']} must be a stage name.")
    return RunRequest(
        parameters=dict(parameters),
        jobs=jobs,
        no_cache=no_cache,
        force=_names(force, names["force"]) if force is not None else [],
        stages=_names(stages, names["stages"]) if stages is not None else None,
        from_stage=from_stage,
    )


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
        names=JSON,
    )


# -- argv


def add_parameter_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-p",
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set a parameter (repeatable); the value is read as its declared type",
    )


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
        names=ARGV,
    )


def run_options(args: argparse.Namespace) -> dict[str, Any]:
    """Keyword arguments for ``api.run`` from parsed run options; bad ones are an MlopsError."""
    return from_args(args).options()
