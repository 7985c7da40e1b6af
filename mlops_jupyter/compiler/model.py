"""The pipeline model: plain data, built by :mod:`mlops_jupyter.compiler.build`, read by everything else."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .analysis import Use

SCHEMA = "mlops-jupyter/pipeline"
SCHEMA_VERSION = 1

# JSON-facing names of the parameter types, keyed by the Python type of the literal.
PARAMETER_TYPES: dict[type, str] = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "str",
    list: "list",
    dict: "dict",
    type(None): "none",
}


@dataclass(frozen=True)
class Parameter:
    name: str
    default: Any
    type: str  # one of PARAMETER_TYPES' values
    cell: int
    cell_id: str | None
    line: int


@dataclass(frozen=True)
class CodeCell:
    """A user cell as it goes into a stage notebook; ``ref`` maps errors back to the source."""

    index: int
    ref: str
    source: str  # as the stage runs it (a ``%%mlops stage`` first line is removed)
    tags: tuple[str, ...] = ()
    line_offset: int = 0  # lines removed from the top: source line = stage line + offset


@dataclass(frozen=True)
class Stage:
    name: str
    cells: tuple[CodeCell, ...]
    after: tuple[str, ...]  # every upstream stage: explicit ``after:`` and data flow
    inputs: dict[str, str]  # value name -> producing stage
    outputs: tuple[str, ...]  # values some later stage reads
    parameters: tuple[str, ...]  # pipeline parameters this stage (or setup) reads
    metrics: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    reads: dict[str, Use] = field(default_factory=dict)
    writes: dict[str, Use] = field(default_factory=dict)
    explicit_after: tuple[str, ...] = ()
    imports: tuple[str, ...] = ()  # dotted names of the modules setup and stage import

    def to_dict(self) -> dict[str, Any]:
        ids = {cell.index: cell.ref for cell in self.cells}
        return {
            "name": self.name,
            "after": list(self.after),
            "inputs": list(self.inputs),
            "outputs": list(self.outputs),
            "cells": [cell.ref for cell in self.cells],
            "cell_numbers": [cell.index for cell in self.cells],  # as users count them
            "options": dict(self.options),
            "parameters": list(self.parameters),
            "metrics": list(self.metrics),
            "from": dict(self.inputs),
            # where each input is first read and each output last written: the "why"
            "why": {
                name: {"cell": use.cell, "id": ids.get(use.cell), "line": use.line, "how": use.how}
                for name, use in [
                    *((n, self.reads[n]) for n in self.inputs if n in self.reads),
                    *((n, self.writes[n]) for n in self.outputs if n in self.writes),
                ]
            },
            "explicit_after": list(self.explicit_after),
        }


@dataclass(frozen=True)
class Pipeline:
    name: str
    version: str
    notebook: str  # the source notebook's file name (never a machine-specific path)
    parameters: dict[str, Parameter]
    setup: tuple[CodeCell, ...]
    stages: tuple[Stage, ...]
    kernelspec: dict[str, Any] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    # cells that run differently from how they look (left out, or continuing a stage past cells
    # left out): {"cell", "id", "kind", "stage", "text"}; for `mlops explain`, not pipeline.json
    notes: tuple[dict[str, Any], ...] = ()

    def stage(self, name: str) -> Stage:
        for stage in self.stages:
            if stage.name == name:
                return stage
        raise KeyError(name)

    def parameters_json(self) -> dict[str, dict[str, Any]]:
        return {p.name: {"default": p.default, "type": p.type} for p in self.parameters.values()}

    def to_dict(self, output: str | None = None) -> dict[str, Any]:
        """The object ``mlops explain --json`` and ``mlops compile --json`` print."""
        return {
            "pipeline": self.name,
            "version": self.version,
            "output": output,
            "notebook": self.notebook,
            "parameters": self.parameters_json(),
            "stages": [stage.to_dict() for stage in self.stages],
            "setup_cells": [cell.index for cell in self.setup],
            "setup_cell_ids": [cell.ref for cell in self.setup],
            "parameter_cells": {
                p.name: {"cell": p.cell, "id": p.cell_id, "line": p.line}
                for p in self.parameters.values()
            },
            "warnings": list(self.warnings),
            "notes": [dict(note) for note in self.notes],
        }
