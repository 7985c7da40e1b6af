"""Whatever a notebook holds, compiling it either works or fails with a CompileError.

Random cells mix free text with Python-ish fragments, IPython syntax and the tag vocabulary with
random names. A notebook that compiles must also make sense: edges point at real stages, every
input comes from an earlier stage that outputs it, the graph has no cycle, and it renders.
"""

from __future__ import annotations

import ast
import json
import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_jupyter.compiler.build import build_pipeline
from mlops_jupyter.compiler.model import Pipeline
from mlops_jupyter.compiler.notebook import parse_notebook
from mlops_jupyter.compiler.output import render_files
from mlops_jupyter.compiler.tags import CellTags, TagError, parse_cell_tags
from mlops_jupyter.errors import CompileError

SETTINGS = settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

NAMES = st.one_of(
    st.sampled_from(["a", "b", "c", "main", "train", "load-data", "x_1"]),
    st.sampled_from(["Bad", "1st", "", "a" * 64, "a.b", " a"]),
    st.text(max_size=6),
)
OPTION_VALUES = st.one_of(
    st.sampled_from(
        ["on", "off", "0", "3", "100", "101", "-1", "1.5", "inf", "nan", "1e3", "x", "\u00b2", "\u0663"]
    ),
    st.text(max_size=4),
)  # fmt: skip
TAGS = st.one_of(
    st.sampled_from(
        [
            "parameters", "setup", "skip", "metrics", "imports", "functions",
            "pipeline-parameters", "pipeline-metrics", "hide-input", "limit:gpu:1",
            "injected-parameters", "prev:a:b", "block:a;b",
        ]
    ),
    st.builds(
        str.__add__, st.sampled_from(["stage:", "after:", "block:", "step:", "prev:"]), NAMES
    ),
    st.builds(str.__add__, st.sampled_from(["cache:", "retries:", "timeout:"]), OPTION_VALUES),
    st.text(max_size=10),
)  # fmt: skip

FRAGMENTS = st.sampled_from(
    [
        "x = 1", "y = x + 1", "z = y * n", "del x", "del y[0]", "n = 3", "lr = 0.1", "name = 'a'",
        "flag = True", "t = (1, 2)", "s = {1, 2}", "d = {'a': [1, None]}", "bad = f(1)",
        "import numpy as np", "np.random.seed(n)", "from m import *", "from m import thing",
        "thing.fit(x)", "model.fit(x)\nacc = 0.5", "acc", "print(acc)", "print(x, y)", "acc, x",
        "def f(a):\n    return a + z", "class A:\n    v = w\n    def m(self):\n        return v",
        "for i in range(n):\n    total += i", "if x:\n    z = 1\nelse:\n    z = 2",
        "try:\n    q = 1\nexcept E as e:\n    pass", "match x:\n    case [a, b]:\n        pass",
        "[y := v for v in x]", "g = lambda: x", "global g", "nonlocal q", "yield x", "return 1",
        "await foo()", "async def h():\n    await k()", "x: int", "x: int = 1", "a, b = 1, 2",
        "*a, = [1]", "@dec\ndef f():\n    pass", "with open(p) as fh:\n    data = fh.read()",
        "x = f(", ")", "    indented = 1", "\\", "'''", '"""doc"""', "# comment", "pass", "",
        "%matplotlib inline", "!ls", "x = !ls", "%time y = 2", "%%time", "%%bash", "%%capture",
        "df?", "%%mlops", "%%mlops run", "%mlops compile", "\t", "\r", "\x00", "\ufeff",
    ]
)  # fmt: skip
MAGIC_LINES = st.builds(
    lambda name, opts: " ".join(["%%mlops stage", name, *opts]),
    NAMES,
    st.lists(
        st.one_of(
            st.builds("--after {}".format, NAMES),
            st.builds("--retries {}".format, OPTION_VALUES),
            st.builds("--timeout={}".format, OPTION_VALUES),
            st.sampled_from(["--no-cache", "--after", "--bogus", "extra"]),
        ),
        max_size=3,
    ),
)
SOURCES = st.one_of(
    st.text(max_size=60),
    st.lists(FRAGMENTS, max_size=6).map("\n".join),
    st.builds(
        lambda first, rest: "\n".join([first, *rest]), MAGIC_LINES, st.lists(FRAGMENTS, max_size=4)
    ),
)
CELLS = st.fixed_dictionaries(
    {
        "cell_type": st.sampled_from(["code", "code", "code", "code", "markdown", "raw"]),
        "source": st.one_of(SOURCES, SOURCES.map(lambda s: s.splitlines(keepends=True))),
        "metadata": st.fixed_dictionaries({"tags": st.lists(TAGS, max_size=4)}),
    },
    optional={"id": st.one_of(st.text(min_size=1, max_size=6), st.none(), st.integers())},
)


