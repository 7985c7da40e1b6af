"""``%mlops`` in a real kernel: notebooks executed by nbclient the way a frontend executes them.

The kernel is a real ipykernel; runs start real stage kernels and write a real store
(``MLOPS_HOME``, inherited by the kernel). What a frontend would see is checked from the
outputs, the execute replies and the widget comm messages.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import nbformat
import pytest
from conftest import write_notebook
from nbclient import NotebookClient

from mlops_jupyter import api
from mlops_jupyter.store.db import Store

pytest.importorskip("ipywidgets")

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
SKIP = ["skip"]  # magic cells are not pipeline code (see the note in test_pipeline_notebook)


class Client(NotebookClient):
    """nbclient that also keeps each cell's execute-reply status and every run-widget update."""

    def __init__(self, nb: Any, **kwargs: Any) -> None:
        super().__init__(nb, kernel_name="python3", timeout=240, **kwargs)
        self.replies: dict[int, str] = {}
        self.run_updates: list[str] = []

    async def _check_raise_for_error(
        self, cell: Any, cell_index: int, exec_reply: dict[str, Any] | None
    ) -> None:
        if exec_reply is not None:
            self.replies[cell_index] = exec_reply["content"]["status"]
        await super()._check_raise_for_error(cell, cell_index, exec_reply)

    def handle_comm_msg(self, outs: Any, msg: dict[str, Any], cell_index: int) -> None:
        value = msg["content"]["data"].get("state", {}).get("value")
        if isinstance(value, str) and "mlops-run" in value:
            self.run_updates.append(value)
        super().handle_comm_msg(outs, msg, cell_index)


def execute(path: Path, **kwargs: Any) -> tuple[Any, Client]:
    nb = nbformat.read(path, as_version=4)
    client = Client(nb, resources={"metadata": {"path": str(path.parent)}}, **kwargs)
    client.execute()
    return nb, client


def stdout(cell: Any, name: str = "stdout") -> str:
    return "".join(
        o["text"] for o in cell.outputs if o["output_type"] == "stream" and o["name"] == name
    )


def displays(cell: Any) -> list[dict[str, Any]]:
    return [
        o["data"] for o in cell.outputs if o["output_type"] in ("display_data", "execute_result")
    ]


def statuses(markup: str) -> dict[str, str]:
    return dict(re.findall(r'data-stage="([^"]+)" data-status="([^"]+)"', markup))


def widget_value(nb: Any, model_id: str) -> Any:
    state = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    return state[model_id]["state"]


def html_child_values(nb: Any, model_id: str) -> list[str]:
    """The HTML children of a VBox widget, as the frontend's models hold them at the end."""
    children = widget_value(nb, model_id)["children"]
    ids = [c.removeprefix("IPY_MODEL_") for c in children]
    return [widget_value(nb, i).get("value", "") for i in ids if "value" in widget_value(nb, i)]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / ".mlops"
    monkeypatch.setenv("MLOPS_HOME", str(path))
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    return path


PIPELINE = [
    (SKIP, "%load_ext mlops_jupyter\nimport sys\n"
           "sorted(m for m in ('ipywidgets', 'papermill', 'nbformat') if m in sys.modules)"),
    (["parameters"], "n = 3"),
    ([], "%%mlops stage make\nxs = list(range(n))\nlen(xs)"),
    ([], "%%mlops stage total --after make\nimport time\ntime.sleep(0.5)\ntotal = sum(xs)\ntotal"),
    (["metrics"], "total"),
    (SKIP, "%mlops explain"),
    (SKIP, "%mlops run -p n=5"),
    (SKIP, "%mlops metrics"),
    (SKIP, "%mlops runs"),
    (SKIP, "%mlops show"),
    (SKIP, "%mlops run -p n=oops"),
    (SKIP, "%mlops run --background -p n=6\n"
           "import mlops_jupyter as mlops\nview = mlops.show_run()\nview"),
    (SKIP, "deadline = time.time() + 120\n"
           "while not view.state.finished and time.time() < deadline:\n    time.sleep(0.1)\n"
           "view.state.status, {s.name: s.status for s in view.state.stages.values()}"),
]  # fmt: skip


