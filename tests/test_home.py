"""Where a project's .mlops folder is found."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_jupyter.home import find_home


@pytest.fixture(autouse=True)
def no_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)


def test_mlops_home_overrides_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "elsewhere"))
    assert find_home(tmp_path) == tmp_path / "elsewhere"


def test_the_nearest_folder_with_a_store_wins(tmp_path: Path) -> None:
    (tmp_path / ".mlops").mkdir()
    nested = tmp_path / "a" / "b"
    nested.mkdir(parents=True)
    (nested / "nb.ipynb").write_text("{}")
    assert find_home(nested / "nb.ipynb") == tmp_path / ".mlops"


def test_in_a_repository_the_store_is_at_its_root(tmp_path: Path) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "notebooks").mkdir()
    assert find_home(tmp_path / "repo" / "notebooks") == tmp_path / "repo" / ".mlops"


def test_a_store_above_the_repository_does_not_capture_its_runs(tmp_path: Path) -> None:
    (tmp_path / ".mlops").mkdir()  # e.g. a stray /tmp/.mlops
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    assert find_home(tmp_path / "repo") == tmp_path / "repo" / ".mlops"
