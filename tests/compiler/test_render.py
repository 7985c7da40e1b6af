"""Golden files: each ``tests/golden/<case>/`` holds a source notebook and, in ``expected/``, the
exact compiled folder (``pipeline.json``, ``pipeline.py``, ``stages/*.ipynb``).

A change to what the compiler writes shows up here as a diff to review. When the change is
intended, regenerate and review the files in git:

    MLOPS_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/compiler/test_render.py
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from mlops_jupyter.compiler.output import compile_notebook

GOLDEN = Path(__file__).parents[1] / "golden"
CASES = sorted(p.name for p in GOLDEN.iterdir() if p.is_dir())
UPDATE = os.environ.get("MLOPS_UPDATE_GOLDEN") == "1"


def source_notebook(case: Path) -> Path:
    found = sorted(case.glob("*.ipynb"))
    assert len(found) == 1, f"{case} holds exactly one source notebook"
    return found[0]


def files(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_there_are_golden_cases() -> None:
    assert {"single-stage", "tagged-stages", "kale", "mlops-magic"} <= set(CASES)


@pytest.mark.parametrize("name", CASES)
def test_compiled_files_match_the_golden_copy(name: str, tmp_path: Path) -> None:
    case = GOLDEN / name
    source = source_notebook(case)
    before = source.read_bytes()
    # Compile a copy laid out like the case folder (notebook beside expected/), so paths the
    # compiler records relative to the notebook are the same here and in the golden copy.
    notebook = tmp_path / source.name
    shutil.copyfile(source, notebook)
    out = tmp_path / "expected"
    compile_notebook(notebook, out)
    got = files(out)
    assert source.read_bytes() == before

    expected_dir = case / "expected"
    if UPDATE:
        shutil.rmtree(expected_dir, ignore_errors=True)
        shutil.copytree(out, expected_dir)
        return
    assert expected_dir.is_dir(), f"no golden copy yet: run with MLOPS_UPDATE_GOLDEN=1 ({name})"
    expected = files(expected_dir)
    assert sorted(got) == sorted(expected)
    for relative, data in expected.items():
        if got[relative] != data:
            diff = "\n".join(
                difflib.unified_diff(
                    data.decode().splitlines(),
                    got[relative].decode().splitlines(),
                    f"golden/{name}/expected/{relative}",
                    "compiled",
                    lineterm="",
                )
            )
            pytest.fail(f"{relative} differs from the golden copy:\n{diff}")
