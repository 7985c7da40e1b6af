"""``mlops export airflow``: the DAG file loaded by Airflow's own DagBag, and run by Airflow.

Airflow lives in a venv of its own (``.venv-airflow``, built by ``.ci/run``; never in the
project's venv): the tests run ``airflow_probe.py`` and the ``airflow`` CLI with its Python, in a
subprocess, with an AIRFLOW_HOME (and SQLite metadata DB) of each test's own.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook  # tests/conftest.py: notebooks as JupyterLab saves them

from mlops_jupyter.runner.params import coerce, split_assignments
from mlops_jupyter.schedule.cron import next_after

from .side_venvs import side_python

REPO = Path(__file__).resolve().parents[2]
PROBE = Path(__file__).with_name("airflow_probe.py")
MLOPS = str(Path(sys.executable).parent / "mlops")

DIAMOND = [
    (
        ["parameters"],
        "n = 3\nscale = 0.5\nflag = True\nlabel = 'a'\nitems = [1, 2]\nopts = {'k': 1}\n"
        "nothing = None",
    ),
    (["stage:load", "retries:2"], "xs = list(range(n))"),
    (["stage:left", "timeout:30"], "left = [x * scale for x in xs]"),
    (["stage:right"], "right = [x + 1 for x in xs] if flag else []\nextra = (label, items, opts)"),
    (["stage:join"], "total = sum(left) + sum(right)\nshown = repr((extra, nothing))"),
    (["metrics"], "total"),
]
TASKS = {"load": [], "left": ["load"], "right": ["load"], "join": ["left", "right"]}
SCHEMAS = {
    "n": {"type": "integer"},
    "scale": {"type": "number"},
    "flag": {"type": "boolean"},
    "label": {"type": "string"},
    "items": {"type": "array"},
    "opts": {"type": "object"},
    "nothing": {},  # a None default takes any value
}
DEFAULTS = {
    "n": 3,
    "scale": 0.5,
    "flag": True,
    "label": "a",
    "items": [1, 2],
    "opts": {"k": 1},
    "nothing": None,
}
# Values a shell, Jinja or Python would act on if any were pasted as code.
NASTY = 'it\'s "q"\n{{ 7 * 7 }} {% raw %} $(touch PWNED) `touch PWNED` \\ \'\'\'""" %'
CONF = {
    "n": 5,
    "flag": False,
    "label": NASTY,
    "items": [1, None, True, "s"],
    "opts": {"a": [1.5], "b": None},
    "nothing": "plain text",
}
COMMAND = re.compile(
    r'exec "\$MLOPS_PYTHON" -m mlops_jupyter run "\$MLOPS_PIPELINE" --stages "\$MLOPS_STAGE"'
    r'(?: -p "\$MLOPS_P\d+")*\Z'
)


def airflow_python() -> Path:
    """The Airflow venv's Python: ``$MLOPS_AIRFLOW_PYTHON``, else ``.venv-airflow`` in the repo
    (built on first use)."""
    named = os.environ.get("MLOPS_AIRFLOW_PYTHON")
    return Path(named) if named else side_python("airflow")


def mlops(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLOPS, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=120
    )


def exported(*args: str | Path, cwd: Path) -> dict[str, Any]:
    done = mlops("export", "airflow", *args, "--json", cwd=cwd)
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def airflow_env(tmp_path: Path, dags: Path) -> dict[str, str]:
    """Airflow's own settings for this test; no MLOPS_HOME: the DAG must name its store."""
    env = {k: v for k, v in os.environ.items() if k != "MLOPS_HOME"}
    env.update(
        AIRFLOW_HOME=str(tmp_path / "airflow-home"),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__UNIT_TEST_MODE="False",
    )
    return env


