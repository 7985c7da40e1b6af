"""The REST API against a real Jupyter Server, real notebooks, real kernels and the real store."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook  # tests/conftest.py: notebooks as JupyterLab saves them
from tornado.httpclient import AsyncHTTPClient, HTTPClientError

from mlops_jupyter import api as core

Api = Callable[..., Awaitable[tuple[int, Any]]]

ERROR_KEYS = {"error", "notebook", "cell", "cell_id", "line", "hint", "text"}
SLOW = [
    (["stage:first"], "a = 1"),
    (["stage:sleepy"], "import time\ntime.sleep(120)\nb = a"),
]


async def wait_for(api: Api, run_id: str, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    deadline = time.monotonic() + 90
    while True:
        status, run = await api("GET", f"runs/{run_id}", path="sub/nb.ipynb")
        assert status == 200, run
        if done(run) or time.monotonic() > deadline:
            return run
        await asyncio.sleep(0.1)


def finished(run: dict[str, Any]) -> bool:
    return run["status"] != "running"


# -- auth


AUTH_CASES = [
    ("GET", "pipeline?path=sub/nb.ipynb"),
    ("POST", "compile"),
    ("GET", "runs?path=sub/nb.ipynb"),
    ("POST", "runs"),
    ("GET", "runs/latest"),
    ("POST", "runs/latest/cancel"),
    ("GET", "runs/latest/metrics"),
    ("GET", "runs/latest/stages/make/notebook"),
    ("GET", "diff?a=x&b=y"),
    ("GET", "schedules"),
    ("POST", "schedules"),
    ("GET", "schedules/nightly"),
    ("DELETE", "schedules/nightly"),
    ("POST", "schedules/nightly/pause"),
    ("POST", "schedules/nightly/resume"),
    ("GET", "schedules/nightly/history"),
    ("GET", "cron?expr=*+*+*+*+*"),
    ("GET", "models"),
    ("GET", "models/iris"),
    ("POST", "models/iris/aliases"),
    ("GET", "models/iris/monitor"),
]


def test_the_auth_cases_cover_the_route_table() -> None:
    """A route added to the table without a case here would go untested for its token check."""
    import re

    from mlops_jupyter.server.extension import MlopsExtension

    for pattern, _ in MlopsExtension.handlers:
        route = pattern.removeprefix("mlops/api/")
        covered = [r for _, r in AUTH_CASES if re.fullmatch(route, r.split("?")[0])]
        assert covered, f"no auth case for {pattern}"


@pytest.mark.parametrize(("method", "route"), AUTH_CASES)
@pytest.mark.parametrize("token", [None, "not-the-token"])
async def test_every_route_refuses_a_request_without_the_token(
    jp_fetch: Any,
    jp_http_port: int,
    jp_base_url: str,
    root: Path,
    method: str,
    route: str,
    token: str | None,
) -> None:
    url = f"http://127.0.0.1:{jp_http_port}{jp_base_url}mlops/api/{route}"
    headers = {"Authorization": f"token {token}"} if token else {}
    body = (
        json.dumps({"path": "sub/nb.ipynb", "name": "nightly", "cron": "* * * * * *"})
        if method == "POST"
        else None
    )
    with pytest.raises(HTTPClientError) as caught:
        await AsyncHTTPClient().fetch(
            url, method=method, body=body, headers=headers, allow_nonstandard_methods=True
        )
    response = caught.value.response
    assert response is not None
    assert response.code == 403
    error = json.loads(response.body)
    assert set(error) == ERROR_KEYS
    assert not (root / ".mlops" / "pipelines").exists(), "nothing was compiled"
    assert core.runs(root) == []
    assert core.schedules(root) == []


# -- paths


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A notebook outside the server root, and a folder holding it."""
    return write_notebook(tmp_path / "elsewhere" / "secret.ipynb", ["x = 1"])


