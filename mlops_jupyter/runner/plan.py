"""A compiled pipeline folder, read back from its ``pipeline.json`` into what the runner needs."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..compiler.model import SCHEMA, SCHEMA_VERSION
from ..errors import MlopsError, RefusedError, shown


@dataclass(frozen=True)
class StagePlan:
    name: str
    notebook: Path
    after: tuple[str, ...]
    inputs: dict[str, str]
    outputs: tuple[str, ...]
    parameters: tuple[str, ...]
    metrics: tuple[str, ...]
    options: dict[str, Any]
    code_hash: str
    imports: tuple[str, ...]
    source_cells: dict[str, int] = field(default_factory=dict)
    why: dict[str, dict[str, Any]] = field(default_factory=dict)  # where inputs/outputs are used


@dataclass(frozen=True)
class Plan:
    name: str
    version: str
    folder: Path
    notebook: str
    workdir: Path
    kernel_name: str
    parameters: dict[str, dict[str, Any]]
    stages: tuple[StagePlan, ...]  # in an order where every stage comes after its upstreams
    notebook_order: tuple[str, ...] = ()  # the stages as the notebook has them (top to bottom)

    def stage(self, name: str) -> StagePlan:
        return next(s for s in self.stages if s.name == name)

    def consumers(self) -> dict[str, dict[str, list[str]]]:
        """stage -> value -> the stages that read it."""
        found: dict[str, dict[str, list[str]]] = {}
        for stage in self.stages:
            for value, producer in stage.inputs.items():
                found.setdefault(producer, {}).setdefault(value, []).append(stage.name)
        return found


def _topological(stages: list[StagePlan]) -> tuple[StagePlan, ...]:
    """Notebook order, moved only as far as ``after:`` edges to later stages demand."""
    done: set[str] = set()
    ordered: list[StagePlan] = []
    waiting = list(stages)
    while waiting:
        ready = next((s for s in waiting if set(s.after) <= done), None)
        if ready is None:
            raise MlopsError(
                "the compiled pipeline has a cycle.", hint="Compile the notebook again."
            )
        waiting.remove(ready)
        ordered.append(ready)
        done.add(ready.name)
    return tuple(ordered)


def _stage_notebook(folder: Path, manifest: Path, entry: dict[str, Any]) -> Path:
    """A stage's notebook, refused unless its real path is inside the compiled folder: what a
    folder runs is what it holds, so a copied or edited pipeline.json cannot run code from
    elsewhere (the server runs folders under its root on request)."""
    named = entry.get("notebook")
    notebook = folder / named if isinstance(named, str) else None
    if notebook is None or os.path.commonpath([folder, os.path.realpath(notebook)]) != str(folder):
        raise RefusedError(
            f"{manifest}: the notebook of stage '{entry.get('name')}' ({shown(named)}) is outside "
            f"the compiled folder.",
            hint="Compile the notebook again; a compiled folder runs only the stage notebooks "
            "it holds.",
        )
    return notebook


def load_plan(folder: str | Path) -> Plan:
    folder = Path(folder).resolve()
    manifest_path = folder / "pipeline.json"
    try:
        data = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise MlopsError(
            f"{folder} is not a compiled pipeline (no pipeline.json).",
            hint="Give a notebook, or a folder made by `mlops compile`.",
        ) from None
    except (OSError, ValueError) as exc:
        raise MlopsError(
            f"{manifest_path} cannot be read ({exc}).", hint="Compile the notebook again."
        ) from None
    if data.get("schema") != SCHEMA or data.get("schema_version") != SCHEMA_VERSION:
        raise MlopsError(
            f"{manifest_path} has schema {data.get('schema_version')!r}; this mlops-jupyter reads "
            f"{SCHEMA_VERSION}.",
            hint="Compile the notebook again with this version.",
        )
    stages = []
    for entry in data["stages"]:
        notebook = _stage_notebook(folder, manifest_path, entry)
        if not notebook.is_file():
            raise MlopsError(f"{notebook} is missing.", hint="Compile the notebook again.")
        stages.append(
            StagePlan(
                name=entry["name"],
                notebook=notebook,
                after=tuple(entry["after"]),
                inputs=dict(entry["from"]),
                outputs=tuple(entry["outputs"]),
                parameters=tuple(entry["parameters"]),
                metrics=tuple(entry["metrics"]),
                options=dict(entry["options"]),
                code_hash=entry["code_hash"],
                imports=tuple(entry.get("imports", ())),
                source_cells=dict(entry.get("source_cells", {})),
                why=dict(entry.get("why", {})),
            )
        )
    workdir = (folder / data.get("workdir", ".")).resolve()
    if not workdir.is_dir():
        workdir = Path.cwd()  # the folder was moved away from its notebook: run where we are
    return Plan(
        name=data["pipeline"],
        version=data["version"],
        folder=folder,
        notebook=data["notebook"],
        workdir=workdir,
        kernel_name=data.get("kernelspec", {}).get("name", "python3"),
        parameters=data["parameters"],
        stages=_topological(stages),
        notebook_order=tuple(s.name for s in stages),
    )


def select(plan: Plan, stages: list[str] | None, from_stage: str | None) -> list[str]:
    """The stages to run for ``--stages a,b`` / ``--from s`` (all of them by default)."""
    names = [s.name for s in plan.stages]
    for name in [*(stages or []), *([from_stage] if from_stage else [])]:
        if name not in names:
            raise MlopsError(
                f"pipeline '{plan.name}' has no stage '{name}'.",
                hint="Its stages are: " + ", ".join(names) + ".",
            )
    chosen = set(stages or ())
    if from_stage:
        chosen.add(from_stage)
        for stage in plan.stages:  # topological order: downstream follows upstream
            if chosen & set(stage.after):
                chosen.add(stage.name)
    return [n for n in names if n in chosen] if chosen else names