def probe(
    tmp_path: Path, dags: Path, *, conf: dict[str, Any] | None = None, fires: int = 0
) -> dict[str, Any]:
    out = tmp_path / "probe.json"
    done = subprocess.run(
        [
            str(airflow_python()),
            str(PROBE),
            str(dags),
            str(out),
            "--conf",
            json.dumps(conf or {}),
            "--fires",
            str(fires),
        ],
        capture_output=True,
        text=True,
        env=airflow_env(tmp_path, dags),
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found: dict[str, Any] = json.loads(out.read_text())
    return found


def parameters_of(task: dict[str, Any]) -> list[str]:
    """The ``-p`` words the task's command gets, from the env Airflow rendered for it."""
    return [task["env"][name] for name in re.findall(r"\$(MLOPS_P\d+)", task["bash_command"])]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder whose name a shell or Python would act on, its store in there too
    (MLOPS_HOME). No braces: papermill formats the paths it is given with the parameters."""
    found = tmp_path / 'it\'s "a" $(touch PWNED) `touch PWNED` %'
    monkeypatch.setenv("MLOPS_HOME", str(found / "store"))
    return found


@pytest.fixture
def diamond(folder: Path) -> Path:
    return write_notebook(folder / "diamond.ipynb", DIAMOND)


def test_the_dag_loads_in_airflow_with_the_stages_edges_and_typed_params(
    diamond: Path, tmp_path: Path
) -> None:
    dags = tmp_path / "dags"
    result = exported(diamond, "-o", dags, cwd=tmp_path)
    store = diamond.parent / "store"
    folder = store / "pipelines" / "diamond" / result["version"]
    assert result["output"] == str(dags / "diamond.py") and result["files"] == [result["output"]]
    assert sorted(p.name for p in dags.iterdir()) == ["diamond.py"]
    assert any("share this machine's filesystem" in note for note in result["notes"])

    found = probe(tmp_path, dags, conf=CONF)
    assert found["import_errors"] == {}
    assert list(found["dags"]) == ["diamond"]
    dag = found["dags"]["diamond"]
    assert dag["catchup"] is False
    assert dag["timetable"]["class"] == "NullTimetable"
    assert {n: t["upstream"] for n, t in dag["tasks"].items()} == TASKS
    assert {n: t["retries"] for n, t in dag["tasks"].items()} == {
        "load": 2,
        "left": 0,
        "right": 0,
        "join": 0,
    }
    # timeout:30, plus the grace that lets our runner's own timeout fire (and be recorded) first
    assert {n: t["execution_timeout"] for n, t in dag["tasks"].items()} == {
        "load": None,
        "left": 90.0,
        "right": None,
        "join": None,
    }
    assert {n: p["schema"] for n, p in dag["params"].items()} == SCHEMAS
    assert {n: p["default"] for n, p in dag["params"].items()} == DEFAULTS

    expected = {**DEFAULTS, **CONF}
    for name, task in dag["tasks"].items():
        assert task["type"] == "BashOperator" and task["append_env"] is True
        assert COMMAND.match(task["bash_command"]), task["bash_command"]  # no value in the text
        env = task["env"]
        assert env["MLOPS_STAGE"] == name
        assert env["MLOPS_PIPELINE"] == str(folder)
        assert env["MLOPS_HOME"] == str(store)
        assert env["MLOPS_NO_RETRIES"] == "1"
        assert Path(env["MLOPS_PYTHON"]).is_absolute()
        # what Airflow renders, read back by our own -p parsing and coercion: the typed values
        words = parameters_of(task)
        assert len(words) == len(DEFAULTS)
        spec = {n: {"type": t, "default": DEFAULTS[n]} for n, t in _types().items()}
        assert coerce(spec, split_assignments(words)) == expected
    assert not list(tmp_path.rglob("PWNED"))


def _types() -> dict[str, str]:
    return {
        "n": "int",
        "scale": "float",
        "flag": "bool",
        "label": "str",
        "items": "list",
        "opts": "dict",
        "nothing": "none",
    }


def test_defaults_with_quotes_and_newlines_stay_data_and_dags_share_a_folder(
    tmp_path: Path, home: Path
) -> None:
    nb = write_notebook(
        tmp_path / "quotes.ipynb",
        [
            (["parameters"], f"label = {NASTY!r}\nempty = ''"),
            (["stage:only"], "n = len(label) + len(empty)"),
        ],
    )
    # and beside it in the same folder: no parameters at all, stage names with '-'
    plain = write_notebook(
        tmp_path / "plain-nb.ipynb",
        [(["stage:load-data"], "x = 1"), (["stage:use-it"], "y = x + 1")],
    )
    dags = tmp_path / "dags"
    exported(nb, "-o", dags, cwd=tmp_path)
    exported(plain, "-o", dags, cwd=tmp_path)
    found = probe(tmp_path, dags)
    assert found["import_errors"] == {}
    assert sorted(found["dags"]) == ["plain-nb", "quotes"]
    tasks = found["dags"]["plain-nb"]["tasks"]
    assert {n: t["upstream"] for n, t in tasks.items()} == {
        "load-data": [],
        "use-it": ["load-data"],
    }
    assert found["dags"]["plain-nb"]["params"] == {} and parameters_of(tasks["use-it"]) == []
    params = found["dags"]["quotes"]["params"]
    assert params["label"] == {"schema": {"type": "string"}, "default": NASTY}
    assert params["empty"]["default"] == ""
    words = parameters_of(found["dags"]["quotes"]["tasks"]["only"])
    assert split_assignments(words) == {"empty": "", "label": NASTY}


def test_a_schedule_becomes_the_dag_s_cron_timetable(tmp_path: Path, home: Path) -> None:
    nb = write_notebook(tmp_path / "diamond.ipynb", DIAMOND)
    cron = "30 2 * * 1-5"
    added = mlops(
        "schedule", "add", "nightly", nb, "--cron", cron, "--tz", "Europe/Berlin", "-p", "n=7",
        cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    dags = tmp_path / "dags"
    result = exported(nb, "-o", dags, "--schedule", "nightly", cwd=tmp_path)
    assert any(
        "Europe/Berlin changes clocks: a time the change skips" in note for note in result["notes"]
    )

    found = probe(tmp_path, dags, fires=8)
    assert found["import_errors"] == {}
    dag = found["dags"]["diamond"]
    assert dag["timetable"]["class"] == "CronTriggerTimetable"
    assert dag["timetable"]["summary"] == cron
    assert dag["catchup"] is False and dag["max_active_runs"] == 1
    assert dag["params"]["n"]["default"] == 7  # the schedule's value; the rest are the notebook's
    assert dag["params"]["scale"]["default"] == 0.5
    # Airflow's own scheduling code fires when `mlops scheduler` would (the probe starts at
    # 2026-03-01 UTC; these eight weekdays stay clear of the DST change, where they differ)
    start = datetime(2026, 3, 1, tzinfo=timezone.utc).timestamp() - 1
    ours = []
    for _ in range(8):
        start = next_after(cron, "Europe/Berlin", start)
        ours.append(start)
    theirs = [datetime.fromisoformat(t).timestamp() for t in dag["timetable"]["fires"]]
    assert theirs == ours

    # a 6-field cron with second 0 is the same schedule
    assert mlops("schedule", "add", "zero", nb, "--cron", "0 " + cron, cwd=tmp_path).returncode == 0
    again = exported(nb, "-o", tmp_path / "dags2", "--schedule", "zero", cwd=tmp_path)
    assert f"CronTriggerTimetable({cron!r}, timezone=" in Path(again["output"]).read_text()


@pytest.mark.parametrize(
    ("cron", "needles"),
    [
        ("*/10 * * * * *", ["fires by the second", "at most once a minute"]),
        ("0 0 */2 * 1", ["both match", "when either does", "1-31/2"]),
        ("0 0 * * 5L", ["does not take the field '5L'"]),
    ],
)
def test_a_schedule_airflow_cannot_fire_as_ours_is_refused(
    tmp_path: Path, home: Path, cron: str, needles: list[str]
) -> None:
    nb = write_notebook(tmp_path / "diamond.ipynb", DIAMOND)
    assert mlops("schedule", "add", "odd", nb, "--cron", cron, cwd=tmp_path).returncode == 0
    done = mlops(
        "export", "airflow", nb, "-o", tmp_path / "dags", "--schedule", "odd", cwd=tmp_path
    )
    assert done.returncode == 2, done.stdout + done.stderr
    for needle in needles:
        assert needle in done.stderr
    assert not (tmp_path / "dags").exists()


@pytest.mark.parametrize(
    ("cells", "needle"),
    [
        (
            [(["stage:a", "after:b"], "x = 1"), (["stage:b", "after:a"], "y = 2")],
            "the stages form a cycle: a -> b -> a",
        ),
        ([(["stage:Bad Name"], "x = 1")], "'Bad Name' is not a valid stage name"),
    ],
)
def test_a_notebook_that_does_not_compile_exits_2_and_writes_nothing(
    tmp_path: Path, home: Path, cells: list[Any], needle: str
) -> None:
    nb = write_notebook(tmp_path / "broken.ipynb", cells)
    done = mlops("export", "airflow", nb, "-o", tmp_path / "dags", cwd=tmp_path)
    assert done.returncode == 2
    assert needle in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "dags").exists()
    assert not (home / "pipelines").exists()
    unknown = mlops(
        "export", "airflow", nb, "-o", tmp_path / "dags", "--schedule", "x", cwd=tmp_path
    )
    assert unknown.returncode == 2 and not (tmp_path / "dags").exists()


def test_a_file_we_did_not_write_is_refused_unless_force(tmp_path: Path, home: Path) -> None:
    nb = write_notebook(tmp_path / "diamond.ipynb", DIAMOND)
    dags = tmp_path / "dags"
    dags.mkdir()
    (dags / "diamond.py").write_text("# my own DAG\n")
    (dags / "other.py").write_text("# someone else's\n")
    done = mlops("export", "airflow", nb, "-o", dags, cwd=tmp_path)
    assert done.returncode == 2 and "was not written by mlops export" in done.stderr
    assert (dags / "diamond.py").read_text() == "# my own DAG\n"
    assert exported(nb, "-o", dags, "--force", cwd=tmp_path)
    first = (dags / "diamond.py").read_text()
    assert "Generated by mlops-jupyter" in first
    exported(nb, "-o", dags, cwd=tmp_path)  # ours: replaced without --force, the same bytes
    assert (dags / "diamond.py").read_text() == first
    assert (dags / "other.py").read_text() == "# someone else's\n"
    assert sorted(p.name for p in dags.iterdir()) == ["diamond.py", "other.py"]


def test_airflow_runs_the_dag_into_our_store_and_owns_the_retries(
    folder: Path, tmp_path: Path
) -> None:
    """`airflow dags test`: every task through the real BashOperator and our runner, with the
    params given at trigger time; each try of a task is one recorded run of its stage, upstreams
    cached. Stage load (retries:2) fails its first try: Airflow retries it, our runner does not."""
    tries = tmp_path / "tries"
    cells = list(DIAMOND)
    cells[1] = (
        ["stage:load", "retries:2"],
        f"import pathlib\ntries = pathlib.Path({str(tries)!r})\n"
        "tries.write_text((tries.read_text() if tries.exists() else '') + '.')\n"
        "assert len(tries.read_text()) > 1, 'the first try fails'\n"
        "xs = list(range(n))",
    )
    diamond = write_notebook(folder / "diamond.ipynb", cells)
    dags = tmp_path / "dags"
    exported(diamond, "-o", dags, cwd=tmp_path)
    env = {**airflow_env(tmp_path, dags), "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "1"}
    airflow = str(airflow_python().parent / "airflow")
    migrate = subprocess.run(
        [airflow, "db", "migrate"], capture_output=True, text=True, env=env, timeout=300
    )
    assert migrate.returncode == 0, migrate.stdout[-3000:] + migrate.stderr[-3000:]
    ran = subprocess.run(
        [airflow, "dags", "test", "diamond", "-c", json.dumps(CONF)],
        capture_output=True,
        text=True,
        env=env,
        timeout=240,
    )
    log = ran.stdout + ran.stderr
    assert ran.returncode == 0, ran.stdout[-5000:] + ran.stderr[-3000:]
    assert "DagRun Finished: dag_id=diamond" in log and "state=success" in log
    assert tries.read_text() == ".."  # two tries of load, each one attempt

    runs = json.loads(mlops("runs", "--json", cwd=folder).stdout)[::-1]  # oldest first
    values = {**DEFAULTS, **CONF}
    assert [r["parameters"] for r in runs] == [values] * 5
    assert {r["origin"] for r in runs} == {"airflow"}
    first = runs.pop(0)
    assert first["status"] == "failed"
    assert [(s["name"], s["status"]) for s in first["stages"]] == [("load", "failed")]
    assert "the first try fails" in first["stages"][0]["error"]
    by_stage = {}
    for run in runs:
        assert run["status"] == "succeeded"
        ran_here = [s["name"] for s in run["stages"] if s["status"] == "succeeded"]
        assert len(ran_here) == 1
        by_stage[ran_here[0]] = {s["name"]: s["status"] for s in run["stages"]}
    assert by_stage == {
        "load": {"load": "succeeded"},
        "left": {"load": "cached", "left": "succeeded"},
        "right": {"load": "cached", "right": "succeeded"},
        "join": {"load": "cached", "left": "cached", "right": "cached", "join": "succeeded"},
    }
    # the same parameters from the CLI: all four stages cached, the metric the DAG computed
    words = [f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in CONF.items()]
    again = mlops("run", diamond, *[a for w in words for a in ("-p", w)], "--json", cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    rerun = json.loads(again.stdout)
    assert {s["status"] for s in rerun["stages"]} == {"cached"}
    assert rerun["metrics"]["total"] == 0.5 * sum(range(5))  # n=5, flag off: no right part
    assert not list(tmp_path.rglob("PWNED"))
