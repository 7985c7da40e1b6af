"""IPython syntax in cells is read as the Python it runs as, so data flow sees through it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from mlops_jupyter.compiler.analysis import analyze
from mlops_jupyter.compiler.syntax import parse_source, strip_python_cell_magic

IPYTHON_ONLY = {"get_ipython"}  # what IPython's transformed code calls


def reads_writes(source: str) -> tuple[set[str], set[str]]:
    flow = analyze([(1, parse_source(source))])
    return set(flow.reads) - IPYTHON_ONLY, set(flow.writes)


@pytest.mark.parametrize(
    ("source", "reads", "writes"),
    [
        pytest.param("%matplotlib inline\nx = 1", set(), {"x"}, id="line magic"),
        pytest.param("%load_ext mlops_jupyter\ny = 2", set(), {"y"}, id="load_ext"),
        pytest.param("!ls -la\ny = z", {"z"}, {"y"}, id="shell escape"),
        pytest.param("files = !ls", set(), {"files"}, id="shell capture assigns"),
        pytest.param("x = %env HOME", set(), {"x"}, id="magic capture assigns"),
        pytest.param("for i in r:\n    %time f(i)", {"r"}, {"i"}, id="indented line magic"),
        pytest.param("%%time\nx = y + 1", {"y"}, {"x"}, id="%%time body is Python"),
        pytest.param("%%timeit -n 3\nz = w", {"w"}, {"z"}, id="%%timeit body is Python"),
        pytest.param(
            "%%capture out\nprint(q)", {"print", "q"}, set(), id="%%capture body is Python"
        ),
        pytest.param("%%mlops stage a\nx = data", {"data"}, {"x"}, id="%%mlops body is Python"),
        pytest.param(
            "%%bash\necho $x\nfor i in 1 2; do y=$i; done", set(), set(), id="%%bash body ignored"
        ),
        pytest.param(
            "%%writefile helper.py\nimport os\nx = (", set(), set(), id="%%writefile body ignored"
        ),
        pytest.param("%%html\n<b>{x}</b>", set(), set(), id="%%html body ignored"),
        pytest.param("df?", set(), set(), id="help is not a read or write"),
        pytest.param("df.head??", set(), set(), id="source help"),
        pytest.param("?df", set(), set(), id="prefix help"),
    ],
)
def test_ipython_syntax_is_read_as_python(source: str, reads: set[str], writes: set[str]) -> None:
    assert reads_writes(source) == (reads, writes)


def test_python_body_magic_keeps_line_numbers() -> None:
    flow = analyze([(1, parse_source("%%time\n\nx = y"))])
    assert flow.reads["y"].line == 3
    assert strip_python_cell_magic("%%time\nx = 1") == "\nx = 1"


def test_other_cell_magics_are_left_for_ipython() -> None:
    assert strip_python_cell_magic("%%bash\nls") == "%%bash\nls"
    assert strip_python_cell_magic("x = 1") == "x = 1"
    assert strip_python_cell_magic("%%") == "%%"


@pytest.mark.parametrize(
    ("source", "line"),
    [
        pytest.param("x = 1\nif x\n    pass", 2, id="plain python"),
        pytest.param("x = 1\ny = (\n", 2, id="unclosed paren"),
        pytest.param("%%time\nx = 1\ny = (", 3, id="inside %%time"),
        pytest.param("%matplotlib inline\nx = (", 2, id="after a line magic"),
        pytest.param("a = 1\n!ls\nfor x in\n", 3, id="after a shell escape"),
        pytest.param("x = 1\ndf?\ny = )", 3, id="after a help line"),
    ],
)
def test_a_real_syntax_error_keeps_the_users_line(source: str, line: int) -> None:
    with pytest.raises(SyntaxError) as caught:
        parse_source(source)
    assert caught.value.lineno == line
    assert "get_ipython" not in str(caught.value.text or "")


def test_plain_cells_never_import_ipython() -> None:
    code = (
        "import sys\n"
        "from mlops_jupyter.compiler.syntax import parse_source\n"
        "parse_source('x = 1\\ny = [i for i in range(x)]')\n"
        "try:\n"
        "    parse_source('x = (')\n"
        "except SyntaxError:\n"
        "    pass\n"
        "print('IPython' in sys.modules)\n"
        "parse_source('%matplotlib inline')\n"
        "print('IPython' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


def test_a_stage_sees_through_magics(build_nb) -> None:
    pipeline = build_nb(
        [
            (["stage:load"], "%%time\nx = 1\ny = 2"),
            (["stage:use"], "%matplotlib inline\n!echo $y\nz = x"),
            "%%bash\necho $y",
        ]
    )
    use = pipeline.stage("use")
    assert use.inputs == {"x": "load"}
    assert pipeline.stage("load").outputs == ("x",)
