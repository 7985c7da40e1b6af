"""Notebook to pipeline: stages, parameters, data flow, versions, errors, the compiled folder."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from mlops_jupyter.compiler.build import pipeline_name
from mlops_jupyter.compiler.notebook import parse_notebook
from mlops_jupyter.compiler.output import compile_notebook, load_pipeline
from mlops_jupyter.compiler.stages import DEFAULT_STAGE
from mlops_jupyter.errors import CompileError

# --------------------------------------------------------------------------- stage assignment


def stage_cells(pipeline) -> dict[str, list[str]]:
    return {s.name: [c.ref for c in s.cells] for s in pipeline.stages}


def test_a_notebook_without_stage_tags_is_one_stage_named_main(build_nb) -> None:
    pipeline = build_nb(["import math", "x = math.pi", "print(x)"])
    assert DEFAULT_STAGE == "main"
    assert stage_cells(pipeline) == {"main": ["c1", "c2", "c3"]}
    assert pipeline.stage("main").after == ()


def test_untagged_cells_join_the_stage_above(build_nb) -> None:
    pipeline = build_nb(
        [(["stage:load"], "a = 1"), "b = 2", (["stage:train"], "c = 3"), "d = 4", "e = 5"]
    )
    assert stage_cells(pipeline) == {"load": ["c1", "c2"], "train": ["c3", "c4", "c5"]}


def test_untagged_cells_before_the_first_stage_tag_are_stage_main(build_nb) -> None:
    pipeline = build_nb(["import os", "x = 1", (["stage:train"], "y = x")])
    assert stage_cells(pipeline) == {"main": ["c1", "c2"], "train": ["c3"]}
    assert pipeline.stage("train").inputs == {"x": "main"}


def test_stages_keep_notebook_order(build_nb) -> None:
    pipeline = build_nb(
        [(["stage:zeta"], "a = 1"), (["stage:alpha"], "b = 2"), (["stage:mid"], "c = 3")]
    )
    assert [s.name for s in pipeline.stages] == ["zeta", "alpha", "mid"]


def test_markdown_and_raw_cells_are_not_part_of_any_stage(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "x = 1"),
            {"cell_type": "markdown", "source": "# Notes\nx = y", "tags": ["stage:b"]},
            {"cell_type": "raw", "source": "raw text"},
            "z = 2",
        ]
    )
    assert stage_cells(pipeline) == {"a": ["c1", "c4"]}


def test_skipped_cells_are_left_out_without_ending_the_stage(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "x = 1"),
            (["skip"], "plot(x)\ny = broken("),
            "z = x",
            (["stage:b"], "w = z"),
        ]
    )
    assert stage_cells(pipeline) == {"a": ["c1", "c3"], "b": ["c4"]}
    assert "plot" not in pipeline.stage("a").reads  # a skipped cell is not even parsed


def test_a_skipped_stage_cell_still_starts_its_stage(build_nb) -> None:
    pipeline = build_nb([(["stage:a"], "x = 1"), (["stage:plots", "skip"], "show(x)"), "draw(x)"])
    assert stage_cells(pipeline) == {"a": ["c1"], "plots": ["c3"]}


def test_skipped_cells_before_any_stage_make_no_stage(build_nb) -> None:
    pipeline = build_nb([(["skip"], "explore()"), (["stage:a"], "x = 1")])
    assert stage_cells(pipeline) == {"a": ["c2"]}


def test_options_from_any_cell_of_the_stage(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a", "cache:off"], "x = 1"),
            (["retries:2"], "y = 2"),
            (["stage:b", "timeout:5"], "z = 1"),
            (["cache:on"], "w = 1"),
            (["stage:c"], "v = 1"),
        ]
    )
    assert pipeline.stage("a").options == {"cache": False, "retries": 2}
    assert pipeline.stage("b").options == {"cache": True, "timeout": 5.0}
    assert pipeline.stage("c").options == {}


def test_after_tag_on_a_later_cell_applies_to_its_stage(build_nb) -> None:
    pipeline = build_nb([(["stage:a"], "x = 1"), (["stage:b"], "y = 2"), (["after:a"], "z = 3")])
    assert pipeline.stage("b").after == ("a",)
    assert pipeline.stage("b").explicit_after == ("a",)


def test_kale_notebook_compiles_as_is(build_nb) -> None:
    pipeline = build_nb(
        [
            (["imports"], "import numpy as np"),
            (["functions"], "def sq(v):\n    return v * v"),
            (["pipeline-parameters"], "N = 4"),
            {"cell_type": "markdown", "source": "## Load"},
            (["block:load_data"], "data = np.arange(N)"),
            (["block:train", "prev:load_data"], "model = sq(data)"),
            (["block:load_data"], "extra = 1"),
            "more = extra",
            (
                ["block:evaluate", "prev:train", "limit:nvidia.com/gpu:1"],
                "acc = float(model.mean())",
            ),
            (["pipeline-metrics"], "print(acc)"),
            (["skip"], "print(data)"),
        ]
    )
    assert stage_cells(pipeline) == {
        "load_data": ["c5", "c7", "c8"],
        "train": ["c6"],
        "evaluate": ["c9"],
    }
    assert [c.ref for c in pipeline.setup] == ["c1", "c2"]
    assert pipeline.parameters_json() == {"N": {"default": 4, "type": "int"}}
    assert pipeline.stage("train").after == ("load_data",)
    assert pipeline.stage("evaluate").after == ("train",)
    assert pipeline.stage("evaluate").metrics == ("acc",)
    assert pipeline.stage("load_data").parameters == ("N",)
    assert pipeline.stage("evaluate").inputs == {"model": "train"}


def test_in_a_kale_notebook_untagged_cells_continue_the_role_above(build_nb) -> None:
    pipeline = build_nb(
        [
            (["imports"], "import math"),
            "import json",
            (["pipeline-parameters"], "N = 4"),
            "LR = 0.5",
            (["block:load"], "data = list(range(N))"),
            "more = len(data)",
            (["skip"], "plot(data)"),
            (["hide-input"], "explore(data)"),
            (["block:train", "prev:load"], "w = [v * LR for v in data]"),
            (["pipeline-metrics"], "print(more)"),
            "print(w)",
        ]
    )
    assert [c.ref for c in pipeline.setup] == ["c1", "c2"]
    assert list(pipeline.parameters) == ["N", "LR"]
    # c8 has no tag of ours: past the skip cell it continues the block above it, as in Kale
    assert stage_cells(pipeline) == {"load": ["c5", "c6", "c8"], "train": ["c9"]}
    assert [s.metrics for s in pipeline.stages] == [("more",), ("w",)]


def test_without_kale_tags_untagged_cells_are_stage_code(build_nb) -> None:
    pipeline = build_nb(
        [
            (["setup"], "import math"),
            "x = math.pi",
            (["parameters"], "n = 1"),
            "y = n",
            (["skip"], "p()"),
            "z = 1",
        ]
    )
    assert [c.ref for c in pipeline.setup] == ["c1"]
    assert list(pipeline.parameters) == ["n"]
    assert stage_cells(pipeline) == {"main": ["c2", "c4", "c6"]}


def test_a_kale_cell_continued_as_parameters_must_hold_literals(make_notebook, tmp_path) -> None:
    error = expect_error(
        make_notebook,
        tmp_path,
        [(["pipeline-parameters"], "n = 1"), "m = n + 1", (["block:a"], "x = m")],
    )
    assert (error.cell, error.line) == (2, 1)
    assert "parameter 'm' is not a literal" in error.message


def test_mlops_stage_lines(build_nb) -> None:
    pipeline = build_nb(
        [
            "%%mlops stage load\nx = 1",
            "y = x",
            "\n%%mlops stage train --after load --no-cache --retries 3 --timeout 2.5\nz = 2",
            (["after:report"], "%%mlops stage evaluate\nprint(z)"),
            "%%mlops stage report\nr = 1",
        ]
    )
    assert stage_cells(pipeline) == {
        "load": ["c1", "c2"],
        "train": ["c3"],
        "evaluate": ["c4"],
        "report": ["c5"],
    }
    train = pipeline.stage("train")
    assert train.after == ("load",)  # from --after alone: train reads nothing of load
    assert train.options == {"cache": False, "retries": 3, "timeout": 2.5}
    # the magic line is gone from the code that runs; the offset maps lines back
    assert [(c.source, c.line_offset) for c in train.cells] == [("z = 2", 2)]
    assert pipeline.stage("load").cells[1].source == "y = x"
    assert pipeline.stage("load").cells[1].line_offset == 0
    assert pipeline.stage("evaluate").after == ("train", "report")


def test_mlops_stage_line_errors_point_at_the_users_line(build_nb) -> None:
    with pytest.raises(CompileError) as caught:
        build_nb(["\n%%mlops stage a\nx = 1\ny = ("])
    assert (caught.value.cell, caught.value.line) == (1, 4)


# --------------------------------------------------------------------------- parameters and setup


@pytest.mark.parametrize(
    ("source", "default", "kind"),
    [
        pytest.param(*row, id=row[0])
        for row in [
            ("n = 3", 3, "int"),
            ("n = -2", -2, "int"),
            ("n = 0.1", 0.1, "float"),
            ("n = 1e-3", 0.001, "float"),
            ("n = 'adam'", "adam", "str"),
            ("n = True", True, "bool"),
            ("n = False", False, "bool"),
            ("n = [1, 2.5, 'a', None]", [1, 2.5, "a", None], "list"),
            (
                "n = {'depth': 3, 'layers': [16, 8], 'opt': {'lr': 0.1}}",
                {"depth": 3, "layers": [16, 8], "opt": {"lr": 0.1}},
                "dict",
            ),
            ("n = None", None, "none"),
            ("n: int = 5", 5, "int"),
            ("n = 'a' 'b'", "ab", "str"),
        ]
    ],
)
def test_parameters_are_typed_from_their_literal(build_nb, source, default, kind) -> None:
    pipeline = build_nb([(["parameters"], source), "print(n)"])
    assert pipeline.parameters_json() == {"n": {"default": default, "type": kind}}
    assert type(pipeline.parameters["n"].default) is type(default)


def test_parameters_cell_may_hold_comments_docstrings_and_pass(build_nb) -> None:
    pipeline = build_nb(
        [(["parameters"], '"""Knobs."""\n# size\nn = 3\npass\n\nlr = 0.5'), "x = n * lr"]
    )
    assert list(pipeline.parameters) == ["n", "lr"]
    assert pipeline.parameters["lr"].line == 6
    assert pipeline.parameters["lr"].cell == 1
    assert pipeline.parameters["lr"].cell_id == "c1"


def test_a_later_parameters_cell_overrides_a_default(build_nb) -> None:
    pipeline = build_nb(
        [(["parameters"], "n = 1\nm = 2"), (["parameters"], "n = 10"), "print(n, m)"]
    )
    assert pipeline.parameters_json() == {
        "n": {"default": 10, "type": "int"},
        "m": {"default": 2, "type": "int"},
    }


def test_a_stage_gets_only_the_parameters_it_reads(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "n = 3\nlr = 0.1\nunused = 'x'"),
            (["stage:a"], "data = list(range(n))"),
            (["stage:b"], "w = [v * lr for v in data]"),
            (["stage:c"], "print('done')"),
        ]
    )
    assert [s.parameters for s in pipeline.stages] == [("n",), ("lr",), ()]


def test_setup_reads_of_parameters_make_every_stage_read_them(build_nb) -> None:
    pipeline = build_nb(
        [
            (["parameters"], "seed = 1\nn = 3"),
            (["setup"], "import random\nrandom.seed(seed)"),
            (["stage:a"], "x = n"),
            (["stage:b"], "y = x"),
        ]
    )
    assert pipeline.stage("a").parameters == ("n", "seed")
    assert pipeline.stage("b").parameters == ("seed",)


def test_setup_names_are_not_inputs(build_nb) -> None:
    pipeline = build_nb(
        [
            (["setup"], "import numpy as np\n\ndef helper(v):\n    return v + 1\nCONST = 2"),
            (["stage:a"], "np.random.seed(0)\nx = helper(CONST)"),
            (["stage:b"], "y = np.zeros(x)"),
        ]
    )
    assert pipeline.stage("a").inputs == {}
    assert pipeline.stage("a").outputs == (
        "x",
    )  # not np: a method call on a module changes nothing
    assert pipeline.stage("b").inputs == {"x": "a"}
    assert [c.ref for c in pipeline.setup] == ["c1"]


def test_a_module_imported_upstream_is_not_mutated_by_a_method_call(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "import numpy as np"),
            (["stage:b"], "np.random.seed(0)\nx = np.zeros(3)"),
            (["stage:c"], "y = np.ones(3)"),
        ]
    )
    assert pipeline.stage("b").outputs == ()
    assert pipeline.stage("c").inputs == {"np": "a"}
    assert pipeline.stage("c").after == ("a",)


def test_a_stage_that_reassigns_a_parameter_passes_its_value_on(build_nb) -> None:
    pipeline = build_nb(
        [(["parameters"], "n = 3"), (["stage:a"], "n = n * 2"), (["stage:b"], "print(n)")]
    )
    assert pipeline.stage("a").parameters == ("n",)
    assert pipeline.stage("b").inputs == {"n": "a"}
    assert pipeline.stage("b").parameters == ()


# --------------------------------------------------------------------------- data flow


def test_an_input_comes_from_the_nearest_upstream_writer(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "x = 1"),
            (["stage:b"], "x = 2"),
            (["stage:c"], "y = 3"),
            (["stage:d"], "print(x, y)"),
        ]
    )
    assert pipeline.stage("d").inputs == {"x": "b", "y": "c"}
    assert pipeline.stage("d").after == ("b", "c")
    assert pipeline.stage("a").outputs == ()


def test_only_values_a_later_stage_reads_are_outputs(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "import json\nx = 1\ny = 2\ntmp = [x, y]\nz = 3"),
            (["stage:b"], "print(z, x)"),
            (["stage:c"], "print(x)"),
        ]
    )
    assert pipeline.stage("a").outputs == ("z", "x")  # in the order they are first read
    assert pipeline.stage("b").outputs == ()
    assert pipeline.stage("c").inputs == {"x": "a"}


def test_mutation_makes_a_stage_the_producer(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:load"], "X = [[1.0]]\nmodel = make()"),
            (["stage:fit"], "model.fit(X)"),
            (["stage:score"], "s = model.score(X)"),
        ]
    )
    assert pipeline.stage("fit").inputs == {"model": "load", "X": "load"}
    assert pipeline.stage("score").inputs == {"model": "fit", "X": "load"}
    assert pipeline.stage("score").after == ("load", "fit")


def test_edges_are_after_tags_and_data_flow_in_notebook_order(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "x = 1"),
            (["stage:b"], "y = 2"),
            (["stage:c", "after:b"], "print(x)"),
            (["stage:d", "after:a"], "print(x)"),
        ]
    )
    assert pipeline.stage("c").after == ("a", "b")
    assert pipeline.stage("c").explicit_after == ("b",)
    assert pipeline.stage("d").after == ("a",)
    assert pipeline.stage("b").after == ()


def test_a_check_stage_comes_before_every_stage_below_it(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:train"], "model = 1"),
            (["stage:validate", "check"], "assert model"),
            (["stage:report"], "summary = str(model)"),
            (["stage:other"], "y = 2"),
        ]
    )
    assert pipeline.stage("validate").options == {"check": True}
    assert pipeline.stage("validate").after == ("train",)
    # as the notebook run top to bottom stops at a failed check, the stages below wait for it
    assert pipeline.stage("report").after == ("train", "validate")
    assert pipeline.stage("other").after == ("validate",)
    assert pipeline.stage("train").after == ()


def test_a_check_waiting_for_a_stage_below_it_is_a_cycle(build_nb) -> None:
    with pytest.raises(CompileError, match="the stages form a cycle"):
        build_nb(
            [(["stage:validate", "check", "after:later"], "x = 1"), (["stage:later"], "y = 2")]
        )


def test_an_after_tag_may_point_forward(build_nb) -> None:
    pipeline = build_nb([(["stage:a", "after:b"], "x = 1"), (["stage:b"], "y = 2")])
    assert pipeline.stage("a").after == ("b",)


def test_builtins_and_kernel_names_are_not_inputs(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "print = 1\nlen = 2\ndisplay = 3"),
            (["stage:b"], "display(len([1]))\nget_ipython()\nprint(In, Out)"),
        ]
    )
    # builtins shadowed upstream are still passed: they are values some stage wrote
    assert pipeline.stage("b").inputs == {"display": "a", "len": "a", "print": "a"}
    assert build_nb(["x = len(range(3))", "print(x)"]).stage("main").inputs == {}


def test_a_read_of_a_later_stages_value_is_a_warning(build_nb) -> None:
    pipeline = build_nb([(["stage:a"], "print(z)"), (["stage:b"], "z = 1")])
    assert pipeline.stage("a").inputs == {}
    assert pipeline.warnings == (
        "stage 'a' reads 'z' (cell 1, line 1), which only the later stage 'b' assigns.",
    )


def test_a_read_nobody_writes_is_left_to_the_kernel(build_nb) -> None:
    pipeline = build_nb([(["stage:a"], "print(undefined_name)")])
    assert pipeline.stage("a").inputs == {}
    assert pipeline.warnings == ()


def test_metrics_belong_to_the_nearest_stage_above_that_assigns_them(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:a"], "acc = 1\nloss = 2"),
            (["stage:b"], "acc = 3"),
            (["metrics"], "acc\nprint(loss)\nacc, loss"),
            (["stage:c"], "acc = 4"),
        ]
    )
    assert [s.metrics for s in pipeline.stages] == [("loss",), ("acc",), ()]


def test_an_explicit_after_with_no_data_is_kept(build_nb) -> None:
    pipeline = build_nb(
        [(["stage:a"], "open('f', 'w').write('x')"), (["stage:b", "after:a"], "y = 1")]
    )
    assert pipeline.stage("b").after == ("a",)
    assert pipeline.stage("b").inputs == {}


def test_pipeline_name_comes_from_the_notebook_file_name() -> None:
    assert pipeline_name("work/My Model (v2).ipynb") == "my-model-v2"
    assert pipeline_name("2024 report.ipynb") == "nb-2024-report"
    assert pipeline_name("___.ipynb") == "notebook"
    assert pipeline_name(("x" * 80) + ".ipynb") == "x" * 63


# --------------------------------------------------------------------------- versions

BASE = [
    (["parameters"], "n = 3"),
    (["setup"], "import math"),
    {"cell_type": "markdown", "source": "# Title"},
    (["stage:a"], "x = math.sqrt(n)"),
    (["stage:b"], "y = x + 1"),
]


def with_cell(cells, index: int, **changes):
    changed = list(cells)
    spec = changed[index]
    if isinstance(spec, tuple):
        spec = {"tags": list(spec[0]), "source": spec[1]}
    changed[index] = {**spec, **changes}
    return changed


def test_version_is_a_short_hex_hash(build_nb) -> None:
    version = build_nb(BASE).version
    assert len(version) == 12
    int(version, 16)


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(
            with_cell(
                BASE,
                4,
                outputs=[{"output_type": "stream", "name": "stdout", "text": "hi\n"}],
                execution_count=7,
            ),
            id="outputs and execution count",
        ),
        pytest.param(with_cell(with_cell(BASE, 3, id="other-id"), 4, id=None), id="cell ids"),
        pytest.param(
            with_cell(BASE, 3, metadata={"collapsed": True, "scrolled": False}), id="cell metadata"
        ),
        pytest.param(with_cell(BASE, 2, source="# Another title"), id="markdown"),
        pytest.param(
            with_cell(BASE, 4, source="\ny = x + 1   \n\n"), id="blank lines and trailing spaces"
        ),
        pytest.param([*BASE, {"cell_type": "markdown", "source": "end"}], id="added markdown cell"),
        pytest.param([*BASE, (["skip"], "plot(y)")], id="added skipped cell"),
    ],
)
def test_version_ignores_what_does_not_run(build_nb, cells) -> None:
    assert build_nb(cells).version == build_nb(BASE).version


@pytest.mark.parametrize(
    "cells",
    [
        pytest.param(with_cell(BASE, 4, source="y = x + 2"), id="stage code"),
        pytest.param(with_cell(BASE, 1, source="import math as m\nmath = m"), id="setup code"),
        pytest.param(with_cell(BASE, 0, source="n = 4"), id="parameter default"),
        pytest.param(with_cell(BASE, 0, source="n = 3.0"), id="parameter type"),
        pytest.param(with_cell(BASE, 0, source="n = 3\nm = 1"), id="added parameter"),
        pytest.param(with_cell(BASE, 4, tags=["stage:c"]), id="stage name"),
        pytest.param(with_cell(BASE, 4, tags=["stage:b", "retries:2"]), id="stage option"),
        pytest.param(with_cell(BASE, 4, tags=[]), id="two stages merged"),
        pytest.param(
            [*BASE[:4], (["stage:b", "after:a"], "y = 1")], id="explicit after instead of data"
        ),
        pytest.param([*BASE, (["metrics"], "y")], id="metrics"),
    ],
)
def test_version_changes_with_what_runs(build_nb, cells) -> None:
    assert build_nb(cells).version != build_nb(BASE).version


# --------------------------------------------------------------------------- errors


def expect_error(make_notebook, tmp_path: Path, cells, **top) -> CompileError:
    """Compile must fail with a CompileError and write nothing."""
    path = make_notebook(cells, **top)
    out = tmp_path / "out"
    with pytest.raises(CompileError) as caught:
        compile_notebook(path, out)
    assert not out.exists()
    error = caught.value
    assert error.notebook == str(path)
    assert "\n" not in str(error)
    assert "Traceback" not in str(error)
    return error


ERRORS = [
    pytest.param(
        [(["stage:a", "after:b"], "x = 1"), (["stage:b"], "print(x)")],
        1, None, "the stages form a cycle: a -> b -> a.",
        id="cycle",
    ),
    pytest.param(
        [
            (["stage:a", "after:c"], "x = 1"),
            (["stage:b", "after:a"], "y = 1"),
            (["stage:c", "after:b"], "z = 1"),
        ],
        1, None, "the stages form a cycle",
        id="three-stage cycle",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), (["stage:b"], "y = 2"), (["stage:a"], "z = 3")],
        3, None, "stage 'a' is already started at cell 1 (id c1).",
        id="duplicate stage",
    ),
    pytest.param(
        ["x = 1", (["stage:main"], "y = x")],
        2, None, "stage 'main' is already started at cell 1",
        id="explicit main after untagged cells",
    ),
    pytest.param(
        ["x = 1", (["stage:Train"], "y = 2")],
        2, None, "'Train' is not a valid stage name.",
        id="bad stage name",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), (["stage:b", "after:nope"], "y = 2")],
        2, None, "'after:nope' names no stage of this notebook (stages: a, b).",
        id="unknown after",
    ),
    pytest.param(
        [(["parameters"], "a = 1\nn = len([1, 2])"), "print(n)"],
        1, 2, "parameter 'n' is not a literal",
        id="non-literal parameter",
    ),
    pytest.param(
        [(["parameters"], "shape = (3, 4)"), "print(shape)"],
        1, 1, "parameter 'shape' is a tuple",
        id="tuple parameter",
    ),
    pytest.param(
        [(["parameters"], "ids = {1, 2}"), "print(ids)"],
        1, 1, "parameter 'ids' is a set",
        id="set parameter",
    ),
    pytest.param(
        [(["parameters"], "pairs = [[1, 2], (3, 4)]"), "print(pairs)"],
        1, 1, "parameter 'pairs' is a list that holds a tuple; parameters are int, float, str, bool, "
        "list, dict or None",
        id="tuple inside a list parameter",
    ),
    pytest.param(
        [(["parameters"], "m = {1: 'a'}"), "print(m)"],
        1, 1, "parameter 'm' is a dict that holds a key that is not a string (1)",
        id="dict parameter with int keys",
    ),
    pytest.param(
        [(["parameters"], "big = 1e999"), "print(big)"],
        1, 1, "parameter 'big' is a number that is not finite (inf)",
        id="infinite parameter",
    ),
    pytest.param(
        [(["parameters"], "s = 'caf\\udce9'"), "print(s)"],
        1, 1, "parameter 's' is text that is not valid Unicode ('caf\\udce9'",
        id="lone surrogate in a parameter",
    ),
    pytest.param(
        [(["parameters"], "d = {'caf\\udce9': 1}"), "print(d)"],
        1, 1, "parameter 'd' is a dict that holds text that is not valid Unicode",
        id="lone surrogate in a dict key",
    ),
    pytest.param(
        [(["parameters"], "n = 1\nprint(n)"), "x = 1"],
        1, 2, "a parameters cell may only assign literal values to names",
        id="code in a parameters cell",
    ),
    pytest.param(
        [(["parameters"], "a, b = 1, 2"), "x = a"],
        1, 1, "a parameters cell may only assign literal values to names",
        id="unpacking in a parameters cell",
    ),
    pytest.param(
        ["x = 1", "y = 2\nif y\n    pass"],
        2, 2, "has a syntax error: expected ':'.",
        id="syntax error",
    ),
    pytest.param(
        [(["setup"], "import os\ndef f(:\n    pass"), "x = 1"],
        1, 2, "has a syntax error",
        id="syntax error in setup",
    ),
    pytest.param(
        [(["stage:a"], "x = 1\ndel x"), (["stage:b"], "y = 1\nprint(x)")],
        2, 2, "stage 'b' reads 'x', but stage 'a' deletes it before (del in cell 1, line 2).",
        id="read of a deleted name",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), (["metrics"], "x\naccuracy")],
        2, 2, "metric 'accuracy' is not assigned by any stage above this cell.",
        id="metric not assigned",
    ),
    pytest.param(
        [(["metrics"], "x"), (["stage:a"], "x = 1")],
        1, 1, "metric 'x' is not assigned by any stage above this cell.",
        id="metric above its stage",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), (["metrics"], "x * 2")],
        2, 1, "a metrics cell lists the names to record",
        id="expression in a metrics cell",
    ),
    pytest.param(
        [(["stage:a", "cache:off", "cache:on"], "x = 1")],
        1, None, "conflicting 'cache:' tags",
        id="conflicting options in a cell",
    ),
    pytest.param(
        [(["stage:a", "retries:1"], "x = 1"), (["retries:2"], "y = 1")],
        2, None, "stage 'a' gets two different 'retries' options.",
        id="conflicting options across cells",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), (["parameters", "setup"], "n = 1")],
        2, None, "the cell has tags for different roles (parameters, setup).",
        id="conflicting roles",
    ),
    pytest.param(
        [(["stage:a", "stage:b"], "x = 1")],
        1, None, "the cell starts two stages, 'a' and 'b'.",
        id="two stages in one cell",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), (["timeout:never"], "y = 1")],
        2, None, "'timeout:never' needs a positive number of seconds",
        id="bad timeout",
    ),
    pytest.param(
        [(["stage:a"], "x = 1"), "%%mlops stage b --gpu\ny = 1"],
        2, None, "unknown option '--gpu'",
        id="bad mlops stage line",
    ),
    pytest.param(
        [{"source": "x = 1", "metadata": {"tags": "stage:a"}}],
        1, None, "has a malformed source or tags list.",
        id="tags not a list",
    ),
    pytest.param(
        [{"source": 3}],
        1, None, "has a malformed source or tags list.",
        id="source not text",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("cells", "cell", "line", "message"), ERRORS)
def test_compile_errors_point_at_the_cell(
    make_notebook, tmp_path, cells, cell, line, message
) -> None:
    error = expect_error(make_notebook, tmp_path, cells)
    assert message in error.message
    assert error.cell == cell
    assert error.cell_id == f"c{cell}"
    assert error.line == line
    where = f"cell {cell} (id c{cell})" + (f", line {line}" if line else "")
    assert str(error).startswith(f"{error.notebook}, {where}: {error.message}")


def test_errors_carry_a_hint(make_notebook, tmp_path) -> None:
    error = expect_error(
        make_notebook, tmp_path, [(["stage:a", "after:b"], "x = 1"), (["stage:b"], "y = x")]
    )
    assert error.hint == "Remove one of the 'after:' tags so the stages can run in order."
    assert str(error).endswith(error.hint)
    assert error.to_dict()["cell"] == 1


def test_a_cell_without_id_is_named_by_position(make_notebook, tmp_path) -> None:
    error = expect_error(
        make_notebook,
        tmp_path,
        [{"source": "x = 1", "id": None}, {"source": "y = (", "id": None}],
        nbformat_minor=4,
    )
    assert (error.cell, error.cell_id, error.line) == (2, None, 1)
    assert f"{error.notebook}, cell 2, line 1: has a syntax error" in str(error)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param(b"{ not json", "is not valid notebook JSON", id="unreadable JSON"),
        pytest.param(b"\xff\xfe\x00garbage", "is not valid notebook JSON", id="binary"),
        pytest.param(b"", "is not valid notebook JSON", id="empty file"),
        pytest.param(b"[1, 2]", "is not a Jupyter notebook", id="JSON list"),
        pytest.param(b'{"nbformat": 4}', "is not a Jupyter notebook", id="no cells"),
        pytest.param(
            json.dumps(
                {"worksheets": [], "cells": [], "nbformat": 3, "nbformat_minor": 0}
            ).encode(),
            "uses notebook format 3 (cells under 'worksheets'); mlops-jupyter reads format 4.",
            id="nbformat 3",
        ),
        pytest.param(
            b'{"cells": [], "nbformat": 4, "nbformat_minor": 5}',
            "has no code cells to run: it holds no code cells at all.",
            id="no cells to run",
        ),
        pytest.param(
            b'{"cells": [{"cell_type": "code", "source": "x = \\"\\ud800\\""}], "nbformat": 4}',
            "holds text that is not valid Unicode",
            id="lone surrogate in a source",
        ),
        pytest.param(
            b'{"cells": [7], "nbformat": 4}',
            "is not a notebook cell object.",
            id="cell not an object",
        ),
    ],
)
def test_notebook_level_errors(tmp_path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.ipynb"
    path.write_bytes(content)
    out = tmp_path / "out"
    with pytest.raises(CompileError) as caught:
        compile_notebook(path, out)
    assert message in caught.value.message
    assert caught.value.notebook == str(path)
    assert not out.exists()
    assert "\n" not in str(caught.value)


def test_a_notebook_with_only_skipped_cells(make_notebook, tmp_path) -> None:
    error = expect_error(
        make_notebook, tmp_path, [(["skip"], "x = 1"), {"cell_type": "markdown", "source": "#"}]
    )
    assert error.message == (
        "has no code cells to run: every code cell is tagged 'skip' (cell 1 (id c1))."
    )
    assert error.hint == "Remove the 'skip' tag from the cells the pipeline should run."
    assert error.cell is None


def test_a_notebook_whose_only_code_is_its_parameters_cell_is_told_so(
    make_notebook, tmp_path
) -> None:
    error = expect_error(
        make_notebook,
        tmp_path,
        [{"cell_type": "markdown", "source": "# Report"}, (["parameters"], "n = 3")],
    )
    assert error.message.startswith(
        "has no code cells to run: its only code is the parameters cell 2 (id c2)"
    )
    assert "skip" not in str(error)
    assert "Add the code to run as cells below it" in (error.hint or "")


def test_a_real_nbformat_3_notebook_says_how_to_convert_it(tmp_path) -> None:
    # as IPython 2 saved it: no top-level "cells", the cells inside "worksheets"
    path = tmp_path / "old.ipynb"
    path.write_text(
        json.dumps(
            {
                "metadata": {"name": "old"},
                "nbformat": 3,
                "nbformat_minor": 0,
                "worksheets": [
                    {
                        "cells": [
                            {"cell_type": "code", "input": "x = 1", "language": "python",
                             "metadata": {}, "outputs": []}
                        ],
                        "metadata": {},
                    }
                ],
            }
        )
    )  # fmt: skip
    with pytest.raises(CompileError) as caught:
        compile_notebook(path, tmp_path / "out")
    error = caught.value
    assert "no list of cells" not in error.message
    assert error.message.startswith("uses notebook format 3")
    assert "jupyter nbconvert --to notebook --nbformat 4" in (error.hint or "")
    assert str(path) in (error.hint or "")
    assert not (tmp_path / "out").exists()


def test_a_notebook_file_name_that_is_not_utf8_is_a_clear_error(make_notebook, tmp_path) -> None:
    name = b"caf\xe9.ipynb".decode("utf-8", "surrogateescape")
    try:
        path = make_notebook(["x = 1"], name=name)
    except (UnicodeEncodeError, OSError):
        pytest.skip("this file system refuses such names")
    with pytest.raises(CompileError) as caught:
        compile_notebook(path, tmp_path / "out")
    assert "not valid UTF-8" in caught.value.message
    str(caught.value).encode()  # printable as it is


def test_a_missing_notebook(tmp_path) -> None:
    with pytest.raises(CompileError) as caught:
        compile_notebook(tmp_path / "nope.ipynb", tmp_path / "out")
    assert caught.value.message == "no such notebook."
    assert caught.value.notebook == str(tmp_path / "nope.ipynb")
    assert caught.value.cell is None
    assert not (tmp_path / "out").exists()


def test_a_folder_is_not_a_notebook(tmp_path) -> None:
    with pytest.raises(CompileError, match="is a folder, not a notebook"):
        load_pipeline(tmp_path)


def test_deeply_nested_json_is_a_compile_error() -> None:
    with pytest.raises(CompileError):
        parse_notebook("[" * 100_000, "deep.ipynb")


def test_a_long_expression_compiles(build_nb) -> None:
    # parses fine and is deep to walk: a sum of 2,000 terms is still ordinary code
    pipeline = build_nb(["a = 1", "total = " + " + ".join(["a"] * 2000)])
    assert list(pipeline.stage("main").writes) == ["a", "total"]


def test_an_expression_too_deep_to_analyse_is_a_compile_error(build_nb) -> None:
    with pytest.raises(CompileError, match="nested too deeply"):
        build_nb(["total = " + " + ".join(["a"] * 200_000)])


# --------------------------------------------------------------------------- the compiled folder

STAGED = [
    (["parameters"], "n = 3\nlr = 0.1\nname = 'run'"),
    (["setup"], "import math"),
    (["stage:load"], "data = list(range(n))"),
    "extra = 1",
    (["stage:train", "retries:2"], "%%time\nw = [v * lr for v in data]\nacc = 0.5"),
    (["metrics"], "acc"),
    (["stage:report"], "print(w, name)"),
    (["skip"], "plot(w)"),
]


def tree(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def compiled(make_notebook, tmp_path):
    path = make_notebook(STAGED)
    return path, compile_notebook(path, tmp_path / "out")


def test_compile_writes_manifest_script_and_one_notebook_per_stage(compiled, tmp_path) -> None:
    _, result = compiled
    out = tmp_path / "out"
    assert result.output == out
    assert sorted(tree(out)) == [
        "pipeline.json",
        "pipeline.py",
        "stages/load.ipynb",
        "stages/report.ipynb",
        "stages/train.ipynb",
    ]
    assert os.stat(out / "pipeline.py").st_mode & stat.S_IXUSR
    assert not list(out.rglob("*.tmp"))


def test_the_manifest_describes_the_pipeline(compiled, tmp_path) -> None:
    _, result = compiled
    manifest = json.loads((tmp_path / "out" / "pipeline.json").read_text())
    assert manifest["schema"] == "mlops-jupyter/pipeline"
    assert manifest["schema_version"] == 1
    assert manifest["pipeline"] == "nb"
    assert manifest["version"] == result.pipeline.version
    assert manifest["notebook"] == "nb.ipynb"
    assert manifest["setup_cells"] == ["c2"]
    assert [s["name"] for s in manifest["stages"]] == ["load", "train", "report"]
    train = manifest["stages"][1]
    assert train["notebook"] == "stages/train.ipynb"
    assert train["after"] == ["load"]
    assert train["inputs"] == ["data"]
    assert train["outputs"] == ["w"]
    assert train["options"] == {"retries": 2}
    assert train["metrics"] == ["acc"]
    assert train["source_cells"] == {"c5": 5}
    assert len(train["code_hash"]) == 64
    assert manifest["stages"][0]["cells"] == ["c3", "c4"]


def test_compile_never_writes_the_source_notebook(make_notebook, tmp_path) -> None:
    path = make_notebook(STAGED)
    before = path.read_bytes()
    mtime = path.stat().st_mtime_ns
    compile_notebook(path, tmp_path / "out")
    compile_notebook(path, tmp_path / "out")
    assert path.read_bytes() == before
    assert path.stat().st_mtime_ns == mtime


def test_compiling_twice_gives_identical_files_and_rewrites_nothing(compiled, tmp_path) -> None:
    path, _ = compiled
    out = tmp_path / "out"
    first = tree(out)
    inodes = {p: os.stat(p).st_ino for p in out.rglob("*") if p.is_file()}
    compile_notebook(path, out)
    assert tree(out) == first
    assert {p: os.stat(p).st_ino for p in out.rglob("*") if p.is_file()} == inodes


def test_compiling_the_same_notebook_elsewhere_gives_the_same_stage_notebooks(
    make_notebook, tmp_path
) -> None:
    a = compile_notebook(make_notebook(STAGED, name="one/nb.ipynb"), tmp_path / "out-a")
    b = compile_notebook(make_notebook(STAGED, name="two/nb.ipynb"), tmp_path / "out-b")
    assert a.pipeline.version == b.pipeline.version
    assert tree(a.output / "stages") == tree(b.output / "stages")


def test_stale_stage_notebooks_are_removed(make_notebook, tmp_path) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook([(["stage:a"], "x = 1"), (["stage:b"], "y = x")]), out)
    assert (out / "stages" / "b.ipynb").exists()
    compile_notebook(make_notebook([(["stage:a"], "x = 1"), (["stage:c"], "y = x")]), out)
    assert sorted(p.name for p in (out / "stages").iterdir()) == ["a.ipynb", "c.ipynb"]


def test_a_failed_recompile_leaves_the_previous_output_alone(make_notebook, tmp_path) -> None:
    out = tmp_path / "out"
    compile_notebook(make_notebook(STAGED), out)
    before = tree(out)
    with pytest.raises(CompileError):
        compile_notebook(make_notebook([(["stage:a"], "x = (")]), out)
    assert tree(out) == before


def test_the_default_output_is_versioned_under_the_project_home(
    make_notebook, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "home"))
    result = compile_notebook(make_notebook(STAGED, name="Train Model.ipynb"))
    version = result.pipeline.version
    assert result.output == tmp_path / "home" / "pipelines" / "train-model" / version
    assert (result.output / "pipeline.json").is_file()


def test_compile_refuses_to_overwrite_the_source_notebook(make_notebook, tmp_path) -> None:
    path = make_notebook([(["stage:nb"], "x = 1")], name="stages/nb.ipynb")
    before = path.read_bytes()
    with pytest.raises(CompileError, match="would overwrite the source notebook"):
        compile_notebook(path, tmp_path)
    assert path.read_bytes() == before


def test_compile_refuses_an_output_that_is_a_file(make_notebook, tmp_path) -> None:
    (tmp_path / "out").write_text("keep me")
    with pytest.raises(CompileError, match="exists and is not a folder"):
        compile_notebook(make_notebook(STAGED), tmp_path / "out")
    assert (tmp_path / "out").read_text() == "keep me"


def stage_nb(tmp_path: Path, name: str) -> dict:
    return json.loads((tmp_path / "out" / "stages" / f"{name}.ipynb").read_text())


def test_a_stage_notebook_is_parameters_setup_inputs_code_outputs(compiled, tmp_path) -> None:
    nb = stage_nb(tmp_path, "train")
    roles = [c["metadata"]["mlops"]["role"] for c in nb["cells"]]
    assert roles == ["parameters", "setup", "inputs", "code", "outputs"]
    assert [c["id"] for c in nb["cells"]] == [
        "mlops-parameters",
        "c2",
        "mlops-inputs",
        "c5",
        "mlops-outputs",
    ]
    assert all(c["cell_type"] == "code" and c["outputs"] == [] for c in nb["cells"])
    assert nb["nbformat"] == 4
    assert nb["nbformat_minor"] == 5
    assert nb["metadata"]["kernelspec"]["name"] == "python3"
    assert nb["metadata"]["mlops"] == {
        "pipeline": "nb",
        "source_notebook": "nb.ipynb",
        "stage": "train",
        "version": json.loads((tmp_path / "out" / "pipeline.json").read_text())["version"],
    }


def test_the_parameters_cell_holds_only_what_the_stage_reads(compiled, tmp_path) -> None:
    params = [stage_nb(tmp_path, s)["cells"][0] for s in ("load", "train", "report")]
    assert all(c["metadata"]["tags"] == ["parameters"] for c in params)
    sources = [c["source"].splitlines() for c in params]
    assert [lines[:-1] for lines in sources] == [["n = 3"], ["lr = 0.1"], ["name = 'run'"]]
    assert all(lines[-1].startswith("_mlops = None") for lines in sources)


def test_user_cells_keep_their_source_and_origin(compiled, tmp_path) -> None:
    load = stage_nb(tmp_path, "load")
    code = [c for c in load["cells"] if c["metadata"]["mlops"]["role"] == "code"]
    assert [c["source"] for c in code] == ["data = list(range(n))", "extra = 1"]
    assert [c["metadata"]["mlops"]["source_cell"] for c in code] == [
        {"id": "c3", "index": 3, "line_offset": 0},
        {"id": "c4", "index": 4, "line_offset": 0},
    ]
    setup = load["cells"][1]
    assert setup["source"] == "import math"
    assert setup["metadata"]["mlops"]["source_cell"] == {"id": "c2", "index": 2, "line_offset": 0}


def test_inputs_and_outputs_cells_name_the_values(compiled, tmp_path) -> None:
    load, train, report = (stage_nb(tmp_path, s) for s in ("load", "train", "report"))
    assert "load_inputs" not in load["cells"][2]["source"]
    assert "start(_mlops)" in load["cells"][2]["source"]
    assert "data, = _mlops_values.load_inputs(_mlops, ['data'])" in train["cells"][2]["source"]
    assert train["cells"][-1]["source"] == (
        "_mlops_values.save_outputs(_mlops, globals(), ['w'], metrics=['acc'])"
    )
    assert load["cells"][-1]["source"] == (
        "_mlops_values.save_outputs(_mlops, globals(), ['data'], metrics=[])"
    )
    assert report["cells"][-1]["source"] == (
        "_mlops_values.save_outputs(_mlops, globals(), [], metrics=[])"
    )


def test_generated_code_cells_are_valid_python(compiled, tmp_path) -> None:
    import ast

    for name in ("load", "train", "report"):
        for cell in stage_nb(tmp_path, name)["cells"]:
            if cell["metadata"]["mlops"]["role"] in ("parameters", "inputs", "outputs"):
                ast.parse(cell["source"])


def test_mlops_stage_lines_are_removed_from_stage_notebooks(make_notebook, tmp_path) -> None:
    path = make_notebook(["%%mlops stage a --retries 1\nx = 1", "\n\n%%mlops stage b\ny = x"])
    compile_notebook(path, tmp_path / "out")
    b = stage_nb(tmp_path, "b")
    code = [c for c in b["cells"] if c["metadata"]["mlops"]["role"] == "code"]
    assert code[0]["source"] == "y = x"
    assert code[0]["metadata"]["mlops"]["source_cell"] == {"id": "c2", "index": 2, "line_offset": 3}


def test_cells_without_ids_are_named_by_position(make_notebook, tmp_path) -> None:
    path = make_notebook([{"source": "x = 1", "id": None}], nbformat_minor=4)
    compile_notebook(path, tmp_path / "out")
    main = stage_nb(tmp_path, "main")
    assert [c["id"] for c in main["cells"]] == [
        "mlops-parameters",
        "mlops-inputs",
        "cell-1",
        "mlops-outputs",
    ]


def test_a_user_cell_id_never_clashes_with_generated_ids(make_notebook, tmp_path) -> None:
    path = make_notebook([{"source": "x = 1", "id": "mlops-inputs"}])
    compile_notebook(path, tmp_path / "out")
    ids = [c["id"] for c in stage_nb(tmp_path, "main")["cells"]]
    assert len(ids) == len(set(ids))
    assert ids[2].startswith("mlops-inputs")


def test_the_kernelspec_is_carried_over(make_notebook, tmp_path) -> None:
    spec = {"display_name": "Py (ml)", "language": "python", "name": "ml-env"}
    path = make_notebook(["x = 1"], metadata={"kernelspec": spec})
    compile_notebook(path, tmp_path / "out")
    assert stage_nb(tmp_path, "main")["metadata"]["kernelspec"] == spec


def test_stage_notebooks_are_valid_nbformat(compiled, tmp_path) -> None:
    nbformat = pytest.importorskip("nbformat")
    for path in sorted((tmp_path / "out" / "stages").glob("*.ipynb")):
        nbformat.validate(nbformat.read(path, as_version=4))


def test_compiled_to_dict_names_the_output(compiled, tmp_path) -> None:
    _, result = compiled
    data = result.to_dict()
    assert data["output"] == str(tmp_path / "out")
    assert data["version"] == result.pipeline.version


# --------------------------------------------------------------------------- face magics


def test_pipeline_driving_magics_do_not_run_inside_stages(build_nb) -> None:
    pipeline = build_nb(
        [
            "%load_ext mlops_jupyter",  # alone above the first stage: no stage of its own
            (["stage:a"], "x = 1\nif x:\n    %mlops run\n%mlops explain --notebook nb.ipynb"),
            "%mlops log acc=0.5",
        ]
    )
    assert [s.name for s in pipeline.stages] == ["a"]
    sources = [c.source for c in pipeline.stage("a").cells]
    # replaced in place by `pass`, so blocks stay valid and line numbers stay the user's
    assert sources == ["x = 1\nif x:\n    pass\npass", "%mlops log acc=0.5"]


def test_a_stage_that_logs_with_the_magic_loads_the_extension(build_nb) -> None:
    from mlops_jupyter.compiler.render.stage import stage_notebook

    pipeline = build_nb([(["stage:a"], "%mlops log acc=0.5"), (["stage:b"], "y = 2")])
    inputs = {
        s.name: next(c for c in stage_notebook(pipeline, s)["cells"] if c["id"] == "mlops-inputs")
        for s in pipeline.stages
    }
    assert "load_extension" in inputs["a"]["source"]
    assert "load_extension" not in inputs["b"]["source"]