OPTION_TAGS = st.builds(
    str.__add__,
    st.sampled_from(["cache:", "retries:", "timeout:", "stage:", "after:"]),
    OPTION_VALUES,
)


@SETTINGS
@given(st.lists(st.one_of(TAGS, OPTION_TAGS), max_size=5), st.one_of(SOURCES, MAGIC_LINES))
def test_any_tags_parse_or_raise_a_tag_error(tags: list[str], source: str) -> None:
    try:
        parsed = parse_cell_tags(tags, source)
    except TagError as error:
        assert error.message
        return
    assert isinstance(parsed, CellTags)
    assert parsed.retries is None or 0 <= parsed.retries <= 100
    assert parsed.timeout is None or 0 < parsed.timeout < float("inf")
    assert len(set(parsed.after)) == len(parsed.after)


def check_pipeline(pipeline: Pipeline) -> None:
    names = [s.name for s in pipeline.stages]
    assert len(names) == len(set(names))
    assert all(re.fullmatch(r"[a-z][a-z0-9_-]{0,62}", n) for n in names)
    assert re.fullmatch(r"[0-9a-f]{12}", pipeline.version)
    position = {n: i for i, n in enumerate(names)}
    for i, stage in enumerate(pipeline.stages):
        assert set(stage.after) <= set(names)
        assert stage.name not in stage.after
        assert set(stage.parameters) <= set(pipeline.parameters)
        for value, producer in stage.inputs.items():
            assert position[producer] < i
            assert producer in stage.after
            assert value in pipeline.stage(producer).outputs
        for value in stage.outputs:
            assert any(later.inputs.get(value) == stage.name for later in pipeline.stages[i + 1 :])
    # the edges form a DAG: repeatedly remove stages whose upstreams are all gone
    left = {s.name: set(s.after) for s in pipeline.stages}
    while left:
        ready = [n for n, ups in left.items() if not ups & set(left)]
        assert ready, f"cycle among {sorted(left)}"
        for n in ready:
            del left[n]
    files = render_files(pipeline)
    assert set(files) == {"pipeline.json", "pipeline.py"} | {f"stages/{n}.ipynb" for n in names}
    ast.parse(files["pipeline.py"])
    manifest = json.loads(files["pipeline.json"])
    assert [s["name"] for s in manifest["stages"]] == names
    for name in names:
        nb = json.loads(files[f"stages/{name}.ipynb"])
        roles = [c["metadata"]["mlops"]["role"] for c in nb["cells"]]
        assert roles[0] == "parameters"
        assert roles[-1] == "outputs"
        assert roles.count("inputs") == 1
        ids = [c["id"] for c in nb["cells"]]
        assert len(ids) == len(set(ids))
        for cell in nb["cells"]:
            if cell["metadata"]["mlops"]["role"] in ("parameters", "inputs", "outputs"):
                ast.parse(cell["source"])


def compile_or_fail_cleanly(notebook: dict) -> None:
    try:
        pipeline = build_pipeline(parse_notebook(json.dumps(notebook), "fuzz.ipynb"))
    except CompileError as error:
        assert error.message
        assert error.notebook == "fuzz.ipynb"
        str(error)
        return
    check_pipeline(pipeline)