@pytest.mark.parametrize(
    "path",
    [
        "../elsewhere/secret.ipynb",
        "sub/../../elsewhere/secret.ipynb",
        "/etc/passwd",
        "link.ipynb",  # a symlink to a notebook outside
        "linkdir/secret.ipynb",  # a file inside a symlinked folder outside
        ".hidden/nb.ipynb",  # hidden, and the server does not allow hidden files
    ],
)
async def test_paths_outside_the_root_are_refused(
    api: Api, root: Path, outside: Path, path: str
) -> None:
    (root / "link.ipynb").symlink_to(outside)
    (root / "linkdir").symlink_to(outside.parent)
    write_notebook(root / ".hidden" / "nb.ipynb", ["x = 1"])
    for method, route, body, params in [
        ("GET", "pipeline", None, {"path": path}),
        ("POST", "compile", {"path": path}, {}),
        ("GET", "runs", None, {"path": path}),
        ("POST", "runs", {"path": path}, {}),
    ]:
        status, error = await api(method, route, body, **params)
        assert status == 403, (route, error)
        assert set(error) == ERROR_KEYS
        assert path in error["error"]
    assert not (root / ".mlops" / "pipelines").exists()
    assert not (outside.parent / ".mlops").exists()


async def test_a_symlink_that_stays_inside_the_root_is_served(api: Api, root: Path) -> None:
    (root / "alias.ipynb").symlink_to(root / "sub" / "nb.ipynb")
    status, pipeline = await api("GET", "pipeline", path="alias.ipynb")
    assert status == 200, pipeline
    assert pipeline["path"] == "alias.ipynb"


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({}, 400),
        ({"path": ""}, 400),
        ({"path": "nope.ipynb"}, 404),
        ({"path": "sub/no.ipynb"}, 404),
    ],
)
async def test_missing_and_absent_paths(api: Api, params: dict[str, str], status: int) -> None:
    code, error = await api("GET", "pipeline", **params)
    assert code == status
    assert set(error) == ERROR_KEYS


# -- explain and compile


async def test_pipeline_is_the_explain_object(api: Api, root: Path) -> None:
    status, pipeline = await api("GET", "pipeline", path="sub/nb.ipynb")
    assert status == 200
    expected = core.explain(root / "sub" / "nb.ipynb")
    assert pipeline == {**expected, "path": "sub/nb.ipynb"}  # named as the client named it
    assert [s["name"] for s in pipeline["stages"]] == ["make", "total"]
    assert pipeline["stages"][1]["from"] == {"x": "make"}
    assert pipeline["output"] is None
    assert not (root / ".mlops" / "pipelines").exists(), "explain writes nothing"


async def test_compile_writes_the_pipeline_and_leaves_the_notebook_alone(
    api: Api, root: Path
) -> None:
    source = (root / "sub" / "nb.ipynb").read_bytes()
    status, compiled = await api("POST", "compile", {"path": "sub/nb.ipynb"})
    assert status == 200, compiled
    assert (compiled["notebook"], compiled["path"]) == ("nb.ipynb", "sub/nb.ipynb")
    output = Path(compiled["output"])
    assert (output / "pipeline.json").is_file()
    assert (output / "stages" / "make.ipynb").is_file()
    assert str(output).startswith(str(root / ".mlops")), "the store that serves the notebook"
    assert (root / "sub" / "nb.ipynb").read_bytes() == source


BROKEN = [
    (["stage:a"], "x = 1"),
    "y = x + 1",
    {"tags": ["stage:b"], "source": "z = (", "id": "broken-cell"},
]


