"""The compiler's I/O edge: a notebook file in, a compiled pipeline folder out.

Everything between is :func:`~.build.build_pipeline`, which never touches the file system.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CompileError, shown
from .build import build_pipeline
from .model import SCHEMA, Pipeline
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


MANIFEST = "pipeline.json"
# A compiled folder run from elsewhere may open its store inside it: made by mlops, never the
# user's, and never a compile's to touch.
STORE = ".mlops"
_SHOWN = 8  # files named in a refusal; the rest are counted


def render_files(pipeline: Pipeline, workdir: str = ".") -> dict[str, str]:
    """Every file of the compiled folder, by relative path; ``pipeline.json`` last.

    ``workdir`` is the notebook's folder relative to the output: stages run there, so relative
    paths in the user's code mean what they meant in the notebook. The manifest lists the others
    with their hashes: what a later compile into the folder may replace or delete.
    """
    from .render.manifest import render_manifest
    from .render.script import render_script
    from .render.stage import render_stage

    files = {f"stages/{s.name}.ipynb": render_stage(pipeline, s) for s in pipeline.stages}
    files["pipeline.py"] = render_script(pipeline)
    hashes = {relative: _digest(text.encode()) for relative, text in files.items()}
    files[MANIFEST] = render_manifest(pipeline, workdir, hashes)  # last: it marks the folder done
    return files


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _inside(relative: str) -> bool:
    """A path a manifest may name: below the folder, no '..', no absolute or odd parts."""
    parts = relative.split("/")
    return all(p not in ("", ".", "..") and "\\" not in p and "\0" not in p for p in parts)


def _ours(output: Path) -> dict[str, str | None] | None:
    """What the folder's manifest says a compile wrote (path -> SHA-256; None for a manifest from
    before hashes were kept), or None when the folder has no manifest of ours."""
    try:
        data = json.loads((output / MANIFEST).read_bytes())
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    listed: dict[str, str | None] = {}
    files = data.get("files")
    if isinstance(files, dict):
        listed.update((k, v) for k, v in files.items() if isinstance(v, str))
    else:  # compiled before manifests listed their files: its stage notebooks and its script
        stages = data.get("stages")
        for stage in stages if isinstance(stages, list) else []:
            if isinstance(stage, dict) and isinstance(stage.get("notebook"), str):
                listed[stage["notebook"]] = None
        listed["pipeline.py"] = None
    return {k: v for k, v in listed.items() if isinstance(k, str) and _inside(k)}


def _unchanged(path: Path, expected: str | None) -> bool:
    """Whether ``path`` is still a regular file holding what a compile wrote there."""
    if path.is_symlink() or not path.is_file():
        return False  # a compile writes regular files only
    if expected is None:
        return True  # an old manifest kept no hashes: what it lists is taken to be ours
    try:
        return _digest(path.read_bytes()) == expected
    except OSError:
        return False


def _in_the_way(
    output: Path, files: dict[str, bytes], ours: dict[str, str | None] | None
) -> tuple[list[str], list[str], bool]:
    """Files of the folder a compile may not replace or leave beside its own: (not written by
    mlops, written by mlops and changed since, more than listed)."""
    foreign: list[str] = []
    changed: list[str] = []
    for folder, subfolders, names in os.walk(output):
        here = Path(folder)
        if here == output and STORE in subfolders:
            subfolders.remove(STORE)
        # os.walk does not follow a linked folder: it is the user's, whatever it holds
        entries = [n for n in subfolders if (here / n).is_symlink()] + names
        for name in sorted(entries):
            relative = (here / name).relative_to(output).as_posix()
            if relative == MANIFEST and ours is not None:
                continue
            if relative in files and _holds(here / name, files[relative]):
                continue  # what this compile writes anyway (one that stopped before its manifest)
            if ours is not None and relative in ours:
                if _unchanged(here / name, ours[relative]):
                    continue
                (changed if ours[relative] is not None else foreign).append(relative)
            else:
                foreign.append(relative)
            if len(foreign) + len(changed) > _SHOWN:
                return foreign, changed, True
    return foreign, changed, False


def _holds(path: Path, data: bytes) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and path.read_bytes() == data
    except OSError:
        return False


def _refusal(output: Path, foreign: list[str], changed: list[str], more: bool) -> CompileError:
    def name(relative: str) -> str:  # a newline in a file name must not split the paragraph
        return relative if relative.isprintable() else shown(relative)

    named = [f"{name(r)} (changed since it was compiled)" for r in changed] + list(
        map(name, foreign)
    )
    listing = ", ".join(named[:_SHOWN]) + (" and more" if more or len(named) > _SHOWN else "")
    what = (
        "files mlops did not write"
        if not changed
        else "compiled files changed by hand"
        if not foreign
        else "files mlops did not write or that were changed by hand"
    )
    return CompileError(
        f"output folder {output} holds {what}: {listing}.",
        hint="Nothing was written. Compile into a new or empty folder, or pass --force to write "
        "the pipeline into this one anyway (mlops never deletes a file it did not write).",
    )


def write_compiled(
    pipeline: Pipeline,
    output: Path,
    protect: Path | None = None,
    workdir: str = ".",
    *,
    force: bool = False,
) -> None:
    """Write the compiled folder: only files that changed are rewritten, and stages that are gone
    are removed — only files the folder's manifest lists, unchanged since they were written.

    A folder holding anything else (a user's file, a compiled file edited by hand) is refused
    unless ``force``; ``force`` writes beside those files and still never deletes one. ``protect``
    (the source notebook) is never written or removed, wherever ``output`` points.
    """
    from ..files import write_atomic

    files = {relative: text.encode() for relative, text in render_files(pipeline, workdir).items()}
    outside = next((relative for relative in files if not _inside(relative)), None)
    if outside is not None:  # stage names are checked by the tag grammar; this is the backstop
        raise ValueError(f"a compiled file would land outside the folder: {outside!r}")
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
    if stages_dir.exists() and not stages_dir.is_dir():
        raise CompileError(
            f"output folder {output} holds a file named 'stages' where the stage notebooks go.",
            hint="Nothing was written. Move that file away, or pick another -o folder.",
        )
    ours = _ours(output) if output.is_dir() else None
    if not force and output.is_dir():
        foreign, changed, more = _in_the_way(output, files, ours)
        if foreign or changed:
            raise _refusal(output, foreign, changed, more)
    stages_dir.mkdir(parents=True, exist_ok=True)
    root = output.resolve()
    for relative, expected in (ours or {}).items():
        old = output / relative
        if (
            relative in files
            or relative == MANIFEST
            or not _unchanged(old, expected)
            or not old.resolve().is_relative_to(root)
            or old.resolve() == guarded
        ):
            continue
        old.unlink()
    for relative, data in files.items():
        target = output / relative
        if _holds(target, data):
            continue
        write_atomic(target, data, fsync=False)
        if relative == "pipeline.py":
            target.chmod(0o755)


def compile_notebook(
    notebook: str | Path, output: str | Path | None = None, *, force: bool = False
) -> Compiled:
    """Compile a notebook file into a folder; nothing is written unless it compiles cleanly, and
    nothing into a folder holding files mlops did not write unless ``force``."""
    pipeline = load_pipeline(notebook)
    out = Path(output) if output is not None else default_output(notebook, pipeline)
    workdir = os.path.relpath(Path(notebook).resolve().parent, out.resolve())
    write_compiled(
        pipeline, out, protect=Path(notebook), workdir=Path(workdir).as_posix(), force=force
    )
    return Compiled(pipeline, out)
