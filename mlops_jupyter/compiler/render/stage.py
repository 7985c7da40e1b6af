"""One stage as a papermill-ready notebook.

Cell order: ``parameters`` (papermill injects after it), setup cells, a cell that loads the
stage's inputs, the user's cells (each keeps its source cell id in ``metadata.mlops``), and a
cell that saves the values later stages read plus the stage's metrics.
"""

from __future__ import annotations

from typing import Any

from ..model import CodeCell, Pipeline, Stage
from . import dump_compact_json, identifier, literal

CONTEXT = "_mlops"  # the run context the runner injects as a papermill parameter
RUNTIME = "_mlops_values"


def _cell(
    cell_id: str, source: str, mlops: dict[str, Any], tags: list[str] | None = None
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"mlops": mlops}
    if tags:
        metadata["tags"] = tags
    return {
        "cell_type": "code",
        "execution_count": None,
        "id": cell_id,
        "metadata": metadata,
        "outputs": [],
        "source": source,
    }


def _user_cell(cell: CodeCell, role: str, used: set[str]) -> dict[str, Any]:
    cell_id = cell.ref
    while cell_id in used:  # a setup cell id never clashes with generated ids, but be sure
        cell_id += "-"
    used.add(cell_id)
    origin = {"id": cell.ref, "index": cell.index, "line_offset": cell.line_offset}
    return _cell(cell_id, cell.source, {"role": role, "source_cell": origin})


def _names(names: tuple[str, ...] | list[str]) -> str:
    return literal([identifier(n) for n in names])


def stage_notebook(pipeline: Pipeline, stage: Stage) -> dict[str, Any]:
    params = [
        f"{identifier(name)} = {literal(pipeline.parameters[name].default)}"
        for name in stage.parameters
    ]
    params.append(f"{CONTEXT} = None  # run context: injected by `mlops run`")
    cells = [_cell("mlops-parameters", "\n".join(params), {"role": "parameters"}, ["parameters"])]
    used = {"mlops-parameters", "mlops-inputs", "mlops-outputs"}
    cells += [_user_cell(c, "setup", used) for c in pipeline.setup]

    load = f"from mlops_jupyter import values as {RUNTIME}\n"
    if any("%mlops log" in c.source for c in (*pipeline.setup, *stage.cells)):
        load += 'get_ipython().extension_manager.load_extension("mlops_jupyter")\n'

    if stage.inputs:
        targets = ", ".join(map(identifier, stage.inputs)) + ("," if len(stage.inputs) == 1 else "")
        load += f"{targets} = {RUNTIME}.load_inputs({CONTEXT}, {_names(list(stage.inputs))})"
    else:
        load += f"{RUNTIME}.start({CONTEXT})"
    cells.append(_cell("mlops-inputs", load, {"role": "inputs"}))
    cells += [_user_cell(c, "code", used) for c in stage.cells]
    save = (
        f"{RUNTIME}.save_outputs({CONTEXT}, globals(), {_names(stage.outputs)}, "
        f"metrics={_names(stage.metrics)})"
    )
    cells.append(_cell("mlops-outputs", save, {"role": "outputs"}))
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": pipeline.kernelspec,
            "language_info": {"name": "python"},
            "mlops": {
                "pipeline": pipeline.name,
                "version": pipeline.version,
                "stage": stage.name,
                "source_notebook": pipeline.notebook,
            },
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def render_stage(pipeline: Pipeline, stage: Stage) -> str:
    return dump_compact_json(stage_notebook(pipeline, stage))
