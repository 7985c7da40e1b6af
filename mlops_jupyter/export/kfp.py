"""``mlops export kfp``: a Kubeflow Pipelines (v2) YAML, one container component per stage.

Written by the kfp SDK itself (``dsl.container_component``, ``dsl.pipeline``, the compiler), so
what KFP loads is what KFP wrote. Each task runs its stage through our runner inside the image
(``mlops export docker`` builds the default one)::

    env MLOPS_HOME=<mlops_home> python -m mlops_jupyter run /pipeline --stages S -p NAME=VALUE...

(``env`` the command, the rest its arguments.)

Every parameter value reaches ``-p`` through a KFP input placeholder (the component's typed
input), never as text in a command or a shell: there is no shell. Upstream values come from the
store at ``mlops_home`` (a pipeline parameter, default ``/mlops``), which every task must see: the
runner finds the upstream stages cached there, as ``mlops run --stages`` always does. KFP owns
retries (``MLOPS_NO_RETRIES=1``, ``set_retry``); KFP's own cache is off, because its key (inputs
and image) does not see the data files a stage tracked, which ours does.
"""

from __future__ import annotations

import inspect
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import MlopsError
from . import MARKER, ExportResult, write_generated
from .docker import PIPELINE, STORE, image_name

if TYPE_CHECKING:
    from ..runner.plan import Plan, StagePlan

HOME_PARAMETER = "mlops_home"

# Our parameter types as KFP's: list and dict are LIST and STRUCT, which KFP hands to the
# command as JSON (what `-p` reads for them). A None default ("none") takes any value: a STRING
# whose default "None" `-p` reads back as None.
TYPES: dict[str, type] = {
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "list": list,
    "dict": dict,
    "none": str,
}


def pipeline_name(plan: Plan) -> str:
    """KFP's pipeline name rule: lowercase letters, digits and dashes."""
    return re.sub(r"[^a-z0-9-]+", "-", plan.name.lower()).strip("-")[:128] or "pipeline"


def export(plan: Plan, output: Path, options: dict[str, Any]) -> ExportResult:
    """Write the YAML to ``output``; ``options``: ``image`` (default: the image ``mlops export
    docker`` tags), ``force``."""
    if output.is_dir():
        raise MlopsError(
            f"{output} is a folder; mlops export kfp writes one YAML file.",
            hint=f"Give a file: -o {output / (pipeline_name(plan) + '.yaml')}.",
        )
    image = str(options.get("image") or image_name(plan))
    text = compile_yaml(plan, image)
    write_generated(output, text, force=bool(options.get("force")))
    timeouts = [s.name for s in plan.stages if s.options.get("timeout")]
    notes = [
        f"Each task runs in the image {image}"
        + (
            ""
            if options.get("image")
            else f" (build it with mlops export docker, push it, and export with "
            f"--image REGISTRY/{image})"
        )
        + f"; it holds the compiled pipeline at {PIPELINE}.",
        f"Mount one shared volume at the path the pipeline parameter {HOME_PARAMETER} names "
        f"(default {STORE}) in every task (a PVC, e.g. kfp-kubernetes' mount_pvc): it is the "
        "store that hands values from stage to stage and records the runs. Without it, each task "
        "computes its upstream stages again in its own container.",
        "The store is SQLite in WAL mode: tasks that run at the same time must reach it on one "
        "node's file system (e.g. a ReadWriteOnce volume, tasks pinned to that node), not over "
        "NFS from several nodes.",
        "Each task is recorded as a run of its own in that store (mlops runs lists them); KFP's "
        "cache is off and KFP owns retries.",
    ]
    if timeouts:
        notes.append(
            "Timeouts (" + ", ".join(timeouts) + ") are enforced by mlops inside the task: the KFP "
            "SDK has no per-task timeout."
        )
    return ExportResult("kfp", output, [output], notes)


def _kfp() -> Any:
    try:
        import kfp  # noqa: F401
        from kfp import compiler, dsl
    except ImportError:
        raise MlopsError(
            "mlops export kfp needs the Kubeflow Pipelines SDK (kfp>=2.17,<3), which is not "
            "installed here.",
            hint="pip install 'mlops-jupyter[kfp]', in a venv of its own: kfp pins requests "
            "exactly, which may downgrade the one Jupyter uses.",
        ) from None
    return dsl, compiler


