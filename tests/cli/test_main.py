"""The ``mlops`` command, run as a user runs it: a subprocess, exit codes, stdout and stderr."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import write_notebook

MLOPS = [sys.executable, "-m", "mlops_jupyter"]

CELLS = [
    (["parameters"], "n = 3\nlr = 0.1\nname = 'run'"),
    (["setup"], "import math"),
    (["stage:load"], "data = list(range(n))"),
    (["stage:train", "retries:2", "cache:off"], "w = [v * lr for v in data]\nacc = 0.5"),
    (["metrics"], "acc"),
    (["stage:report", "after:load"], "print(w, name)"),
]


def mlops(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MLOPS, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=60
    )


def assert_clean_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 2
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    message = result.stderr.strip()
    assert message
    assert "\n\n" not in message, "one paragraph"
    for needle in needles:
        assert needle in message


def test_help_works() -> None:
    result = mlops("--help")
    assert result.returncode == 0
    for verb in ("explain", "compile", "run"):
        assert verb in result.stdout
    assert result.stderr == ""


def test_the_console_script_is_installed() -> None:
    script = Path(sys.executable).parent / "mlops"
    assert script.exists()
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout.strip() == "mlops-jupyter 0.1.0"


def test_no_command_prints_help_and_exits_2() -> None:
    result = mlops()
    assert result.returncode == 2
    assert "usage: mlops" in result.stdout


def test_explain_json_contract(make_notebook) -> None:
    result = mlops("explain", make_notebook(CELLS), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {"pipeline", "version", "output", "parameters", "stages"} <= set(data)
    assert data["pipeline"] == "nb"
    assert isinstance(data["version"], str)
    assert len(data["version"]) == 12
    assert data["output"] is None
    assert data["parameters"] == {
        "n": {"default": 3, "type": "int"},
        "lr": {"default": 0.1, "type": "float"},
        "name": {"default": "run", "type": "str"},
    }
    assert [s["name"] for s in data["stages"]] == ["load", "train", "report"]
    for stage in data["stages"]:
        assert {"name", "after", "inputs", "outputs", "cells", "options"} <= set(stage)
    load, train, report = data["stages"]
    assert (load["after"], load["inputs"], load["outputs"]) == ([], [], ["data"])
    assert load["cells"] == ["c3"]
    assert (train["after"], train["inputs"], train["outputs"]) == (["load"], ["data"], ["w"])
    assert train["options"] == {"cache": False, "retries": 2}
    assert report["after"] == ["load", "train"]
    assert report["inputs"] == ["w"]
    assert report["options"] == {}


def test_explain_text_says_why(make_notebook) -> None:
    result = mlops("explain", make_notebook(CELLS))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith("Pipeline 'nb'  version ")
    assert "n: int = 3   (cell 1, line 1)" in text
    assert "Setup, run before every stage: cell 2" in text
    assert "Stages (3), in notebook order:" in text
    lines = [line.split() for line in text.splitlines()]
    assert ["in", "data", "<-", "load", "read", "in", "cell", "4,", "line", "1"] in lines
    assert ["out", "w", "->", "report", "assigned", "in", "cell", "4,", "line", "1"] in lines
    assert ["metrics:", "acc"] in lines


def test_explain_writes_nothing(make_notebook, tmp_path) -> None:
    path = make_notebook(CELLS)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert mlops("explain", path, cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_compile_json_names_the_output(make_notebook, tmp_path) -> None:
    out = tmp_path / "compiled"
    result = mlops("compile", make_notebook(CELLS), "-o", out, "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["output"] == str(out)
    assert [s["name"] for s in data["stages"]] == ["load", "train", "report"]
    explained = json.loads(mlops("explain", make_notebook(CELLS), "--json").stdout)
    assert {**data, "output": None} == explained
    assert sorted(p.name for p in (out / "stages").iterdir()) == [
        "load.ipynb",
        "report.ipynb",
        "train.ipynb",
    ]
    assert json.loads((out / "pipeline.json").read_text())["version"] == data["version"]


def test_compile_text_says_where_and_how_to_run(make_notebook, tmp_path) -> None:
    out = tmp_path / "compiled"
    result = mlops("compile", make_notebook(CELLS), "-o", out)
    assert result.returncode == 0, result.stderr
    assert "Compiled pipeline 'nb' version" in result.stdout
    assert "(3 stages)" in result.stdout
    assert f"mlops run {out}" in result.stdout


def test_compile_warnings_go_to_stderr(make_notebook, tmp_path) -> None:
    path = make_notebook([(["stage:a"], "print(z)"), (["stage:b"], "z = 1")])
    result = mlops("compile", path, "-o", tmp_path / "out", "--json")
    assert result.returncode == 0
    json.loads(result.stdout)
    assert "warning: stage 'a' reads 'z'" in result.stderr


@pytest.mark.parametrize("verb", ["explain", "compile"])
def test_bad_cell_exits_2_naming_the_cell(make_notebook, tmp_path, verb) -> None:
    path = make_notebook(["x = 1", (["stage:b", "after:nope"], "y = 2")])
    result = mlops(verb, path, "-o", tmp_path / "out") if verb == "compile" else mlops(verb, path)
    assert_clean_error(
        result, f"mlops {verb}: {path}, cell 2 (id c2):", "'after:nope' names no stage"
    )
    assert not (tmp_path / "out").exists()


def test_syntax_error_names_cell_and_line(make_notebook) -> None:
    path = make_notebook(["x = 1", "y = 2\nz = (", "w = 3"])
    result = mlops("explain", path, "--json")
    assert_clean_error(result, f"{path}, cell 2 (id c2), line 2: has a syntax error")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        pytest.param(None, "no such notebook.", id="missing"),
        pytest.param(b"not json", "is not valid notebook JSON", id="not JSON"),
        pytest.param(b'{"cells": [], "nbformat": 3}', "uses notebook format 3", id="nbformat 3"),
    ],
)
def test_bad_notebook_exits_2(tmp_path, content, needle) -> None:
    path = tmp_path / "bad.ipynb"
    if content is not None:
        path.write_bytes(content)
    assert_clean_error(mlops("compile", path, "-o", tmp_path / "out"), str(path), needle)
    assert not (tmp_path / "out").exists()


def test_unknown_option_is_a_usage_error() -> None:
    result = mlops("compile", "--frobnicate")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_the_compiler_path_imports_no_jupyter_machinery(make_notebook) -> None:
    """``mlops compile`` stays fast: nothing heavy is imported to read and compile a notebook."""
    heavy = ["papermill", "nbformat", "jupyter_client", "jsonschema", "IPython"]
    code = (
        "import sys, json\n"
        "import mlops_jupyter.cli, mlops_jupyter.compiler.output\n"
        f"heavy = {heavy!r}\n"
        "found = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "from mlops_jupyter.compiler.output import compile_notebook\n"
        "compile_notebook(sys.argv[1], sys.argv[2])\n"
        "after = [m for m in sys.modules if m.split('.')[0] in heavy]\n"
        "print(json.dumps([sorted(found), sorted(after)]))\n"
    )
    path = make_notebook(CELLS)
    result = subprocess.run(
        [sys.executable, "-c", code, str(path), str(path.parent / "out")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [[], []]


PARAMS = [(["parameters"], "n = 3\nname = 'run'"), (["stage:count"], "total = n * 2")]


def test_p_takes_papermills_name_value_spelling_too(make_notebook, tmp_path, monkeypatch) -> None:
    """`-p n 5` (papermill) and `-p n=5` (ours) mean the same, in any order with the notebook."""
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    path = make_notebook(PARAMS)
    for args in (
        [path, "-p", "n", "5", "--param", "name", "a=b"],
        ["-p", "n", "5", "-p", "name=a=b", path],
        ["--param", "n", "5", path, "-p", "name", "a=b"],
    ):
        result = mlops("run", *args, "--json")
        assert result.returncode == 0, (args, result.stderr)
        assert json.loads(result.stdout)["parameters"] == {"n": 5, "name": "a=b"}, args
    # a value that looks like an option is still the value, as in papermill
    result = mlops("run", path, "-p", "n", "-4", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["parameters"]["n"] == -4


@pytest.mark.parametrize("verb", ["run", "verify"])
def test_p_name_value_reaches_the_parameter_check(make_notebook, tmp_path, monkeypatch, verb):
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    path = make_notebook(PARAMS)
    assert_clean_error(
        mlops(verb, path, "-p", "n", "oops"),
        f"mlops {verb}: parameter 'n' expects an int (default 3), got 'oops'.",
    )
    assert_clean_error(mlops(verb, path, "-p", "n"), "-p 'n' is not NAME=VALUE")


@pytest.mark.parametrize("verb", ["run", "verify"])
def test_p_refuses_bytes_that_are_not_utf8_naming_the_parameter(
    make_notebook, tmp_path, monkeypatch, verb
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / ".mlops"))
    path = make_notebook(PARAMS)
    for spelled in ([b"name=caf\xe9"], [b"name", b"caf\xe9"]):
        result = subprocess.run(
            [*MLOPS, verb, str(path), "-p", *spelled],
            capture_output=True,
            text=True,
            errors="replace",
            timeout=60,
        )
        assert_clean_error(result, f"mlops {verb}: parameter 'name'", "not UTF-8", "b'caf\\xe9'")
    assert not (tmp_path / ".mlops" / "runs").exists() or not any(
        (tmp_path / ".mlops" / "runs").iterdir()
    ), "refused before a run started"


def test_a_compiled_folder_run_from_elsewhere_records_into_its_notebooks_store(
    tmp_path, monkeypatch
) -> None:
    """`mlops compile NB -o DIR`, then `mlops run DIR` from another folder: the run is in the
    store the notebook's own runs use (`mlops runs` beside the notebook lists it), not in a new
    store inside DIR, and the `mlops show` line it prints works where it was printed."""
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    project, elsewhere, out = tmp_path / "project", tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    notebook = write_notebook(project / "nb.ipynb", PARAMS)
    assert mlops("run", notebook, "-p", "n=1", cwd=project).returncode == 0  # the project's store
    assert mlops("compile", notebook, "-o", out, cwd=elsewhere).returncode == 0

    result = mlops("run", out, "-p", "n=4", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    listed = json.loads(mlops("runs", "--json", cwd=project).stdout)
    assert [r["parameters"]["n"] for r in listed] == [4, 1]
    assert not (out / ".mlops").exists() and not (elsewhere / ".mlops").exists()

    details = result.stdout.strip().splitlines()[-1].strip()
    assert details.startswith("details: ") and listed[0]["run_id"] in details
    shown = subprocess.run(
        details.removeprefix("details: "),
        shell=True,
        cwd=elsewhere,
        capture_output=True,
        text=True,
        timeout=60,
        env={
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        },
    )
    assert shown.returncode == 0, (details, shown.stderr)
    assert listed[0]["run_id"] in shown.stdout


def test_a_compiled_folder_whose_notebook_folder_is_gone_says_where_its_run_went(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    project, elsewhere, out = tmp_path / "project", tmp_path / "elsewhere", tmp_path / "out"
    elsewhere.mkdir()
    notebook = write_notebook(project / "nb.ipynb", PARAMS)
    assert mlops("compile", notebook, "-o", out).returncode == 0
    shutil.copytree(out, elsewhere / "copy")  # a copy, then the project itself goes
    shutil.rmtree(project)

    result = mlops("run", elsewhere / "copy", cwd=elsewhere)
    assert result.returncode == 0, result.stderr
    home = elsewhere / ".mlops"
    # the copy names its notebook's folder relative to itself, as the original did
    looked = elsewhere / "project"
    note = f"note: {looked} (the notebook's folder in pipeline.json) is not there: this run is recorded in {home}"
    assert note in " ".join(result.stdout.split()), result.stdout
    assert json.loads(mlops("runs", "--json", cwd=elsewhere).stdout)[0]["status"] == "succeeded"
    assert json.loads(mlops("run", elsewhere / "copy", "--json", cwd=elsewhere).stdout)["notes"]
