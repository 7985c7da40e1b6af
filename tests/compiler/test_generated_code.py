"""Generated code is data: whatever text a notebook holds — parameter defaults, its file name,
stage names — ``pipeline.py`` and the stage notebooks hold it as literals that read back equal,
and reading or running them executes nothing it carried in.

Every value goes through one function, :func:`~mlops_jupyter.compiler.render.literal`.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops_jupyter.compiler.build import build_pipeline
from mlops_jupyter.compiler.model import Pipeline, Stage
from mlops_jupyter.compiler.notebook import parse_notebook
from mlops_jupyter.compiler.output import compile_notebook, render_files
from mlops_jupyter.compiler.render import identifier, literal
from mlops_jupyter.compiler.render.script import render_script
from mlops_jupyter.errors import CompileError

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text that has broken out of string literals and docstrings before, mixed with anything at all.
HOSTILE = [
    '""";__import__("os").system("touch PWNED");"""',
    '"""\nimport os; os.system("touch PWNED")\n"""',
    "'''; open('PWNED', 'w')  # ",
    '"; open("PWNED", "w"); "',
    "\\N{",
    "\\",
    "\\x",
    "{name}",
    "%s",
    "\r\n__import__('os').system('touch PWNED')\n",
    "\u2028\u2029\x0c\x00\x1b",
    "#",
]
TEXT = st.one_of(st.sampled_from(HOSTILE), st.text(), st.text(st.characters(codec="utf-8")))
PLAIN = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        TEXT,
    ),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)),
    max_leaves=12,
)
FILE_NAMES = st.one_of(
    st.sampled_from([*HOSTILE, "a\\b.ipynb", "C:\\Users\\me\\nb.ipynb", "\\N{LATIN}.ipynb"]),
    st.text(min_size=1),
).filter(lambda n: "/" not in n and "\x00" not in n and n not in (".", ".."))

# the only shapes of statement a pipeline.py has: anything else is code carried in
_ALLOWED = (ast.Import, ast.ImportFrom, ast.Assign, ast.If, ast.Expr)


def literals(source: str) -> dict[str, Any]:
    """The module's top-level ``NAME = literal`` assignments, after checking it holds nothing
    but those, its docstring, its imports and the ``__main__`` guard."""
    tree = ast.parse(source)
    compile(source, "pipeline.py", "exec")
    values: dict[str, Any] = {}
    for i, stmt in enumerate(tree.body):
        assert isinstance(stmt, _ALLOWED), ast.dump(stmt)
        if isinstance(stmt, ast.Expr):
            assert i == 0 and isinstance(stmt.value, ast.Constant), "only a docstring"
        if isinstance(stmt, ast.If):
            assert ast.unparse(stmt.test) == "__name__ == '__main__'"
            assert ast.unparse(stmt) == (
                "if __name__ == '__main__':\n"
                "    sys.exit(main(['run', str(Path(__file__).resolve().parent), *sys.argv[1:]]))"
            )
        if isinstance(stmt, ast.Assign):
            (target,) = stmt.targets
            assert isinstance(target, ast.Name)
            values[target.id] = ast.literal_eval(stmt.value)
    assert ast.get_docstring(tree) is not None
    return values


def notebook_text(default: Any) -> str:
    """A notebook whose parameters cell declares ``p`` with ``default``, and a stage reading it."""
    cells = [
        {"tags": ["parameters"], "source": f"p = {default!r}"},
        {"tags": [], "source": "q = p"},
    ]
    return json.dumps(
        {
            "cells": [
                {"cell_type": "code", "id": f"c{i}", "metadata": {"tags": c["tags"]},
                 "source": c["source"], "outputs": [], "execution_count": None}
                for i, c in enumerate(cells, start=1)
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
    )  # fmt: skip


def compiled_with(default: Any = "x", notebook: str = "nb.ipynb") -> Pipeline:
    return build_pipeline(parse_notebook(notebook_text(default), notebook))


def stage_code(files: dict[str, str], stage: str = "main") -> dict[str, str]:
    """The generated cells of a stage notebook (parameters, inputs, outputs), by role."""
    nb = json.loads(files[f"stages/{stage}.ipynb"])
    return {
        c["metadata"]["mlops"]["role"]: c["source"]
        for c in nb["cells"]
        if c["metadata"]["mlops"]["role"] in ("parameters", "inputs", "outputs")
    }


# --------------------------------------------------------------------------- the one function


@SETTINGS
@given(PLAIN)
def test_literal_reads_back_equal_for_any_plain_value(value: Any) -> None:
    assert ast.literal_eval(literal(value)) == value
    assert "\n" not in literal(value), "one line: never ends a comment or a docstring line"


@pytest.mark.parametrize(
    "value", [object(), {1, 2}, float("nan"), float("inf"), [b"bytes"], {"k": Path("p")}]
)
def test_literal_refuses_what_is_not_plain_data(value: Any) -> None:
    with pytest.raises(TypeError):
        literal(value)


@pytest.mark.parametrize("name", ["", "a b", "x)\nimport os", "class", "1x"])
def test_identifier_refuses_what_is_not_a_python_name(name: str) -> None:
    with pytest.raises(ValueError):
        identifier(name)


# --------------------------------------------------------------------------- pipeline.py


@SETTINGS
@given(TEXT, FILE_NAMES)
def test_pipeline_py_holds_any_default_and_notebook_name_as_data(default: str, name: str) -> None:
    pipeline = compiled_with(default, name)
    values = literals(render_files(pipeline)["pipeline.py"])
    assert values["NOTEBOOK"] == name
    assert values["PARAMETERS"] == {"p": ["str", default]}
    assert values["PIPELINE"] == pipeline.name
    assert values["STAGES"] == {"main": []}


@SETTINGS
@given(st.lists(TEXT, min_size=1, max_size=4, unique=True), TEXT)
def test_pipeline_py_holds_any_stage_name_as_data(names: list[str], upstream: str) -> None:
    # below the tag grammar, which only lets [a-z][a-z0-9_-]* through: the renderer alone is safe
    base = compiled_with()
    stages = tuple(
        Stage(
            name=n, cells=(), after=(names[0],) if i else (), inputs={}, outputs=(), parameters=()
        )
        for i, n in enumerate(names)
    )
    pipeline = Pipeline(
        name=upstream,
        version=upstream,
        notebook=upstream,
        parameters=base.parameters,
        setup=(),
        stages=stages,
    )
    values = literals(render_script(pipeline))
    assert values["STAGES"] == {n: [names[0]] if i else [] for i, n in enumerate(names)}
    assert values["PIPELINE"] == values["VERSION"] == values["NOTEBOOK"] == upstream


@SETTINGS
@given(PLAIN)
def test_stage_notebook_parameters_cell_holds_any_default_as_data(default: Any) -> None:
    try:
        pipeline = compiled_with(default)
    except CompileError:
        return  # not a parameter type (e.g. a dict with a non-string key): refused, not written
    code = stage_code(render_files(pipeline))
    for source in code.values():
        compile(source, "cell", "exec")
    (assignment, context) = ast.parse(code["parameters"]).body
    assert isinstance(assignment, ast.Assign)
    assert ast.unparse(assignment.targets[0]) == "p"
    assert ast.literal_eval(assignment.value) == default
    assert ast.unparse(context) == "_mlops = None"


def test_a_backslash_in_the_notebook_name_compiles_to_a_valid_pipeline_py(
    make_notebook, tmp_path
) -> None:
    path = make_notebook(["x = 1"], name="C:\\N{x}\\model.ipynb")
    out = tmp_path / "out"
    compile_notebook(path, out)
    assert literals((out / "pipeline.py").read_text())["NOTEBOOK"] == path.name


# --------------------------------------------------------------------------- run as a user runs it


def help_runs_clean(tmp_path: Path, default: str, name: str) -> None:
    folder = tmp_path / "case"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(notebook_text(default), encoding="utf-8")
    out = folder / "out"
    compile_notebook(path, out, force=True)
    result = subprocess.run(
        [sys.executable, str(out / "pipeline.py"), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=folder,
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout
    assert not (folder / "PWNED").exists()
    assert not (out / "PWNED").exists()


@pytest.mark.parametrize("text", HOSTILE)
def test_pipeline_py_help_runs_nothing_a_default_carried_in(tmp_path, text: str) -> None:
    help_runs_clean(tmp_path, text, "nb.ipynb")


@pytest.mark.parametrize(
    "name", ['"""; open("PWNED", "w"); """.ipynb', "a\\N{b}.ipynb", "x\\.ipynb", "{p}.ipynb"]
)
def test_pipeline_py_help_runs_nothing_a_notebook_name_carried_in(tmp_path, name: str) -> None:
    help_runs_clean(tmp_path, "x", name)


@settings(SETTINGS, max_examples=6)
@given(TEXT, FILE_NAMES.filter(lambda n: len(n.encode()) < 200 and n.strip() == n))
def test_pipeline_py_help_runs_for_any_default_and_name(tmp_path, default: str, name: str) -> None:
    try:
        help_runs_clean(tmp_path, default, name)
    except UnicodeEncodeError:
        pytest.skip("the file system cannot hold this name")