@pytest.mark.parametrize(
    ("method", "route"), [("GET", "pipeline"), ("POST", "compile"), ("POST", "runs")]
)
async def test_a_compile_error_points_at_the_cell(
    api: Api, root: Path, method: str, route: str
) -> None:
    write_notebook(root / "sub" / "broken.ipynb", BROKEN)
    if method == "GET":
        status, error = await api(method, route, path="sub/broken.ipynb")
    else:
        status, error = await api(method, route, {"path": "sub/broken.ipynb"})
    assert status == 400
    assert set(error) == ERROR_KEYS
    assert error["notebook"] == "sub/broken.ipynb"
    assert (error["cell"], error["cell_id"], error["line"]) == (3, "broken-cell", 1)
    assert "syntax error" in error["error"]
    assert error["hint"]
    assert error["text"].startswith("sub/broken.ipynb, cell 3 (id broken-cell), line 1:")
    assert core.runs(root) == []


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ({"parameters": {"n": "many"}}, "n"),
        ({"parameters": {"m": 1}}, "m"),
        ({"parameters": [1]}, "parameters"),
        ({"stages": ["nope"]}, "nope"),
        ({"stages": "make"}, "stages"),
        ({"from": "nope"}, "nope"),
        ({"force": ["nope"]}, "nope"),
        ({"no_cache": "yes"}, "no_cache"),
        ({"jobs": 0}, "jobs"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_run_requests_are_400_and_start_nothing(
    api: Api, root: Path, body: dict[str, Any], needle: str
) -> None:
    status, error = await api("POST", "runs", {"path": "sub/nb.ipynb", **body})
    assert status == 400, error
    assert needle in error["text"]
    assert core.runs(root) == []


# -- runs


async def test_run_lifecycle(api: Api, root: Path, jp_fetch: Any, jp_base_url: str) -> None:
    response = await jp_fetch(
        "mlops",
        "api",
        "runs",
        method="POST",
        body=json.dumps({"path": "sub/nb.ipynb", "parameters": {"n": "5"}}),
    )
    assert response.code == 202
    run_id = json.loads(response.body)["run_id"]
    assert response.headers["Location"] == f"{jp_base_url}mlops/api/runs/{run_id}"

    # recorded before the 202: readable at once, without a path (the server knows its runs)
    status, first = await api("GET", f"runs/{run_id}")
    assert status == 200
    assert first["run_id"] == run_id
    assert [s["name"] for s in first["stages"]] == ["make", "total"]

    run = await wait_for(api, run_id, finished)
    assert run["status"] == "succeeded", run
    assert [s["status"] for s in run["stages"]] == ["succeeded", "succeeded"]
    assert run["parameters"] == {"n": 5}
    assert run["metrics"] == {"total": 10.0}
    assert run["origin"] == "jupyter"
    assert run["path"] == "sub/nb.ipynb"
    assert run["cancellable"] is False
    assert run["stages"][0]["path"] == f".mlops/runs/{run_id}/make.ipynb"
    shown = core.show(run_id, root / "sub" / "nb.ipynb")
    assert {k: run[k] for k in shown} == {**shown, "stages": run["stages"]}

    status, runs = await api("GET", "runs", path="sub/nb.ipynb")
    assert status == 200
    assert [r["run_id"] for r in runs] == [run_id]

    status, metrics = await api("GET", f"runs/{run_id}/metrics", path="sub/nb.ipynb")
    assert status == 200
    assert [point["value"] for point in metrics["total"]] == [10.0]
    assert metrics["total"][0]["stage"] == "total"

    status, executed = await api("GET", f"runs/{run_id}/stages/total/notebook")
    assert status == 200
    assert executed["nbformat"] == 4
    outputs = [o for cell in executed["cells"] for o in cell.get("outputs", [])]
    assert any("10" in "".join(o.get("text", "")) for o in outputs)

    # a finished run cannot be cancelled; unknown ones are 404
    status, error = await api("POST", f"runs/{run_id}/cancel")
    assert status == 409
    assert "not running" in error["error"]
    for method, route in [
        ("GET", "runs/19700101-000000-000000"),
        ("POST", "runs/19700101-000000-000000/cancel"),
        ("GET", "runs/19700101-000000-000000/metrics"),
        ("GET", f"runs/{run_id}/stages/nope/notebook"),
    ]:
        status, error = await api(method, route, path="sub/nb.ipynb")
        assert status == 404, (route, error)
        assert set(error) == ERROR_KEYS


async def test_a_cli_run_shows_up_and_diffs_against_a_ui_run(api: Api, root: Path) -> None:
    status, started = await api("POST", "runs", {"path": "sub/nb.ipynb", "parameters": {"n": 5}})
    assert status == 202, started
    ui_run = await wait_for(api, started["run_id"], finished)
    assert ui_run["status"] == "succeeded"

    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "mlops_jupyter",
        "run",
        "nb.ipynb",
        "-p",
        "n=7",
        "--json",
        cwd=root / "sub",
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={k: v for k, v in os.environ.items() if k != "MLOPS_HOME"},
    )
    out, err = await asyncio.wait_for(cli.communicate(), 120)
    assert cli.returncode == 0, err.decode()
    cli_id = json.loads(out)["run_id"]

    status, runs = await api("GET", "runs", path="sub/nb.ipynb")
    assert status == 200
    assert [(r["run_id"], r["origin"]) for r in runs] == [
        (cli_id, "cli"),
        (ui_run["run_id"], "jupyter"),
    ]
    assert all(r["path"] == "sub/nb.ipynb" for r in runs)
    status, all_runs = await api("GET", "runs")  # the store serving the root: the same one
    assert [r["run_id"] for r in all_runs] == [cli_id, ui_run["run_id"]]

    status, diff = await api("GET", "diff", a=ui_run["run_id"], b=cli_id, path="sub/nb.ipynb")
    assert status == 200, diff
    assert diff["parameters"] == {"n": [5, 7]}
    assert diff["metrics"] == {"total": [10.0, 21.0]}
    status, _ = await api("GET", "diff", a=ui_run["run_id"])
    assert status == 400