def _parameters(plan: Plan) -> dict[str, tuple[type, Any]]:
    """name -> (KFP type, default), in the notebook's order, ``mlops_home`` first."""
    if HOME_PARAMETER in plan.parameters:
        raise MlopsError(
            f"the pipeline has a parameter named '{HOME_PARAMETER}', the name the KFP export "
            "gives the store's path.",
            hint="Rename that parameter in the notebook's parameters cell.",
        )
    found: dict[str, tuple[type, Any]] = {HOME_PARAMETER: (str, STORE)}
    for name, spec in plan.parameters.items():
        kind = spec.get("type")
        if kind not in TYPES:
            raise MlopsError(f"parameter '{name}' has type {kind!r}, which KFP cannot carry.")
        default = spec.get("default")
        found[name] = (TYPES[kind], "None" if kind == "none" else default)
    return found


def _signature(parameters: dict[str, tuple[type, Any]], defaults: bool) -> inspect.Signature:
    """A function signature built from data: kfp reads a component's and a pipeline's inputs
    (names, types, defaults) from the signature, so nothing is generated as code."""
    kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [
            inspect.Parameter(name, kind, annotation=annotation, default=default)
            if defaults
            else inspect.Parameter(name, kind, annotation=annotation)
            for name, (annotation, default) in parameters.items()
        ]
    )


def _component(dsl: Any, stage: StagePlan, image: str, parameters: dict[str, Any]) -> Any:
    names = list(parameters)

    def body(*inputs: Any) -> Any:
        given = dict(zip(names, inputs, strict=True))
        # placeholders only in args, where every KFP backend resolves them (Concat included)
        args: list[Any] = [
            dsl.ConcatPlaceholder(["MLOPS_HOME=", given[HOME_PARAMETER]]),
            "python",
            "-m",
            "mlops_jupyter",
            "run",
            PIPELINE,
            "--stages",
            stage.name,
        ]
        for name in names[1:]:
            args += ["-p", dsl.ConcatPlaceholder([f"{name}=", given[name]])]
        return dsl.ContainerSpec(image=image, command=["env"], args=args)

    # the component's name comes from the function's
    body.__name__ = body.__qualname__ = stage.name.replace("-", "_")
    body.__doc__ = f"Stage {stage.name} of the pipeline, run by mlops-jupyter."
    body.__signature__ = _signature(parameters, defaults=False)  # type: ignore[attr-defined]
    return dsl.container_component(body)


def compile_yaml(plan: Plan, image: str) -> str:
    """The pipeline's KFP YAML, with our marker line first. The same plan and image give the
    same bytes (kfp writes no time; its version is in ``sdkVersion``)."""
    from ..runner.run import NO_RETRIES

    parameters = _parameters(plan)
    dsl, compiler = _kfp()
    names = list(parameters)
    components = {s.name: _component(dsl, s, image, parameters) for s in plan.stages}

    def pipeline(*inputs: Any) -> None:
        given = dict(zip(names, inputs, strict=True))
        tasks: dict[str, Any] = {}
        for stage in plan.stages:  # upstreams first
            task = components[stage.name](**given)
            task.set_display_name(stage.name)
            task.set_caching_options(False)
            task.set_env_variable(NO_RETRIES, "1")
            task.set_env_variable("MLOPS_ORIGIN", "kfp")  # what `mlops runs` says started it
            retries = int(stage.options.get("retries") or 0)
            if retries > 0:
                task.set_retry(retries)
            for upstream in stage.after:
                task.after(tasks[upstream])
            tasks[stage.name] = task

    pipeline.__name__ = pipeline.__qualname__ = plan.name.replace("-", "_")
    pipeline.__signature__ = _signature(parameters, defaults=True)  # type: ignore[attr-defined]
    name = pipeline_name(plan)
    description = f"{name} {plan.version}: a notebook pipeline exported by mlops-jupyter."
    graph = dsl.pipeline(name=name, description=description)(pipeline)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "pipeline.yaml")
        compiler.Compiler().compile(graph, str(path))
        text = path.read_text(encoding="utf-8")
    head = f"# {MARKER} (mlops export kfp) {__version__} from pipeline {name} {plan.version}.\n"
    return head + text