def code_notebook(cells: list[tuple[list[str], list[str]]]) -> dict:
    return {
        "cells": [
            {
                "cell_type": "code",
                "id": f"c{i}",
                "metadata": {"tags": tags},
                "source": "\n".join(lines),
            }
            for i, (tags, lines) in enumerate(cells)
        ],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@SETTINGS
@given(st.lists(CELLS, max_size=8))
def test_any_cells_compile_or_fail_with_a_compile_error(cells: list[dict]) -> None:
    compile_or_fail_cleanly({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})


@SETTINGS
@given(
    st.lists(
        st.tuples(st.lists(TAGS, max_size=3), st.lists(FRAGMENTS, min_size=1, max_size=4)),
        min_size=1,
        max_size=8,
    )
)
def test_python_cells_with_random_tags(cells: list[tuple[list[str], list[str]]]) -> None:
    compile_or_fail_cleanly(code_notebook(cells))


GOOD_NAMES = st.sampled_from(["a", "b", "c", "d", "main"])
CODE = st.sampled_from(
    [
        "x = 1", "y = x + 1", "z = y * n", "w = [v * lr for v in x]", "del x", "x.append(y)",
        "model = make()", "model.fit(x, y)", "acc = 0.5", "loss = 1 - acc", "import numpy as np",
        "np.random.seed(n)", "def f(a):\n    return a + z", "total = sum(x)", "print(x, y, z)",
        "if x:\n    q = 1\nelse:\n    q = 2", "%matplotlib inline", "%%time\nr = q", "x = !ls",
        "for i in range(n):\n    acc += i", "[k := v for v in y]", "data = load(path)",
    ]
)  # fmt: skip
STAGE_CELL = st.tuples(
    st.tuples(
        st.one_of(
            st.none(),
            st.builds(str.__add__, st.sampled_from(["stage:", "block:", "block:"]), GOOD_NAMES),
        ),
        st.one_of(
            st.none(),
            st.none(),
            st.none(),
            st.builds(str.__add__, st.sampled_from(["after:", "prev:"]), GOOD_NAMES),
        ),
        st.one_of(
            st.none(), st.none(), st.sampled_from(["skip", "cache:off", "retries:2", "timeout:60"])
        ),
    ).map(lambda tags: [t for t in tags if t]),
    st.lists(CODE, min_size=1, max_size=3),
)
PLAUSIBLE = st.sampled_from([0, 1, 2] + [3] * 12).flatmap(lambda kind: ROLE_CELLS[kind])
ROLE_CELLS = [
    st.tuples(
        st.just(["parameters"]),
        st.lists(st.sampled_from(["n = 3", "lr = 0.1", "path = 'a.csv'", "x = [1, 2]"]), max_size=3),
    ),
    st.tuples(
        st.sampled_from([["setup"], ["imports"], ["functions"]]),
        st.lists(st.sampled_from(["import math", "def load(p):\n    return [1]", "K = 2"]), max_size=2),
    ),
    st.tuples(
        st.sampled_from([["metrics"], ["pipeline-metrics"]]),
        st.lists(st.sampled_from(["acc", "print(acc)", "acc, x"]), min_size=1, max_size=2),
    ),
    STAGE_CELL,
]  # fmt: skip


@SETTINGS
@given(st.lists(PLAUSIBLE, min_size=1, max_size=10))
def test_plausible_notebooks(cells: list[tuple[list[str], list[str]]]) -> None:
    compile_or_fail_cleanly(code_notebook(cells))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
FIELDS = st.sampled_from(["cells", "nbformat", "metadata", "cell_type", "source", "tags", "id"])


@SETTINGS
@given(
    st.one_of(
        JSON,
        st.dictionaries(FIELDS, JSON, max_size=4),
        st.fixed_dictionaries(
            {
                "nbformat": st.sampled_from([4, 4.0, 3, "4", None]),
                "cells": st.lists(
                    st.one_of(
                        JSON,
                        st.dictionaries(FIELDS, JSON, max_size=4),
                        st.fixed_dictionaries(
                            {"cell_type": st.sampled_from(["code", "markdown", 1]), "source": JSON},
                            optional={"metadata": st.one_of(JSON, st.fixed_dictionaries({"tags": JSON}))},
                        ),
                    ),
                    max_size=4,
                ),
            },
            optional={"metadata": JSON},
        ),
    )
)  # fmt: skip
def test_any_json_document_compiles_or_fails_with_a_compile_error(document) -> None:
    compile_or_fail_cleanly(document)


@SETTINGS
@given(st.binary(max_size=200))
def test_any_bytes_compile_or_fail_with_a_compile_error(data: bytes) -> None:
    try:
        pipeline = build_pipeline(parse_notebook(data, "fuzz.ipynb"))
    except CompileError:
        return
    check_pipeline(pipeline)