async def test_cancel_interrupts_a_running_run(api: Api, root: Path) -> None:
    write_notebook(root / "sub" / "slow.ipynb", SLOW)
    status, started = await api("POST", "runs", {"path": "sub/slow.ipynb"})
    assert status == 202, started
    run_id = started["run_id"]

    def sleeping(run: dict[str, Any]) -> bool:
        return finished(run) or run["stages"][1]["status"] == "running"

    run = await wait_for(api, run_id, sleeping)
    assert run["stages"][1]["status"] == "running", run
    assert run["cancellable"] is True

    began = time.monotonic()
    status, cancelled = await api("POST", f"runs/{run_id}/cancel")
    assert status == 202
    assert cancelled == {"run_id": run_id, "status": "interrupting"}
    run = await wait_for(api, run_id, finished)
    assert time.monotonic() - began < 15
    assert run["status"] == "interrupted"
    assert [(s["status"], s["error"]) for s in run["stages"]] == [
        ("succeeded", None),
        ("failed", "interrupted"),
    ]
    status, _ = await api("POST", f"runs/{run_id}/cancel")
    assert status == 409


async def test_a_run_of_another_process_cannot_be_cancelled_here(api: Api, root: Path) -> None:
    write_notebook(root / "sub" / "slow.ipynb", SLOW)
    cli = subprocess.Popen(
        [sys.executable, "-m", "mlops_jupyter", "run", "slow.ipynb"],
        cwd=root / "sub",
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "MLOPS_HOME"},
    )
    try:
        deadline = time.monotonic() + 60
        runs: list[dict[str, Any]] = []
        while not runs and time.monotonic() < deadline:
            status, runs = await api("GET", "runs", path="sub/slow.ipynb")
            await asyncio.sleep(0.1)
        assert runs and runs[0]["status"] == "running"
        assert runs[0]["cancellable"] is False
        status, error = await api("POST", f"runs/{runs[0]['run_id']}/cancel")
        assert status == 409
        assert "another process" in error["error"]
    finally:
        cli.terminate()  # SIGTERM: the CLI records the run interrupted
        cli.wait(60)


async def test_stopping_the_server_interrupts_its_runs(
    api: Api, root: Path, jp_serverapp: Any
) -> None:
    write_notebook(root / "sub" / "slow.ipynb", SLOW)
    status, started = await api("POST", "runs", {"path": "sub/slow.ipynb"})
    assert status == 202
    (extension,) = jp_serverapp.extension_manager.extension_apps["mlops_jupyter.server"]
    assert extension.current_activity() is True
    await extension.stop_extension()
    assert extension.current_activity() is False
    run = core.show(started["run_id"], root / "sub" / "slow.ipynb")
    assert run["status"] == "interrupted"