@pytest.fixture
def pipeline_run(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Any, Client]:
    """The pipeline notebook executed once; JPY_SESSION_NAME names it, as JupyterLab does."""
    path = write_notebook(tmp_path / "demo.ipynb", PIPELINE)
    for i, (tags, _) in enumerate(PIPELINE):
        if "n=oops" in _:
            nb = json.loads(path.read_text())
            nb["cells"][i]["metadata"]["tags"] = [*tags, "raises-exception"]
            path.write_text(json.dumps(nb))
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    nb, client = execute(path)
    return path, nb, client


def test_pipeline_notebook(pipeline_run: tuple[Path, Any, Client], home: Path) -> None:
    # Note: the magic cells carry `skip`: today the compiler would put a `%mlops ...` line into
    # the stage above it, and a stage kernel has no %mlops (the compiler should drop them).
    _, nb, client = pipeline_run
    cells = nb.cells

    # loading the extension imports none of the heavy parts
    assert displays(cells[0])[0]["text/plain"] == "[]"

    # a %%mlops stage cell runs as a plain cell: its value is displayed, its names are defined
    assert displays(cells[2])[0]["text/plain"] == "3"
    assert displays(cells[3])[0]["text/plain"] == "3"

    # %mlops explain found the notebook from JPY_SESSION_NAME
    explained = stdout(cells[5])
    assert "Pipeline 'demo'" in explained and "make" in explained and "total" in explained
    assert "after make" in explained

    # %mlops run: a live widget with text/html and text/plain fallbacks
    [bundle] = displays(cells[6])
    assert {WIDGET_MIME, "text/html", "text/plain"} <= set(bundle)
    final = {"make": "succeeded", "total": "succeeded"}
    assert statuses(bundle["text/html"]) == final, "the display was updated to the end state"
    assert "succeeded" in bundle["text/plain"].splitlines()[0]
    assert "demo.ipynb as saved" in bundle["text/html"]
    [graph] = html_child_values(nb, bundle[WIDGET_MIME]["model_id"])
    assert statuses(graph) == final
    # the frontend saw it live: 'total' running (sleeping 0.5 s) before it succeeded
    seen = [statuses(u).get("total") for u in client.run_updates]
    assert "running" in seen and seen.index("running") < seen.index("succeeded")
    run_id = bundle["text/plain"].split()[1].rstrip(":")
    run = api.show(run_id, home)
    assert run["status"] == "succeeded" and run["parameters"]["n"] == 5
    assert run["origin"] == "magic" and run["metrics"] == {"total": 10}

    # %mlops metrics: the widget, the table with the best value highlighted, a chart
    [bundle] = displays(cells[7])
    assert {WIDGET_MIME, "text/html", "text/plain"} <= set(bundle)
    body = html_child_values(nb, bundle[WIDGET_MIME]["model_id"])[-1]
    assert re.search(r'class="mlops-best" data-key="total"[^>]*>10<', body)
    assert 'data-metric="total"' in body
    assert "10*" in bundle["text/plain"]

    # %mlops runs lists this notebook's run; %mlops show draws it
    [bundle] = displays(cells[8])
    assert run["run_id"] in bundle["text/plain"] and "mlops-runs" in bundle["text/html"]
    [bundle] = displays(cells[9])  # the newest run when it ran
    assert statuses(bundle["text/html"]) == final and "total=10" in bundle["text/html"]

    # a bad parameter: one paragraph, no traceback, and the cell fails (Run All stops there)
    assert client.replies[10] == "error"
    message = stdout(cells[10], "stderr").strip()
    assert (
        message
        == "%mlops run: parameter 'n' expects an int (default 3), got 'oops'. Pass e.g. -p n=3."
    )
    assert not [o for o in cells[10].outputs if o["output_type"] == "error"]

    # --background: the cell returns at once, show_run() finds the live run, it finishes
    assert client.replies[11] == "ok"
    assert displays(cells[12])[0]["text/plain"] == (
        "('succeeded', {'make': 'succeeded', 'total': 'succeeded'})"
    )
    assert all(status == "ok" for i, status in client.replies.items() if i != 10)


