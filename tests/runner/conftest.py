"""Runner fixtures: a private store per test (``MLOPS_HOME``), seen by subprocesses too."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This test's own ``.mlops`` store; the notebooks live in ``tmp_path`` beside it."""
    path = tmp_path / "home"
    monkeypatch.setenv("MLOPS_HOME", str(path))
    return path