# -- confinement: nothing outside the root is read, returned or run


def _store_listing(store: Path) -> list[str]:
    return sorted(str(p.relative_to(store)) for p in store.rglob("*"))


async def test_a_store_in_the_roots_parent_is_not_served(api: Api, root: Path) -> None:
    # the root has no store of its own, so `mlops run` under it records into the parent's
    (root / ".mlops").rmdir()
    parent_store = root.parent / ".mlops"
    parent_store.mkdir()
    secret = await asyncio.to_thread(core.run, root / "sub" / "nb.ipynb", {"n": "4"})
    run_id = secret["run_id"]
    assert Path(secret["run_dir"]).is_relative_to(parent_store)
    before = _store_listing(parent_store)

    for params in [{}, {"path": "sub/nb.ipynb"}]:
        status, runs = await api("GET", "runs", **params)
        assert (status, runs) == (200, []), "no store inside the root: no runs"
    for method, route, params in [
        ("GET", f"runs/{run_id}", {}),
        ("GET", f"runs/{run_id}", {"path": "sub/nb.ipynb"}),
        ("GET", f"runs/{run_id}/metrics", {"path": "sub/nb.ipynb"}),
        ("GET", f"runs/{run_id}/stages/total/notebook", {"path": "sub/nb.ipynb"}),
        ("GET", "runs/latest/stages/total/notebook", {}),
        ("POST", f"runs/{run_id}/cancel", {"path": "sub/nb.ipynb"}),
        ("GET", "diff", {"a": run_id, "b": run_id, "path": "sub/nb.ipynb"}),
    ]:
        status, error = await api(method, route, **params)
        assert status == 404, (route, error)
        assert set(error) == ERROR_KEYS
        assert "server root" in error["text"]
        assert str(parent_store) not in error["text"]

    # what the server writes goes into a store inside its root, never the parent's
    status, compiled = await api("POST", "compile", {"path": "sub/nb.ipynb"})
    assert status == 200, compiled
    assert Path(compiled["output"]).is_relative_to(root / ".mlops" / "pipelines")
    status, started = await api("POST", "runs", {"path": "sub/nb.ipynb", "parameters": {"n": 6}})
    assert status == 202, started
    run = await wait_for(api, started["run_id"], finished)
    assert run["status"] == "succeeded", run
    assert Path(run["run_dir"]).is_relative_to(root / ".mlops" / "runs")
    status, runs = await api("GET", "runs")
    assert [r["run_id"] for r in runs] == [started["run_id"]]
    assert _store_listing(parent_store) == before, "the parent's store is untouched"


