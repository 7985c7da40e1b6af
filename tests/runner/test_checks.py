"""Check stages: a stage tagged ``check`` (or ``%%mlops stage NAME --check``) whose assert or
``mlops.require`` fails is a check failure, named as one; the run fails, later stages skip.
Real runs; the notebook run top to bottom by papermill stops at the same cell with the same
exception."""

from __future__ import annotations

from pathlib import Path

import papermill
import pytest
from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.tracking.require import CheckFailed, require


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    return tmp_path / ".mlops"


def _notebook(tmp_path: Path, check: tuple[list[str], str]) -> Path:
    return write_notebook(
        tmp_path / "nb.ipynb",
        [
            (["parameters"], "threshold = 0.9"),
            (["setup"], "import mlops_jupyter as mlops\n%load_ext mlops_jupyter"),
            (["stage:train"], "accuracy = 0.75"),
            check,
            (["stage:report"], "summary = f'accuracy {accuracy}'"),
        ],
    )


def _by_name(run: dict) -> dict[str, dict]:
    return {s["name"]: s for s in run["stages"]}


def _reference_error(path: Path, tmp_path: Path) -> tuple[str, str]:
    with pytest.raises(papermill.PapermillExecutionError) as raised:
        papermill.execute_notebook(
            str(path), str(tmp_path / "reference.ipynb"), progress_bar=False, cwd=str(tmp_path)
        )
    return raised.value.ename, raised.value.evalue


REQUIRE = "mlops.require(accuracy >= threshold, f'accuracy {accuracy} is below {threshold}')"


@pytest.mark.parametrize(
    ("check", "words"),
    [
        pytest.param(
            (["stage:validate", "check"], REQUIRE),
            "CheckFailed: accuracy 0.75 is below 0.9",
            id="require, tagged check",
        ),
        pytest.param(
            ([], f"%%mlops stage validate --check\n{REQUIRE}"),
            "CheckFailed: accuracy 0.75 is below 0.9",
            id="require, %%mlops stage --check",
        ),
        pytest.param(
            (["stage:validate", "check"], "assert accuracy >= threshold, 'too low'"),
            "AssertionError: too low",
            id="a plain assert",
        ),
    ],
)
def test_a_failed_check_is_a_check_failure_naming_the_check_and_the_message(
    tmp_path: Path, check: tuple[list[str], str], words: str
) -> None:
    path = _notebook(tmp_path, check)
    run = api.run(path)
    assert run["status"] == "failed"
    stages = _by_name(run)
    assert stages["train"]["status"] == "succeeded"
    assert stages["validate"]["status"] == "failed"
    assert stages["validate"]["error"].startswith("check 'validate' failed at nb.ipynb cell 4 ")
    assert stages["validate"]["error"].endswith(words)
    assert stages["report"]["status"] == "skipped"
    # the notebook run top to bottom stops at the same check with the same words
    ename, evalue = _reference_error(path, tmp_path)
    assert f"{ename}: {evalue}" == words


def test_a_check_that_holds_lets_the_run_succeed(tmp_path: Path) -> None:
    path = _notebook(tmp_path, (["stage:validate", "check"], REQUIRE))
    run = api.run(path, parameters={"threshold": 0.5})
    assert run["status"] == "succeeded", run
    assert _by_name(run)["report"]["status"] == "succeeded"


def test_require_outside_a_check_stage_is_an_ordinary_failure(tmp_path: Path) -> None:
    path = _notebook(tmp_path, (["stage:validate"], REQUIRE))
    stage = _by_name(api.run(path))["validate"]
    assert stage["error"].startswith("stage 'validate' failed at nb.ipynb cell 4 ")
    assert stage["error"].endswith("CheckFailed: accuracy 0.75 is below 0.9")


def test_require_says_what_is_required_and_is_an_assertion() -> None:
    require(1 == 1, "arithmetic holds")
    with pytest.raises(CheckFailed, match=r"^rows are missing$") as raised:
        require([], "rows are missing")
    assert isinstance(raised.value, AssertionError)
    with pytest.raises(TypeError, match="say what is required"):
        require(True, "")
