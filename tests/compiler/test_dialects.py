"""papermill's and Kale's notebooks as those tools read them, at compile level.

The run-level checks (papermill itself executing a notebook, then ``mlops run``; the Kale Titanic
notebook against papermill top to bottom) are in ``tests/runner/test_dialects.py``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_jupyter.compiler.notebook import read_notebook
from mlops_jupyter.compiler.output import load_pipeline
from mlops_jupyter.errors import CompileError
from mlops_jupyter.views.explain import explain_text

TITANIC = Path(__file__).parents[1] / "notebooks" / "kale_titanic.ipynb"
INJECTED = {"tags": ["injected-parameters"], "source": "# Parameters\nmsg = 'Hello'\n"}


def stage_cells(pipeline) -> dict[str, list[str]]:
    return {s.name: [c.ref for c in s.cells] for s in pipeline.stages}


# -- papermill's injected-parameters cell ----------------------------------------------------


def test_the_injected_cell_is_no_stage_code_and_declares_nothing(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "msg = 'Hi'\nn = 2"),
            INJECTED,
            "print(msg * n)",
        ]
    )
    assert pipeline.parameters_json() == {
        "msg": {"default": "Hi", "type": "str"},
        "n": {"default": 2, "type": "int"},
    }
    assert stage_cells(pipeline) == {"main": ["c3"]}
    assert pipeline.stages[0].parameters == ("msg", "n")
    assert not pipeline.warnings
    (note,) = pipeline.notes
    assert (note["cell"], note["kind"]) == (2, "injected")


def test_the_injected_cell_changes_nothing_a_rerun_of_papermill_would_replace(build_nb) -> None:
    # the same notebook before and after papermill ran it: one pipeline, one version
    before = build_nb([(["parameters"], "msg = 'Hi'"), (["stage:say"], "print(msg)")])
    after = build_nb([(["parameters"], "msg = 'Hi'"), INJECTED, (["stage:say"], "print(msg)")])
    assert after.version == before.version


def test_an_injected_cell_inside_a_stage_leaves_the_stage_whole(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:load"], "x = 1"),
            (["parameters"], "msg = 'Hi'"),
            INJECTED,
            "y = msg",
            (["stage:use"], "print(x, y)"),
        ]
    )
    assert stage_cells(pipeline) == {"load": ["c1", "c4"], "use": ["c5"]}
    assert pipeline.stage("use").inputs == {"x": "load", "y": "load"}


def test_without_a_parameters_cell_the_injected_cell_declares_the_parameters(build_nb) -> None:
    # papermill without -p runs the old injected cell; with -p it replaces it: its values are
    # the defaults, and -p overrides them (tests/runner/test_dialects.py runs it)
    pipeline = build_nb([INJECTED, "print(msg)"])
    assert pipeline.parameters_json() == {"msg": {"default": "Hello", "type": "str"}}
    assert pipeline.stages[0].parameters == ("msg",)
    assert [n["kind"] for n in pipeline.notes] == ["declares"]


def test_a_name_only_the_dropped_injected_cell_assigns_is_a_warning(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "msg = 'Hi'"),
            {"tags": ["injected-parameters"], "source": "msg = 'Hello'\nextra = 3\n"},
            (["stage:say"], "print(msg, extra)"),
        ]
    )
    assert pipeline.warnings == (
        "stage 'say' reads 'extra', which only papermill's injected-parameters cell (cell 2, "
        "left out) assigns: declare it in the parameters cell.",
    )


def test_a_broken_injected_cell_is_no_error_it_does_not_run(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "msg = 'Hi'"),
            {"tags": ["injected-parameters"], "source": "msg = ("},
            "msg",
        ]
    )
    assert stage_cells(pipeline) == {"main": ["c3"]}


def test_in_a_kale_notebook_the_injected_cell_does_not_end_the_parameters(build_nb) -> None:
    pipeline = build_nb(
        [
            (["pipeline-parameters"], "n = 1"),
            {"tags": ["injected-parameters"], "source": "n = 5\n"},
            "m = 2",
            (["block:a"], "x = n + m"),
        ]
    )
    assert pipeline.parameters_json() == {
        "n": {"default": 1, "type": "int"},
        "m": {"default": 2, "type": "int"},
    }


# -- pipeline-metrics naming a parameter -----------------------------------------------------


def test_a_metric_may_name_a_parameter_recorded_by_the_stage_that_reads_it(build_nb) -> None:
    pipeline = build_nb(
        [
            (["pipeline-parameters"], "d1 = 5\nd2 = 6\nname = 'x'"),
            (["step:create_matrix"], "rows = [[0] * d2 for _ in range(d1)]"),
            (["step:sum_matrix", "prev:create_matrix"], "total = sum(map(sum, rows))"),
            (["pipeline-metrics"], "print(d1)\nprint(d2)\nprint(total)"),
        ]
    )
    # as in Kale's own pipeline_parameters_and_metrics test notebook
    create, summed = pipeline.stages
    assert create.metrics == ("d1", "d2")
    assert create.parameters == ("d1", "d2")
    assert summed.metrics == ("total",)


def test_a_parameter_metric_no_stage_reads_goes_to_the_last_stage_above(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "seed = 7"),
            (["stage:a"], "x = 1"),
            (["stage:b"], "y = x"),
            (["metrics"], "seed"),
            (["stage:c"], "z = y"),
        ]
    )
    assert [(s.name, s.metrics, s.parameters) for s in pipeline.stages] == [
        ("a", (), ()),
        ("b", ("seed",), ("seed",)),
        ("c", (), ()),
    ]


def test_a_reassigned_parameter_is_recorded_as_the_stage_left_it(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "n = 2"),
            (["stage:a"], "n = n * 10"),
            (["stage:b"], "y = n"),
            (["metrics"], "n"),
        ]
    )
    assert [s.metrics for s in pipeline.stages] == [("n",), ()]


def test_a_text_parameter_is_no_metric(build_nb) -> None:
    with pytest.raises(CompileError) as caught:
        build_nb([(["parameters"], "name = 'x'"), (["stage:a"], "y = 1"), (["metrics"], "name")])
    assert caught.value.message == "metric 'name' is a str parameter; a metric is a number."
    assert caught.value.cell == 3


def test_the_metric_changes_the_version_a_parameter_metric_is_part_of_it(build_nb) -> None:
    cells = [(["parameters"], "n = 2"), (["stage:a"], "y = n")]
    assert build_nb(cells).version != build_nb([*cells, (["metrics"], "n")]).version


# -- Kale's skip continuation, obsolete forms, explain ---------------------------------------


def test_kales_titanic_shape_compiles_to_kales_blocks() -> None:
    pipeline = load_pipeline(TITANIC)
    assert stage_cells(pipeline) == {
        "loaddata": ["loaddata"],
        "datapreprocessing": ["datapreprocessing", "drop-id", "age", "embarked"],
        "featureengineering": ["featureengineering", "age-class", "labels"],
        "logisticregression": ["logisticregression"],
        "naivebayes": ["naivebayes"],
        "decisiontree": ["decisiontree"],
        "results": ["results", "best"],
    }
    assert [c.ref for c in pipeline.setup] == ["imports", "functions", "functions-more"]
    assert list(pipeline.parameters) == ["N_PASSENGERS", "SEED", "TEST_SHARE", "MAX_ITER"]
    assert pipeline.stage("results").after == ("logisticregression", "naivebayes", "decisiontree")
    metrics = {s.name: s.metrics for s in pipeline.stages if s.metrics}
    assert metrics == {
        "loaddata": ("N_PASSENGERS",),
        "logisticregression": ("acc_log",),
        "naivebayes": ("acc_gaussian",),
        "decisiontree": ("acc_decision_tree",),
        "results": ("best_score",),
    }
    skipped = [c.id for c in read_notebook(TITANIC).cells if "skip" in c.tags]
    left_out = [n["id"] for n in pipeline.notes if n["kind"] == "skip"]
    assert left_out == skipped


def test_explain_shows_what_is_left_out_and_what_continues_past_it() -> None:
    text = explain_text(load_pipeline(TITANIC).to_dict())
    assert "Left out of the pipeline:\n  cells 9, 10, 13, 16, 21: tagged skip\n" in text
    assert "    cell 14 continues stage 'datapreprocessing' past left-out cell 13\n" in text
    assert "cell 22 continues stage 'featureengineering' past left-out cell 21" in text
    with_ids = explain_text(load_pipeline(TITANIC).to_dict(), ids=True)
    assert "cell 22 (id labels) continues stage 'featureengineering' past left-out cell 21" in (
        with_ids
    )


def test_explain_shows_the_injected_cell_and_kales_main(build_nb) -> None:
    text = explain_text(
        build_nb(
            [
                "import math",
                (["parameters"], "msg = 'Hi'"),
                INJECTED,
                (["block:say"], "print(msg)"),
            ]
        ).to_dict()
    )
    assert "cell 3: papermill's injected-parameters cell, left from an earlier run" in text
    assert "    cell 1 above the first block: runs as stage 'main'" in text
    declared = explain_text(build_nb([INJECTED, "print(msg)"]).to_dict())
    assert "  cell 1: papermill's injected-parameters cell declares the parameters" in (declared)


def test_a_role_continued_past_a_skip_is_explained(build_nb) -> None:
    pipeline = build_nb(
        [(["imports"], "import math"), (["skip"], "math.pi"), "import json", (["block:a"], "x=1")]
    )
    assert [c.ref for c in pipeline.setup] == ["c1", "c3"]
    text = explain_text(pipeline.to_dict())
    assert "  cell 2: tagged skip\n  cell 3 continues the setup cells past left-out cell 2" in (
        text
    )


def test_the_manifest_keeps_its_shape(tmp_path: Path) -> None:
    from mlops_jupyter.compiler.render.manifest import manifest

    data = manifest(load_pipeline(TITANIC))
    assert "notes" not in data
    json.dumps(data)


@pytest.mark.parametrize(
    ("tags", "message", "hint"),
    [
        (
            ["block:b", "prev:a:c"],
            "'prev:a:c' names several stages in one tag (an old Kale form).",
            "Write one tag per stage: 'prev:a', 'prev:c'.",
        ),
        (
            ["block:a;c"],
            "'block:a;c' puts the cell in several stages (an old Kale form); a cell belongs to "
            "one stage.",
            "Tag it 'block:a' and give each other stage its own copy of the code, or make it a "
            "'functions' cell if every stage needs it.",
        ),
    ],
)
def test_obsolete_kale_forms_say_what_to_write(build_nb, tags, message, hint) -> None:
    with pytest.raises(CompileError) as caught:
        build_nb([(["block:a"], "x = 1"), (["block:c"], "z = 1"), (tags, "y = x")])
    assert (caught.value.message, caught.value.hint, caught.value.cell) == (message, hint, 3)