async def test_mlops_home_outside_the_root_is_refused(
    api: Api, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = root.parent / "elsewhere-store"
    monkeypatch.setenv("MLOPS_HOME", str(elsewhere))
    for method, route, body, params in [
        ("GET", "runs", None, {}),
        ("GET", "runs", None, {"path": "sub/nb.ipynb"}),
        ("GET", "runs/latest", None, {"path": "sub/nb.ipynb"}),
        ("POST", "compile", {"path": "sub/nb.ipynb"}, {}),
        ("POST", "runs", {"path": "sub/nb.ipynb"}, {}),
    ]:
        status, error = await api(method, route, body, **params)
        assert status == 403, (route, error)
        assert set(error) == ERROR_KEYS
        assert "MLOPS_HOME" in error["text"] and "server root" in error["text"]
    assert not elsewhere.exists()


async def test_mlops_home_inside_the_root_is_used(
    api: Api, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(root / "store"))
    status, started = await api("POST", "runs", {"path": "sub/nb.ipynb"})
    assert status == 202, started
    run = await wait_for(api, started["run_id"], finished)
    assert run["status"] == "succeeded", run
    assert Path(run["run_dir"]).is_relative_to(root / "store" / "runs")
    status, runs = await api("GET", "runs")
    assert [r["run_id"] for r in runs] == [started["run_id"]]


async def test_a_store_whose_database_links_outside_it_is_refused(api: Api, root: Path) -> None:
    outside = write_notebook(
        root.parent / "outside" / "nb.ipynb", [(["parameters"], "n = 1"), "m = n"]
    )
    (outside.parent / ".mlops").mkdir()
    secret = await asyncio.to_thread(core.run, outside, {"n": "4"})
    (root / ".mlops" / "mlops.db").symlink_to(outside.parent / ".mlops" / "mlops.db")
    for method, route, body, params in [
        ("GET", "runs", None, {}),
        ("GET", f"runs/{secret['run_id']}", None, {"path": "sub/nb.ipynb"}),
        ("POST", "runs", {"path": "sub/nb.ipynb"}, {}),
    ]:
        status, error = await api(method, route, body, **params)
        assert status == 403, (route, error)
        assert "mlops.db" in error["text"] and "outside" in error["text"]
    assert [r["run_id"] for r in core.runs(outside)] == [secret["run_id"]]


@pytest.mark.parametrize("how", ["runs-linked-elsewhere", "runs-linked-to-a-secret"])
async def test_a_stage_notebook_that_resolves_outside_the_store_is_refused(
    api: Api, root: Path, how: str
) -> None:
    status, started = await api("POST", "runs", {"path": "sub/nb.ipynb"})
    assert status == 202, started
    run_id = started["run_id"]
    run = await wait_for(api, run_id, finished)
    assert run["status"] == "succeeded", run
    runs_dir = root / ".mlops" / "runs"
    outside = root.parent / "outside"
    if how == "runs-linked-elsewhere":
        # the recorded paths still name .mlops/runs/..., but the folder is now a link outside
        runs_dir.rename(outside)
    else:
        # a store whose database names a file under a linked runs/: any readable file
        outside.mkdir()
        (outside / "secret.txt").write_text("api-key")
        shutil.rmtree(runs_dir)
        with sqlite3.connect(root / ".mlops" / "mlops.db") as db:
            db.execute(
                "UPDATE stage_runs SET notebook = ? WHERE run_id = ? AND stage = 'total'",
                (str(runs_dir / "secret.txt"), run_id),
            )
    runs_dir.symlink_to(outside)
    status, error = await api("GET", f"runs/{run_id}/stages/total/notebook", path="sub/nb.ipynb")
    assert status == 403, error
    assert set(error) == ERROR_KEYS
    assert "outside" in error["text"]
    assert "api-key" not in json.dumps(error)


@pytest.mark.parametrize("how", ["relative", "absolute", "symlink", "inside-root-outside-folder"])
async def test_a_compiled_folder_naming_stage_notebooks_outside_it_is_not_run(
    api: Api, root: Path, how: str
) -> None:
    compiled = await asyncio.to_thread(core.compile, root / "sub" / "nb.ipynb", root / "c")
    folder = Path(compiled["output"])
    marker = root.parent / "ran.txt"
    home = root / "sub" if how == "inside-root-outside-folder" else root.parent / "outside"
    evil = write_notebook(home / "evil.ipynb", [f"open({str(marker)!r}, 'w').write('ran')"])
    manifest = json.loads((folder / "pipeline.json").read_text())
    make = next(s for s in manifest["stages"] if s["name"] == "make")
    if how == "symlink":
        (folder / make["notebook"]).unlink()
        (folder / make["notebook"]).symlink_to(evil)
    else:
        make["notebook"] = str(evil) if how == "absolute" else os.path.relpath(evil, folder)
        (folder / "pipeline.json").write_text(json.dumps(manifest))
    status, error = await api("POST", "runs", {"path": "c"})
    assert status == 403, error
    assert set(error) == ERROR_KEYS
    assert "'make'" in error["text"] and "outside" in error["text"]
    await asyncio.sleep(1)  # a run started anyway would have written the marker by now
    assert not marker.exists()
    assert core.runs(root) == []


# -- limits


@pytest.mark.parametrize(
    ("route", "body"),
    [
        ("runs", {"path": "sub/nb.ipynb", "parameters": {"n": "1" * 40_000_000}}),
        ("runs", {"path": "sub/nb.ipynb", "stages": ["make"] * 3_000_000}),
        ("compile", {"path": "sub/nb.ipynb", "padding": "x" * 2_000_000}),
        ("runs/latest/cancel", {"padding": "x" * 2_000_000}),
    ],
)
async def test_an_oversized_body_is_413_and_does_nothing(
    api: Api, root: Path, route: str, body: dict[str, Any]
) -> None:
    status, error = await api("POST", route, body)
    assert status == 413, error
    assert set(error) == ERROR_KEYS
    assert "1 MiB" in error["text"]
    assert core.runs(root) == []
    assert not (root / ".mlops" / "pipelines").exists()


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ({"parameters": {"n": "1" * 70_000}}, ["'parameters'", "'n'", "64 KiB"]),
        ({"parameters": {"n": ["x" * 100] * 700}}, ["'parameters'", "'n'", "64 KiB"]),
        ({"stages": ["make"] * 1001}, ["'stages'", "1,000"]),
        ({"force": ["make"] * 1001}, ["'force'", "1,000"]),
    ],
)
async def test_an_oversized_field_is_400_naming_it_and_the_limit(
    api: Api, root: Path, body: dict[str, Any], names: list[str]
) -> None:
    status, error = await api("POST", "runs", {"path": "sub/nb.ipynb", **body})
    assert status == 400, error
    for name in names:
        assert name in error["text"], name
    assert len(error["text"]) < 500, "the value is not echoed"
    assert core.runs(root) == []


