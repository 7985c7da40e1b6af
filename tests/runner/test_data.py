"""Data a stage reads is part of its cache key: editing a file a stage tracked reruns that stage
and what depends on its outputs, nothing else. Real kernels, real SQLite."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.runner.cache import with_data


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    (tmp_path / "data.csv").write_text("x\n1\n2\n3\n")
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "a.txt").write_text("a")
    write_notebook(
        tmp_path / "nb.ipynb",
        [
            (["setup"], "import mlops_jupyter as mlops"),
            (
                ["stage:load"],
                "mlops.track_data('data.csv')\n"
                "total = sum(int(v) for v in open('data.csv').read().split()[1:])",
            ),
            (["stage:train"], "model = total * 10"),
            (
                ["stage:files"],
                "mlops.track_data('raw')\ncount = len(__import__('os').listdir('raw'))",
            ),
            (["stage:other"], "z = 5"),
            (["stage:report", "after:other"], "print(model, count, z)"),
        ],
    )
    return tmp_path


def statuses(run: dict) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run["stages"]}


def run(project: Path) -> dict:
    return api.run(project / "nb.ipynb")


def test_editing_tracked_data_reruns_only_its_stage_and_downstream(project: Path) -> None:
    first = run(project)
    assert set(statuses(first).values()) == {"succeeded"}
    assert set(statuses(run(project)).values()) == {"cached"}

    (project / "data.csv").write_text("x\n1\n2\n4\n")
    edited = run(project)
    assert statuses(edited) == {
        "load": "succeeded",
        "train": "succeeded",
        "files": "cached",
        "other": "cached",
        "report": "succeeded",  # reads model, which changed
    }
    assert set(statuses(run(project)).values()) == {"cached"}

    # back to the first content: the first execution's cache entry fits again
    (project / "data.csv").write_text("x\n1\n2\n3\n")
    reverted = run(project)
    assert statuses(reverted)["load"] == "cached"
    load = next(s for s in reverted["stages"] if s["name"] == "load")
    assert load["cache_key"] == next(s for s in first["stages"] if s["name"] == "load")["cache_key"]


def test_a_tracked_folder_reruns_when_a_file_is_added(project: Path) -> None:
    run(project)
    (project / "raw" / "b.txt").write_text("b")
    after = statuses(run(project))
    assert after["files"] == "succeeded" and after["report"] == "succeeded"
    assert after["load"] == after["train"] == after["other"] == "cached"


def test_unchanged_data_that_was_rewritten_stays_cached(project: Path) -> None:
    run(project)
    (project / "data.csv").write_text("x\n1\n2\n3\n")  # same bytes, new mtime
    assert set(statuses(run(project)).values()) == {"cached"}


def test_a_deleted_tracked_file_reruns_its_stage(project: Path) -> None:
    run(project)
    (project / "data.csv").unlink()
    after = run(project)
    assert statuses(after)["load"] == "failed"  # it reads the file: FileNotFoundError
    assert "FileNotFoundError" in next(s for s in after["stages"] if s["name"] == "load")["error"]


def test_keys_of_stages_that_track_nothing_do_not_change() -> None:
    assert with_data("abc", {}) == "abc"
    assert with_data("abc", {"/d.csv": "1"}) != with_data("abc", {"/d.csv": "2"})
    assert with_data("abc", {"/a": "1", "/b": "2"}) == with_data("abc", {"/b": "2", "/a": "1"})
