"""``mlops export kfp``: the YAML loaded back by kfp itself, and its tasks' commands run.

kfp lives in a venv of its own (``.venv-kfp``, built by ``.ci/run``: kfp 2.17 pins requests
exactly, which would downgrade the project venv's). The export runs there, in a subprocess, and
``kfp_probe.py`` reads the YAML back with kfp's loader. The tasks' commands are then run in order
the way KFP's launcher would run them — placeholders resolved to the parameter values, each task
its own process, one store shared through ``mlops_home`` — with our runner and real kernels.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook  # tests/conftest.py: notebooks as JupyterLab saves them

from mlops_jupyter import api
from mlops_jupyter.runner.plan import load_plan

from .side_venvs import side_python

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("kfp_probe.py")

DIAMOND = [
    (
        ["parameters"],
        "n = 3\nscale = 0.5\nflag = True\nlabel = 'a'\nitems = [1, 2]\nopts = {'k': 1}\n"
        "nothing = None",
    ),
    (["stage:load", "retries:2"], "xs = list(range(n))"),
    (["stage:left_side", "timeout:30"], "left = [x * scale for x in xs]"),
    (["stage:right"], "right = [x + 1 for x in xs] if flag else []\nextra = (label, items, opts)"),
    (["stage:join"], "total = sum(left) + sum(right)\nshown = repr((extra, nothing))"),
    (["metrics"], "total"),
]
KFP_TYPES = {
    "mlops_home": "STRING",
    "n": "NUMBER_INTEGER",
    "scale": "NUMBER_DOUBLE",
    "flag": "BOOLEAN",
    "label": "STRING",
    "items": "LIST",
    "opts": "STRUCT",
    "nothing": "STRING",  # a None default takes any value: text `-p` reads back ("None": None)
}
# Values a shell or Python would act on if any were pasted as code.
NASTY = 'it\'s "q"\n$(touch PWNED) `touch PWNED` \\ \'\'\'""" %s {x}'
VALUES = {
    "n": 5,
    "flag": False,
    "label": NASTY,
    "items": [1, None, True, "s"],
    "opts": {"a": [1.5], "b": None},
    "nothing": "plain text",
}


def kfp_python() -> Path:
    return side_python("kfp")


def export(python: Path | str, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "mlops_jupyter", "export", "kfp", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=300,
    )


def probe(path: Path) -> dict[str, Any]:
    done = subprocess.run(
        [kfp_python(), PROBE, path], capture_output=True, text=True, timeout=120, check=True
    )
    loaded: dict[str, Any] = json.loads(done.stdout)
    return loaded


@pytest.fixture
def diamond(tmp_path: Path, home: Path) -> Path:
    return write_notebook(tmp_path / "diamond.ipynb", DIAMOND)


