"""A compiled folder read back into a run plan; ``--stages`` / ``--from`` selection."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_jupyter.compiler.output import compile_notebook
from mlops_jupyter.errors import MlopsError
from mlops_jupyter.runner.plan import Plan, load_plan, select

CELLS = [
    (["parameters"], "n = 3\nlr = 0.5"),
    (["setup"], "import math"),
    (["stage:load"], "data = list(range(n))"),
    (["stage:clean", "after:report"], "print('runs after report')"),
    (
        ["stage:train", "retries:2", "cache:off", "timeout:30"],
        "w = [v * lr for v in data]\nacc = 1.0",
    ),
    (["metrics"], "acc"),
    (["stage:report"], "print(w)"),
    (["stage:other", "after:load"], "print(math.pi)"),
]


@pytest.fixture
def compiled(make_notebook: Callable[..., Path], tmp_path: Path) -> Path:
    nb = make_notebook(CELLS)
    return compile_notebook(nb, tmp_path / "out").output


@pytest.fixture
def plan(compiled: Path) -> Plan:
    return load_plan(compiled)


def names(plan: Plan) -> list[str]:
    return [s.name for s in plan.stages]


def test_a_compiled_folder_reads_back_as_a_plan(plan: Plan, compiled: Path, tmp_path: Path) -> None:
    manifest = json.loads((compiled / "pipeline.json").read_text())
    assert plan.name == "nb" == manifest["pipeline"]
    assert plan.version == manifest["version"]
    assert plan.notebook == "nb.ipynb"
    assert plan.folder == compiled.resolve()
    assert plan.workdir == tmp_path.resolve()  # stages run in the notebook's folder
    assert plan.kernel_name == "python3"
    assert plan.parameters == {
        "n": {"default": 3, "type": "int", **_extra(manifest, "n")},
        "lr": {"default": 0.5, "type": "float", **_extra(manifest, "lr")},
    }
    train = plan.stage("train")
    assert train.inputs == {"data": "load"}
    assert train.outputs == ("w",)
    assert train.parameters == ("lr",)
    assert train.metrics == ("acc",)
    assert train.options == {"cache": False, "retries": 2, "timeout": 30.0}
    assert train.notebook == compiled.resolve() / "stages" / "train.ipynb"
    assert train.notebook.is_file()
    assert plan.stage("load").imports == ("math",)  # setup imports count for every stage
    assert len({s.code_hash for s in plan.stages}) == len(plan.stages)


def _extra(manifest: dict, name: str) -> dict:
    """Whatever else the compiler records about a parameter (its cell, line...)."""
    return {k: v for k, v in manifest["parameters"][name].items() if k not in ("default", "type")}


def test_stages_come_in_notebook_order_moved_only_as_after_tags_demand(plan: Plan) -> None:
    # 'clean' asks to run after the later 'report'; everything else keeps notebook order
    assert names(plan) == ["load", "train", "report", "clean", "other"]
    for i, stage in enumerate(plan.stages):
        assert set(stage.after) <= set(names(plan)[:i])


def test_consumers_map_each_value_to_the_stages_that_read_it(plan: Plan) -> None:
    assert plan.consumers() == {"load": {"data": ["train"]}, "train": {"w": ["report"]}}


def test_everything_runs_by_default(plan: Plan) -> None:
    assert select(plan, None, None) == names(plan)


def test_stages_selects_exactly_the_named_stages_in_plan_order(plan: Plan) -> None:
    assert select(plan, ["report", "load"], None) == ["load", "report"]


def test_from_selects_a_stage_and_everything_downstream_of_it(plan: Plan) -> None:
    assert select(plan, None, "train") == ["train", "report", "clean"]
    assert select(plan, None, "report") == ["report", "clean"]
    assert select(plan, None, "load") == names(plan)


def test_stages_and_from_together_select_the_union(plan: Plan) -> None:
    assert select(plan, ["other"], "report") == ["report", "clean", "other"]


@pytest.mark.parametrize(
    ("stages", "start"), [(["nope"], None), (None, "nope"), (["load", "x"], None)]
)
def test_an_unknown_stage_is_refused_listing_the_real_ones(
    plan: Plan, stages: list[str] | None, start: str | None
) -> None:
    with pytest.raises(MlopsError) as caught:
        select(plan, stages, start)
    message = str(caught.value)
    assert "has no stage" in message
    assert "load, train, report, clean, other" in message


def test_a_folder_without_pipeline_json_is_not_a_pipeline(tmp_path: Path) -> None:
    with pytest.raises(MlopsError, match="not a compiled pipeline"):
        load_plan(tmp_path)


def _edit(compiled: Path, change: Callable[[dict], None]) -> None:
    path = compiled / "pipeline.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_manifest_of_another_schema_version_asks_for_a_recompile(compiled: Path) -> None:
    _edit(compiled, lambda d: d.update(schema_version=d["schema_version"] + 1))
    with pytest.raises(MlopsError, match="Compile the notebook again"):
        load_plan(compiled)


def test_an_unreadable_manifest_asks_for_a_recompile(compiled: Path) -> None:
    (compiled / "pipeline.json").write_text('{"pipeline": ')
    with pytest.raises(MlopsError, match="Compile the notebook again"):
        load_plan(compiled)


def test_a_missing_stage_notebook_is_named(compiled: Path) -> None:
    (compiled / "stages" / "train.ipynb").unlink()
    with pytest.raises(MlopsError, match=r"train\.ipynb is missing"):
        load_plan(compiled)


def test_a_cycle_in_a_hand_edited_manifest_is_refused(compiled: Path) -> None:
    def cycle(data: dict) -> None:
        data["stages"][0]["after"] = ["report"]  # load after report, report after train after load

    _edit(compiled, cycle)
    with pytest.raises(MlopsError, match="cycle"):
        load_plan(compiled)


def test_a_folder_whose_notebook_folder_is_gone_runs_in_the_current_folder(
    compiled: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _edit(compiled, lambda d: d.update(workdir="../no-such-folder"))
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    assert load_plan(compiled).workdir == Path(os.getcwd())


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink", "not-a-path"])
def test_a_stage_notebook_outside_the_folder_is_refused_and_not_run(
    compiled: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str
) -> None:
    from mlops_jupyter.cli import main
    from mlops_jupyter.errors import RefusedError

    evil = tmp_path / "elsewhere" / "evil.ipynb"
    evil.parent.mkdir()
    evil.write_text((compiled / "stages" / "load.ipynb").read_text())
    manifest = json.loads((compiled / "pipeline.json").read_text())
    load = next(s for s in manifest["stages"] if s["name"] == "load")
    if how == "symlink":
        (compiled / load["notebook"]).unlink()
        (compiled / load["notebook"]).symlink_to(evil)
    else:
        load["notebook"] = {
            "relative": os.path.relpath(evil, compiled),
            "absolute": str(evil),
            "not-a-path": None,
        }[how]
        (compiled / "pipeline.json").write_text(json.dumps(manifest))
    with pytest.raises(RefusedError) as caught:
        load_plan(compiled)
    assert "stage 'load'" in str(caught.value) and "outside" in str(caught.value)

    assert main(["run", str(compiled)]) == 2  # `mlops run DIR` refuses before anything runs
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "stage 'load'" in err and "Traceback" not in err
    assert not (compiled.parent / ".mlops" / "runs").exists()
