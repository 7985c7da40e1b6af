"""The compiled folder: compile writes only into folders it made, and deletes only what it wrote.

``pipeline.json`` is the manifest of what a compile wrote (``files``: each file and the hash of
the bytes written). A folder holding anything else — a user's file, or one of ours changed since —
is refused unless ``force``; even then only files the manifest lists, unchanged, are deleted.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlops_jupyter.compiler.output import compile_notebook
from mlops_jupyter.errors import CompileError

TWO = [(["stage:a"], "x = 1"), (["stage:b"], "y = x")]
OTHER = [(["stage:a"], "x = 1"), (["stage:c"], "y = x")]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def users_folder(tmp_path: Path) -> Path:
    """A folder holding a user's own files, one where a stage notebook would go."""
    out = tmp_path / "out"
    (out / "stages").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    (out / "stages" / "draft.ipynb").write_text("{}")
    return out


def refused(path: Path, out: Path, **options: bool) -> CompileError:
    before = tree(out)
    with pytest.raises(CompileError) as caught:
        compile_notebook(path, out, **options)
    assert tree(out) == before, "a refused compile writes and deletes nothing"
    assert "\n" not in str(caught.value)
    return caught.value


def test_the_manifest_lists_every_file_written_with_its_hash(make_notebook, tmp_path) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook(TWO), out)
    manifest = json.loads((out / "pipeline.json").read_text())
    written = tree(out)
    assert set(manifest["files"]) == set(written) - {"pipeline.json"}
    for relative, digest in manifest["files"].items():
        assert digest == hashlib.sha256(written[relative]).hexdigest()


def test_a_new_or_empty_folder_is_written(make_notebook, tmp_path) -> None:
    (tmp_path / "empty" / "stages").mkdir(parents=True)
    compile_notebook(make_notebook(TWO), tmp_path / "empty")
    compile_notebook(make_notebook(TWO), tmp_path / "new" / "deeper")
    assert set(tree(tmp_path / "empty")) == set(tree(tmp_path / "new" / "deeper"))


def test_a_folder_with_a_users_files_is_refused_naming_them_and_force(
    make_notebook, tmp_path
) -> None:
    out = users_folder(tmp_path)
    (out / "pipeline.py").write_text("print('my own script')")
    error = refused(make_notebook(TWO), out)
    assert str(out) in error.message
    for name in ("notes.txt", "stages/draft.ipynb", "pipeline.py"):
        assert name in error.message
    assert "--force" in (error.hint or "")


def test_a_file_name_with_a_newline_stays_one_line_in_the_message(make_notebook, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "two\nlines.txt").write_text("mine")
    assert "'two\\nlines.txt'" in refused(make_notebook(TWO), out).message


def test_a_users_pipeline_json_is_not_a_manifest_of_ours(make_notebook, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "pipeline.json").write_text('{"steps": ["mine"]}')
    assert "pipeline.json" in refused(make_notebook(TWO), out).message


def test_with_force_files_are_written_and_a_users_files_are_never_deleted(
    make_notebook, tmp_path
) -> None:
    out = users_folder(tmp_path)
    compile_notebook(make_notebook(TWO), out, force=True)
    compile_notebook(make_notebook(OTHER), out, force=True)
    files = tree(out)
    assert files["notes.txt"] == b"mine"
    assert files["stages/draft.ipynb"] == b"{}"
    assert "stages/b.ipynb" not in files  # ours, listed in the manifest, no longer a stage
    assert {"stages/a.ipynb", "stages/c.ipynb", "pipeline.py", "pipeline.json"} <= set(files)


def test_recompiling_our_own_folder_needs_no_force_and_removes_our_stale_stages(
    make_notebook, tmp_path
) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook(TWO), out)
    compile_notebook(make_notebook(OTHER), out)
    assert sorted(tree(out)) == [
        "pipeline.json",
        "pipeline.py",
        "stages/a.ipynb",
        "stages/c.ipynb",
    ]


def test_a_file_of_ours_changed_by_hand_is_refused_and_never_deleted(
    make_notebook, tmp_path
) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook(TWO), out)
    edited = out / "stages" / "b.ipynb"
    edited.write_text(edited.read_text().replace("y = x", "y = x  # my fix"))
    error = refused(make_notebook(OTHER), out)
    assert "stages/b.ipynb" in error.message
    assert "changed" in error.message
    compile_notebook(make_notebook(OTHER), out, force=True)
    assert "# my fix" in edited.read_text(), "a changed file is the user's now: kept"


def test_a_manifest_listing_paths_outside_the_folder_deletes_nothing_there(
    make_notebook, tmp_path
) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook(TWO), out)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    manifest = json.loads((out / "pipeline.json").read_text())
    manifest["files"]["../victim.txt"] = hashlib.sha256(b"precious").hexdigest()
    (out / "pipeline.json").write_text(json.dumps(manifest))
    compile_notebook(make_notebook(OTHER), out)
    assert victim.read_text() == "precious"


def test_a_store_the_folder_holds_is_not_in_the_way(make_notebook, tmp_path) -> None:
    # running a compiled folder may open its store inside it: recompiling leaves it alone
    out = tmp_path / "out"
    compile_notebook(make_notebook(TWO), out)
    (out / ".mlops").mkdir()
    (out / ".mlops" / "mlops.db").write_bytes(b"db")
    compile_notebook(make_notebook(OTHER), out)
    assert (out / ".mlops" / "mlops.db").read_bytes() == b"db"


def test_a_folder_compiled_before_manifests_had_files_is_still_ours(
    make_notebook, tmp_path
) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook(TWO), out)
    manifest = json.loads((out / "pipeline.json").read_text())
    del manifest["files"]
    (out / "pipeline.json").write_text(json.dumps(manifest))
    compile_notebook(make_notebook(OTHER), out)
    assert sorted(p.name for p in (out / "stages").iterdir()) == ["a.ipynb", "c.ipynb"]


def test_an_interrupted_compile_can_be_repeated(make_notebook, tmp_path) -> None:
    # files a compile wrote before it stopped (no pipeline.json yet) are what it writes again
    out = tmp_path / "out"
    path = make_notebook(TWO)
    compile_notebook(path, out)
    (out / "pipeline.json").unlink()
    compile_notebook(path, out)
    assert (out / "pipeline.json").is_file()


def test_a_stages_file_in_the_way_is_a_clear_error(make_notebook, tmp_path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "stages").write_text("mine")
    error = refused(make_notebook(TWO), out, force=True)
    assert "stages" in error.message
    assert (out / "stages").read_text() == "mine"


def test_the_cli_refuses_with_exit_2_and_compiles_with_force(make_notebook, tmp_path) -> None:
    path = make_notebook(TWO)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.csv").write_text("a,b\n")

    def mlops(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "mlops_jupyter", "compile", str(path), "-o", str(out)]
        return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)

    result = mlops()
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "keep.csv" in result.stderr and "--force" in result.stderr
    assert not (out / "pipeline.json").exists()
    result = mlops("--force")
    assert result.returncode == 0, result.stderr
    assert (out / "pipeline.json").is_file()
    assert (out / "keep.csv").read_text() == "a,b\n"
