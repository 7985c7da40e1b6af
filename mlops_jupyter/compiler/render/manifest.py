"""``pipeline.json``: the schema-versioned manifest every runner, executor and export reads."""

from __future__ import annotations

import hashlib
from typing import Any

from ..._version import __version__
from ..model import SCHEMA, SCHEMA_VERSION, Pipeline, Stage
from . import dump_compact_json


def code_hash(pipeline: Pipeline, stage: Stage) -> str:
    """Hash of what the stage executes: setup and stage code (part of its cache key)."""
    digest = hashlib.sha256()
    for cell in (*pipeline.setup, *stage.cells):
        digest.update(cell.source.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def manifest(
    pipeline: Pipeline, workdir: str = ".", files: dict[str, str] | None = None
) -> dict[str, Any]:
    """``files`` (relative path -> SHA-256 of the bytes written) is what this compile wrote
    besides the manifest itself: the only files a later compile into the folder may replace or
    delete without ``--force``."""
    data = pipeline.to_dict()
    data.pop("output")
    data.pop("notes")  # what explain shows about the source cells; no runner needs it
    data.pop("setup_cell_ids")  # setup_cells below are the ids; source_cells map them to numbers
    data.update(
        {
            "schema": SCHEMA,
            "schema_version": SCHEMA_VERSION,
            "compiler": f"mlops-jupyter {__version__}",
            "kernelspec": pipeline.kernelspec,
            "setup_cells": [c.ref for c in pipeline.setup],
            "workdir": workdir,
        }
    )
    if files is not None:
        data["files"] = dict(sorted(files.items()))
    for entry, stage in zip(data["stages"], pipeline.stages, strict=True):
        del entry["cell_numbers"]  # source_cells holds them, by id
        entry["notebook"] = f"stages/{stage.name}.ipynb"
        entry["code_hash"] = code_hash(pipeline, stage)
        entry["source_cells"] = {c.ref: c.index for c in stage.cells}
        entry["imports"] = list(stage.imports)
    return data


def render_manifest(
    pipeline: Pipeline, workdir: str = ".", files: dict[str, str] | None = None
) -> str:
    return dump_compact_json(manifest(pipeline, workdir, files))
