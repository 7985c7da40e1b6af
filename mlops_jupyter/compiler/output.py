"""The compiler's I/O edge: a notebook file in, a compiled pipeline folder out.

Everything between is :func:`~.build.build_pipeline`, which never touches the file system.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CompileError
from .build import build_pipeline
from .model import Pipeline
from .notebook import read_notebook


@contextmanager
def _no_gc() -> Iterator[None]:
    """Syntax trees are many small objects and no cycles: the cyclic GC only costs time here."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_pipeline(path: str | Path) -> Pipeline:
    """Read and compile a notebook file in memory (what ``mlops explain`` shows)."""
    with _no_gc():
        return build_pipeline(read_notebook(path))


@dataclass(frozen=True)
class Compiled:
    """A pipeline and the folder it was compiled into."""

    pipeline: Pipeline
    output: Path

    def to_dict(self) -> dict[str, Any]:
        return self.pipeline.to_dict(output=str(self.output))


def default_output(notebook: str | Path, pipeline: Pipeline) -> Path:
    """Where a pipeline compiles without ``-o``: one folder per version, under the project home."""
    from ..home import find_home

    return find_home(notebook) / "pipelines" / pipeline.name / pipeline.version


def render_files(pipeline: Pipeline, workdir: str = ".") -> dict[str, str]:
    """Every file of the compiled folder, by relative path; ``pipeline.json`` last.

    ``workdir`` is the notebook's folder relative to the output: stages run there, so relative
    paths in the user's code mean what they meant in the notebook.
    """
    from .render.manifest import render_manifest
    from .render.script import render_script
    from .render.stage import render_stage

    files = {f"stages/{s.name}.ipynb": render_stage(pipeline, s) for s in pipeline.stages}
    files["pipeline.py"] = render_script(pipeline)
    files["pipeline.json"] = render_manifest(
        pipeline, workdir
    )  # written last: it marks the folder complete
    return files


def write_compiled(
    pipeline: Pipeline, output: Path, protect: Path | None = None, workdir: str = "."
) -> None:
    """Write the compiled folder; only files that changed are rewritten, stale stages removed.

    ``protect`` (the source notebook) is never written or removed, wherever ``output`` points.
    """
    from ..files import write_atomic

    files = render_files(pipeline, workdir)
    if output.exists() and not output.is_dir():
        raise CompileError(
            f"output {output} exists and is not a folder.", hint="Pick another -o folder."
        )
    guarded = protect.resolve() if protect else None
    if guarded and any((output / rel).resolve() == guarded for rel in files):
        raise CompileError(
            f"output folder {output} would overwrite the source notebook.",
            notebook=str(protect),
            hint="Pick another -o folder.",
        )
    stages_dir = output / "stages"
    stages_dir.mkdir(parents=True, exist_ok=True)
    for old in stages_dir.glob("*.ipynb"):
        if f"stages/{old.name}" not in files and old.resolve() != guarded:
            old.unlink()
    for relative, text in files.items():
        target = output / relative
        data = text.encode()
        try:
            if target.read_bytes() == data:
                continue
        except OSError:
            pass
        write_atomic(target, data, fsync=False)
        if relative == "pipeline.py":
            target.chmod(0o755)


def compile_notebook(notebook: str | Path, output: str | Path | None = None) -> Compiled:
    """Compile a notebook file into a folder; nothing is written unless it compiles cleanly."""
    pipeline = load_pipeline(notebook)
    out = Path(output) if output is not None else default_output(notebook, pipeline)
    workdir = os.path.relpath(Path(notebook).resolve().parent, out.resolve())
    write_compiled(pipeline, out, protect=Path(notebook), workdir=Path(workdir).as_posix())
    return Compiled(pipeline, out)