async def test_runs_are_paged(api: Api, root: Path) -> None:
    nb = root / "sub" / "nb.ipynb"
    ids = [(await asyncio.to_thread(core.run, nb))["run_id"] for _ in range(5)]
    newest_first = ids[::-1]
    status, runs = await api("GET", "runs")
    assert [r["run_id"] for r in runs] == newest_first, "the default page holds them all"
    pages = []
    for offset in (0, 2, 4, 5):
        status, page = await api("GET", "runs", path="sub/nb.ipynb", limit="2", offset=str(offset))
        assert status == 200, page
        pages.append([r["run_id"] for r in page])
    assert pages == [newest_first[:2], newest_first[2:4], newest_first[4:], []]
    for bad in [{"limit": "0"}, {"limit": "1001"}, {"offset": "-1"}, {"offset": "x"}]:
        status, error = await api("GET", "runs", **bad)
        assert status == 400, (bad, error)
        assert next(iter(bad)) in error["text"]


async def test_an_oversized_body_without_a_length_is_cut_off(jp_fetch: Any, root: Path) -> None:
    async def chunks(write: Callable[[bytes], Awaitable[None]]) -> None:
        await write(b'{"path": "sub/nb.ipynb", "parameters": {"n": "')
        for _ in range(40):  # 40 MiB, sent chunked: tornado stops reading past 1 MiB
            await write(b"1" * (1024 * 1024))
        await write(b'"}}')

    with pytest.raises(HTTPClientError) as caught:
        await jp_fetch("mlops", "api", "runs", method="POST", body_producer=chunks)
    assert caught.value.code == 599, "the connection is closed, not the body read and answered"
    assert core.runs(root) == []


async def test_a_dask_scheduler_file_outside_the_root_is_refused(
    api: Api, root: Path, tmp_path: Path
) -> None:
    """The server reads the scheduler file a run names: like any path, only inside its root."""
    (tmp_path / "sched.json").write_text("{}")
    for sent, status in (("../sched.json", 403), ("/etc/hostname", 403), ("sub/none.json", 404)):
        got, error = await api(
            "POST", "runs", {"path": "sub/nb.ipynb", "executor": "dask", "scheduler_file": sent}
        )
        assert got == status, (sent, error)
        assert sent in error["error"]
    assert core.runs(root) == []