@pytest.fixture
def exported(diamond: Path, tmp_path: Path) -> Path:
    out = tmp_path / "diamond.yaml"
    done = export(kfp_python(), diamond, "-o", out, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["kind"] == "kfp" and result["files"] == [str(out)]
    assert any("mlops_home" in note and "/mlops" in note for note in result["notes"])
    return out


def test_kfp_loads_the_yaml_with_the_plans_tasks_edges_and_types(
    diamond: Path, exported: Path
) -> None:
    plan = load_plan(api.compile(diamond)["output"])
    loaded = probe(exported)
    spec = loaded["spec"]
    assert loaded["name"] == "diamond"

    # typed pipeline parameters, with the notebook's defaults (kfp keeps numbers as doubles)
    inputs = spec["root"]["inputDefinitions"]["parameters"]
    assert {name: p["parameterType"] for name, p in inputs.items()} == KFP_TYPES
    defaults = {name: p.get("defaultValue") for name, p in inputs.items()}
    assert defaults == {
        "mlops_home": "/mlops",
        "n": 3,
        "scale": 0.5,
        "flag": True,
        "label": "a",
        "items": [1, 2],
        "opts": {"k": 1},
        "nothing": "None",
    }
    assert loaded["inputs"]["n"]["type"] == "Integer" and loaded["inputs"]["flag"]["type"] == (
        "Boolean"
    )

    # one task per stage, named as kfp names them, shown by the stage's own name
    tasks = spec["root"]["dag"]["tasks"]
    key = {s.name: s.name.replace("_", "-") for s in plan.stages}
    assert sorted(tasks) == sorted(key.values())
    for stage in plan.stages:
        task = tasks[key[stage.name]]
        assert task["taskInfo"]["name"] == stage.name
        assert sorted(task.get("dependentTasks", [])) == sorted(key[u] for u in stage.after)
        assert task["cachingOptions"] == {}  # KFP's cache off: ours sees tracked data files
        # every parameter reaches every task (the upstream cache keys need them), from the
        # pipeline's inputs, never as a constant
        given = task["inputs"]["parameters"]
        assert {n: p["componentInputParameter"] for n, p in given.items()} == {
            n: n for n in KFP_TYPES
        }
        component = spec["components"][task["componentRef"]["name"]]
        assert {
            n: p["parameterType"] for n, p in component["inputDefinitions"]["parameters"].items()
        } == KFP_TYPES
        executor = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        assert executor["image"] == f"mlops-diamond:{plan.version}"
        assert executor["env"] == [
            {"name": "MLOPS_NO_RETRIES", "value": "1"},
            {"name": "MLOPS_ORIGIN", "value": "kfp"},
        ]
        command = [*executor["command"], *executor["args"]]
        # no shell: env(1) sets the store from mlops_home, each value is one -p word
        home = json.dumps({"Concat": ["MLOPS_HOME=", "{{$.inputs.parameters['mlops_home']}}"]})
        run = ["python", "-m", "mlops_jupyter", "run", "/pipeline", "--stages", stage.name]
        words = [
            w
            for n in plan.parameters  # in the manifest's order
            for w in (
                "-p",
                json.dumps({"Concat": [f"{n}=", f"{{{{$.inputs.parameters['{n}']}}}}"]}),
            )
        ]
        assert executor["command"] == ["env"]
        assert command == ["env", home, *run, *words]
    assert sorted(key[s.name] for s in plan.stages if s.after == ()) == ["load"]
    assert tasks["join"]["dependentTasks"] and set(tasks["join"]["dependentTasks"]) >= {
        "left-side",
        "right",
    }
    # retries from the stage's retries:N tag; KFP's SDK has no task timeout (mlops enforces it)
    assert tasks["load"]["retryPolicy"]["maxRetryCount"] == 2
    assert "retryPolicy" not in tasks["right"]


def test_the_same_pipeline_gives_the_same_bytes(
    diamond: Path, exported: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again.yaml"
    done = export(kfp_python(), diamond, "-o", again)
    assert done.returncode == 0, done.stderr
    assert again.read_bytes() == exported.read_bytes()
    assert exported.read_text().startswith("# Generated by mlops-jupyter (mlops export kfp)")
    # a re-export replaces our own file; --image changes only the image
    done = export(kfp_python(), diamond, "-o", again, "--image", "registry.example/team/x:1")
    assert done.returncode == 0, done.stderr
    changed = [
        (a, b)
        for a, b in zip(
            exported.read_text().splitlines(), again.read_text().splitlines(), strict=True
        )
        if a != b
    ]
    assert changed and all(
        "image:" in a and b.endswith("registry.example/team/x:1") for a, b in changed
    )


def _launch(
    command: list[str], values: dict[str, Any], types: dict[str, str], folder: Path
) -> list[str]:
    """argv as KFP's launcher makes it: each input placeholder replaced by the parameter's value
    as text (numbers as numbers, booleans true/false, lists and structs as JSON), Concat joined;
    then our image's paths made this machine's (the compiled folder, this venv's Python)."""

    def text(name: str) -> str:
        value = values[name]
        if types[name] in ("LIST", "STRUCT"):
            return json.dumps(value)
        if types[name] == "BOOLEAN":
            return "true" if value else "false"
        return str(value)

    def resolve(word: str) -> str:
        return re.sub(r"\{\{\$\.inputs\.parameters\['(\w+)'\]\}\}", lambda m: text(m[1]), word)

    argv = []
    for word in command:
        if word.startswith('{"Concat"'):
            word = "".join(resolve(part) for part in json.loads(word)["Concat"])
        argv.append(resolve(word))
    python = str(Path(sys.executable))
    return [python if w == "python" else str(folder) if w == "/pipeline" else w for w in argv]


def test_the_tasks_run_the_pipeline_through_one_shared_store(
    diamond: Path, exported: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = Path(api.compile(diamond)["output"])
    spec = probe(exported)["spec"]
    store = tmp_path / "kfp-store"  # the shared volume: reached only through mlops_home
    values = {"mlops_home": str(store), **VALUES, "scale": 0.5}
    monkeypatch.delenv("MLOPS_HOME")
    work = tmp_path / "work"
    work.mkdir()
    tasks = spec["root"]["dag"]["tasks"]
    done_tasks: list[str] = []
    while len(done_tasks) < len(tasks):  # KFP's order: a task once all it depends on is done
        name = next(
            t
            for t, task in sorted(tasks.items())
            if t not in done_tasks and set(task.get("dependentTasks", [])) <= set(done_tasks)
        )
        component = spec["components"][tasks[name]["componentRef"]["name"]]
        container = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]
        types = {
            n: p["parameterType"] for n, p in component["inputDefinitions"]["parameters"].items()
        }
        env = {e["name"]: e["value"] for e in container.get("env", [])}
        argv = _launch([*container["command"], *container["args"]], values, types, folder)
        ran = subprocess.run(
            argv, capture_output=True, text=True, cwd=work, timeout=300, env={**os.environ, **env}
        )
        assert ran.returncode == 0, (name, ran.stdout, ran.stderr)
        done_tasks.append(name)

    assert not (work / "PWNED").exists() and not (tmp_path / "PWNED").exists()
    monkeypatch.setenv("MLOPS_HOME", str(store))
    listed = api.runs(limit=10)
    assert len(listed) == 4  # one recorded run per task
    assert {r["origin"] for r in listed} == {"kfp"}
    last = api.show(listed[0]["run_id"])
    statuses = {s["name"]: s["status"] for s in last["stages"]}
    # the values came through the store: the upstream stages were cached, only join ran
    assert statuses == {
        "load": "cached",
        "left_side": "cached",
        "right": "cached",
        "join": "succeeded",
    }
    assert last["metrics"]["total"] == sum(x * 0.5 for x in range(5))  # flag False: no right
    # every value arrived as given: the text byte for byte, lists and dicts as data
    assert last["parameters"] == {"scale": 0.5, **VALUES}


def test_a_broken_notebook_exits_2_and_writes_nothing(tmp_path: Path, home: Path) -> None:
    nb = write_notebook(
        tmp_path / "broken.ipynb",
        [(["stage:a", "after:b"], "x = 1"), (["stage:b", "after:a"], "y = 2")],
    )
    out = tmp_path / "out.yaml"
    done = export(kfp_python(), nb, "-o", out)
    assert done.returncode == 2, done.stderr
    assert "cycle" in done.stderr
    assert not out.exists()


def test_a_parameter_named_like_the_store_path_is_refused(tmp_path: Path, home: Path) -> None:
    nb = write_notebook(
        tmp_path / "clash.ipynb", [(["parameters"], "mlops_home = 'x'"), (["stage:a"], "y = 1")]
    )
    out = tmp_path / "out.yaml"
    done = export(kfp_python(), nb, "-o", out)
    assert done.returncode == 2 and "'mlops_home'" in done.stderr
    assert not out.exists()


def test_a_file_we_did_not_write_is_kept_unless_forced(diamond: Path, tmp_path: Path) -> None:
    out = tmp_path / "mine.yaml"
    out.write_text("# my own pipeline\n")
    done = export(kfp_python(), diamond, "-o", out)
    assert done.returncode == 2 and "--force" in done.stderr
    assert out.read_text() == "# my own pipeline\n"
    done = export(kfp_python(), diamond, "-o", out, "--force")
    assert done.returncode == 0, done.stderr
    assert "PIPELINE DEFINITION" in out.read_text()


@pytest.mark.skipif(
    subprocess.run([sys.executable, "-c", "import kfp"], capture_output=True).returncode == 0,
    reason="kfp is installed in this venv",
)
def test_without_kfp_the_export_says_what_to_install(diamond: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.yaml"
    done = export(sys.executable, diamond, "-o", out)
    assert done.returncode == 2
    assert "mlops-jupyter[kfp]" in done.stderr and "Traceback" not in done.stderr
    assert not out.exists()