ERRORS = [
    "%load_ext mlops_jupyter",
    "%%mlops stage Bad\nbad_ran = True",
    "'bad_ran' in globals()",
    "%%mlops stage fine\nx = 1\n\n1 / 0",
    "%%mlops stage fine\n41 + 1",
    "%mlops explain",
    "%mlops bogus",
    "%mlops metrics --runs many",
    "import mlops_jupyter as mlops\nmlops.show_run('nope')",
    "%mlops help",
    "%mlops log accuracy=high",
    "%mlops log accuracy=0.75 loss=0.5 --step 3\n%mlops log --param model=forest\nmlops.flush()",
    "%mlops explain --notebook {other}",
    "%mlops models ghost --notebook {other}",
    "%mlops monitor ghost@champion --notebook {other}",
    "%mlops monitor iris --window soon --notebook {other}",
]
FAILING = {1, 3, 5, 6, 7, 8, 10, 13, 14, 15}


def test_errors_are_one_paragraph_and_fail_the_cell(home: Path, tmp_path: Path) -> None:
    other = write_notebook(tmp_path / "other.ipynb", [(["stage:only"], "y = 2")])
    Store(home).close()  # an empty store: show_run('nope') then says "no run 'nope'"
    cells = [
        {"source": src.format(other=other), "tags": ["raises-exception"] if i in FAILING else []}
        for i, src in enumerate(ERRORS)
    ]
    nb, client = execute(write_notebook(tmp_path / "errors.ipynb", cells))
    out = nb.cells
    assert {i for i, s in client.replies.items() if s == "error"} == FAILING

    for i in FAILING - {3}:
        message = stdout(out[i], "stderr").strip()
        assert message and "Traceback" not in message and "\n\n" not in message, (i, message)
        assert not [o for o in out[i].outputs if o["output_type"] == "error"], i

    assert "'Bad' is not a valid stage name" in stdout(out[1], "stderr")
    assert stdout(out[1], "stderr").startswith("%%mlops: ")
    assert displays(out[2])[0]["text/plain"] == "False", "a bad stage line stops the cell's code"

    # an error in a stage cell is the cell's own: one traceback, the cell's own line number
    [error] = [o for o in out[3].outputs if o["output_type"] == "error"]
    assert error["ename"] == "ZeroDivisionError"
    assert "line 4" in "".join(error["traceback"])
    assert displays(out[4])[0]["text/plain"] == "42"

    assert "cannot tell which notebook this is" in stdout(out[5], "stderr")
    assert "--notebook PATH" in stdout(out[5], "stderr")
    assert "unknown verb 'bogus'" in stdout(out[6], "stderr")
    assert "invalid int value: 'many'" in stdout(out[7], "stderr")
    assert stdout(out[8], "stderr").strip() == "mlops: no run 'nope'. `mlops runs` lists them."
    assert "%mlops run" in stdout(out[9]) and "%%mlops stage NAME" in stdout(out[9])
    assert "a metric is a number" in stdout(out[10], "stderr")

    logged = api.runs(home)[0]
    assert logged["origin"] == "interactive"
    assert api.metric_steps(logged["run_id"], None, home) == {
        "accuracy": {"steps": [3], "values": [0.75]},
        "loss": {"steps": [3], "values": [0.5]},
    }
    assert api.params(logged["run_id"], home) == {"model": "forest"}
    assert "Pipeline 'other'" in stdout(out[12])
    assert "there is no model 'ghost'" in stdout(out[13], "stderr")
    assert "there is no model 'ghost'" in stdout(out[14], "stderr")
    assert "an age of 'soon' is not one mlops reads" in stdout(out[15], "stderr")


def test_the_extension_loads_from_ipython_config(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    profile = tmp_path / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    (profile / "ipython_kernel_config.py").write_text(
        'c.InteractiveShellApp.extensions = ["mlops_jupyter"]\n'
    )
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    path = write_notebook(
        tmp_path / "configured.ipynb", ["%%mlops stage go\nvalue = 7\nvalue * 6", "%mlops help"]
    )
    nb, _ = execute(path)
    assert displays(nb.cells[0])[0]["text/plain"] == "42"
    assert "%mlops explain" in stdout(nb.cells[1])


def test_interrupting_the_kernel_stops_the_run(home: Path, tmp_path: Path) -> None:
    """Interrupt kernel (SIGINT) during %mlops run: the run is recorded interrupted, the cell
    ends with KeyboardInterrupt, and the kernel lives on."""
    from jupyter_client.manager import start_new_kernel

    slow = write_notebook(
        tmp_path / "slow.ipynb", [(["stage:nap"], "import time\ntime.sleep(60)\ndone = 1")]
    )
    manager, client = start_new_kernel(kernel_name="python3", cwd=str(tmp_path))
    try:
        client.execute_interactive("%load_ext mlops_jupyter", timeout=60)
        msg_id = client.execute(f"%mlops run --notebook {slow}")
        deadline = time.time() + 60
        while time.time() < deadline:
            runs = api.runs(home) if (home / "mlops.db").exists() else []
            if runs and runs[0]["stages"][0]["status"] == "running":
                break
            time.sleep(0.2)
        else:
            pytest.fail("the stage never started")
        started = time.time()
        manager.interrupt_kernel()
        reply = client.get_shell_msg(timeout=60)
        while reply["parent_header"].get("msg_id") != msg_id:
            reply = client.get_shell_msg(timeout=60)
        stopped = time.time() - started
        assert reply["content"]["status"] == "error"
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        run = api.show("latest", home)
        assert run["status"] == "interrupted"
        assert run["stages"][0]["status"] == "failed"
        assert stopped < 15, f"stopping took {stopped:.1f}s"
        alive = client.execute_interactive("1 + 1", timeout=30)
        assert alive["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_every_verb_takes_the_notebook_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`%mlops help` says "elsewhere pass --notebook PATH": each verb that reads a notebook or its
    store accepts it, and reads the store of *that* notebook's project, not the kernel's folder."""
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    project = tmp_path / "project"
    (project / ".mlops").mkdir(parents=True)  # the project's store, where its runs belong
    (project / "rows.csv").write_text("a\n1\n2\n")
    nb = write_notebook(
        project / "work.ipynb",
        [
            (["stage:load"], "import mlops_jupyter as mlops\nmlops.track_data('rows.csv')\nn = 2"),
            (["metrics"], "n"),
        ],
    )
    elsewhere = tmp_path / "elsewhere"  # the kernel's folder: no store of its own
    elsewhere.mkdir()
    given = f"--notebook {nb}"
    cells = [
        "%load_ext mlops_jupyter",
        f"%mlops explain {given}",
        f"%mlops compile {given} -o {tmp_path / 'compiled'}",
        f"%mlops run {given}",
        f"%mlops runs {given}",
        f"%mlops show {given}",
        f"%mlops metrics {given}",
        f"%mlops data {given}",
        f"%mlops metrics n --runs 5 {given}",
        f"%mlops show latest {given}",
        f"%mlops data {project / 'rows.csv'} {given}",
        f"%mlops schedule add nightly --cron '30 2 * * *' --tz UTC {given}",
        f"%mlops schedule list {given}",
        f"%mlops schedule pause nightly {given}",
        f"%mlops schedule history nightly --json {given}",
        f"%mlops schedule export nightly --crontab {given}",
        f"%mlops schedule rm nightly {given}",
        f"%mlops models {given}",
    ]
    ran = write_notebook(elsewhere / "driver.ipynb", cells)
    nb_run, client = execute(ran)
    out = nb_run.cells
    assert {i: s for i, s in client.replies.items() if s != "ok"} == {}
    assert all(not stdout(cell, "stderr") for cell in out), [stdout(c, "stderr") for c in out]

    [run] = api.runs(project)
    assert run["status"] == "succeeded"
    assert "Pipeline 'work'" in stdout(out[1])
    assert (tmp_path / "compiled" / "pipeline.json").is_file()
    assert run["run_id"] in displays(out[4])[0]["text/plain"]
    for shown in (out[5], out[9]):
        assert run["run_id"] in displays(shown)[0]["text/plain"]
    for metrics in (out[6], out[8]):
        assert "n" in displays(metrics)[0]["text/plain"].split()
    for data in (out[7], out[10]):
        assert "rows.csv" in displays(data)[0]["text/plain"]
    assert "schedule nightly added: next fire" in stdout(out[11])
    assert "nightly" in stdout(out[12]) and "paused" in stdout(out[13])
    assert json.loads(stdout(out[14])) == []
    assert stdout(out[15]).splitlines()[-1].startswith("30 2 * * * ")
    assert "removed" in stdout(out[16]) and api.schedules(project) == []
    assert displays(out[17])[0]["text/plain"] == "no models yet"
    assert not (elsewhere / ".mlops").exists(), "nothing read or wrote the kernel folder's store"


def test_run_takes_papermills_p_name_value_spelling_too() -> None:
    """`%mlops run` parses -p with the CLI's own option (request.add_parameter_option)."""
    from mlops_jupyter.ipython.magics import build_parser

    args = build_parser().parse_args(["run", "-p", "n", "5", "-p", "m=6", "--notebook", "x"])
    assert (args.param, args.target, args.notebook) == (["n=5", "m=6"], None, "x")


def test_compile_refuses_a_folder_of_other_files_unless_forced(home: Path, tmp_path: Path) -> None:
    nb = write_notebook(tmp_path / "work.ipynb", [(["stage:only"], "y = 2")])
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "notes.txt").write_text("mine")
    cells = [
        {"source": "%load_ext mlops_jupyter", "tags": []},
        {"source": f"%mlops compile --notebook {nb} -o {theirs}", "tags": ["raises-exception"]},
        {"source": f"%mlops compile --notebook {nb} -o {theirs} --force", "tags": []},
    ]
    out, client = execute(write_notebook(tmp_path / "driver.ipynb", cells))
    assert [client.replies[i] for i in range(3)] == ["ok", "error", "ok"]
    assert "--force" in stdout(out.cells[1], "stderr")
    assert "Compiled pipeline 'work'" in stdout(out.cells[2])
    assert (theirs / "notes.txt").read_text() == "mine" and (theirs / "pipeline.json").is_file()


def test_schedule_add_schedules_the_notebook_itself(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`%mlops schedule add NAME` in a notebook schedules that notebook (the session's), with
    parameters typed as it declares them; a bad cron fails the cell with one paragraph."""
    cells = [
        {"source": "%load_ext mlops_jupyter", "tags": ["skip"]},
        {"source": "n = 3", "tags": ["parameters"]},
        {"source": "total = n * 2", "tags": ["stage:double"]},
        {"source": "%mlops schedule add nightly --cron '@daily' -p n 4 --json", "tags": ["skip"]},
        {
            "source": "%mlops schedule add weekly --cron '* * *'",
            "tags": ["skip", "raises-exception"],
        },
    ]
    nb = write_notebook(tmp_path / "train.ipynb", cells)
    monkeypatch.setenv("JPY_SESSION_NAME", str(nb))
    ran, client = execute(nb)
    assert [client.replies[i] for i in (3, 4)] == ["ok", "error"]
    made = json.loads(stdout(ran.cells[3]))
    assert (made["name"], made["target"], made["parameters"]) == ("nightly", str(nb), {"n": 4})
    assert made["cron"] == "@daily"
    error = stdout(ran.cells[4], "stderr")
    assert "needs 5 or 6" in error and "Traceback" not in error
    assert [s["name"] for s in api.schedules(home.parent)] == ["nightly"]
