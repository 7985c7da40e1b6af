"""``mlops serve`` as a user runs it: the real server (FastAPI on uvicorn, a process of its own on
127.0.0.1), a store whose model versions real pipeline runs logged, requests over real HTTP.
Every loop of requests is bounded; every server is killed by its process group when its test
ends, also when the test fails."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from mlops_jupyter import api

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
pytest.importorskip("skops")
pd = pytest.importorskip("pandas")

MLOPS = str(Path(sys.executable).parent / "mlops")
TOKEN = "s3cret-token"
COLUMNS = ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)"]

TRAIN = [
    (["parameters"], "C = 1.0"),
    (
        ["setup"],
        "import mlops_jupyter as mlops\nfrom sklearn.datasets import load_iris\n"
        "from sklearn.linear_model import LogisticRegression",
    ),
    (
        ["stage:load"],
        "frame = load_iris(as_frame=True).frame\nmlops.check_data(frame, name='iris')\n"
        "X, y = frame.drop(columns='target'), frame['target']",
    ),
    (
        ["stage:train"],
        "model = LogisticRegression(C=C, max_iter=500).fit(X, y)\n"
        "mlops.log_metric('accuracy', float(model.score(X, y)))\n"
        "mlops.log_model(model, 'iris', example=X.head(5))",
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with iris@1 (C=1) and iris@2 (C=0.01), champion -> 1."""
    folder = tmp_path_factory.mktemp("serve")
    notebook = write_notebook(folder / "train.ipynb", TRAIN)
    previous = os.environ.get("MLOPS_HOME")
    os.environ["MLOPS_HOME"] = str(folder / ".mlops")
    try:
        for C in (1.0, 0.01):
            assert api.run(notebook, parameters={"C": C})["status"] == "succeeded"
        api.model_alias("iris@1", "champion")
    finally:
        if previous is None:
            del os.environ["MLOPS_HOME"]
        else:
            os.environ["MLOPS_HOME"] = previous
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, folder: Path, *args: str, home: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [MLOPS, "serve", *args, "--port", str(self.port)],
            cwd=folder,
            env={**os.environ, "MLOPS_HOME": str(home or folder / ".mlops")},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"mlops serve exited: {self.process.stderr.read()}")  # type: ignore[union-attr]
            try:
                urllib.request.urlopen(f"{self.url}/ping", timeout=1).read()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError("mlops serve did not answer /ping within 60 s")

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = TOKEN,
        content_type: str = "application/json",
        raw: bytes | None = None,
    ) -> tuple[int, Any, dict[str, str]]:
        data = raw if raw is not None else None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        request.add_header("Content-Type", content_type)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                text = response.read().decode()
                status, headers = (
                    response.status,
                    {k.lower(): v for k, v in response.headers.items()},
                )
        except urllib.error.HTTPError as exc:
            text, status, headers = (
                exc.read().decode(),
                exc.code,
                {k.lower(): v for k, v in exc.headers.items()},
            )
        try:
            return status, json.loads(text), headers
        except ValueError:
            return status, text, headers

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


@pytest.fixture
def serve(project: Path) -> Iterator[Any]:
    started: list[Server] = []

    def start(*args: str) -> Server:
        server = Server(project, *args)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def _rows(n: int = 12, seed: int = 0) -> Any:
    from sklearn.datasets import load_iris

    return load_iris(as_frame=True).data.sample(n, random_state=seed).reset_index(drop=True)


def _expected(project: Path, ref: str, rows: Any) -> list[int]:
    code = (
        "import sys, json, pandas as pd, mlops_jupyter as m\n"
        f"rows = pd.read_json(sys.stdin, orient='split')\n"
        f"print(json.dumps(m.load_model({ref!r}).predict(rows).tolist()))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        input=rows.to_json(orient="split"),
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "MLOPS_HOME": str(project / ".mlops")},
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_every_format_answers_what_load_model_predicts(project: Path, serve: Any) -> None:
    server = serve("iris@champion", "--token", TOKEN)
    rows = _rows()
    expected = _expected(project, "iris@champion", rows)
    split = rows.to_dict(orient="split")
    bodies = {
        "dataframe_split": {"dataframe_split": {"columns": COLUMNS, "data": split["data"]}},
        "dataframe_records": {"dataframe_records": rows.to_dict(orient="records")},
        "instances (rows)": {"instances": split["data"]},
        "inputs (columns)": {"inputs": rows.to_dict(orient="list")},
    }
    for label, body in bodies.items():
        status, answer, headers = server.call("POST", "/invocations", body)
        assert status == 200, (label, answer)
        assert answer == {"predictions": expected}, label
        assert headers["x-model-version"] == "1"
    status, answer, _ = server.call(
        "POST", "/invocations", raw=rows.to_csv(index=False).encode(), content_type="text/csv"
    )
    assert (status, answer) == (200, {"predictions": expected})
    oip = {
        "id": "r1",
        "inputs": [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()}
            for c in COLUMNS
        ],
    }
    status, answer, _ = server.call("POST", "/v2/models/iris/infer", oip)
    assert status == 200, answer
    assert answer["model_name"] == "iris" and answer["model_version"] == "1"
    assert answer["id"] == "r1"
    assert answer["outputs"][0]["data"] == expected
    status, meta, _ = server.call("GET", "/v2/models/iris")
    assert status == 200 and [i["name"] for i in meta["inputs"]] == COLUMNS
    status, version, _ = server.call("GET", "/version")
    assert (version["model"], version["version"], version["ref"]) == ("iris", 1, "iris@champion")
    assert version["hash"] == api.model_show("iris@1", project / "train.ipynb")["hash"]
    assert version["pipeline_version"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (
            {"dataframe_records": [{c: 1.0 for c in COLUMNS[:3]}]},
            "missing column 'petal width (cm)'",
        ),
        (
            {"dataframe_records": [{**{c: 1.0 for c in COLUMNS}, "sepal width (cm)": "wide"}]},
            "column 'sepal width (cm)' takes numbers",
        ),
        ({"dataframe_split": {"columns": COLUMNS, "data": [[1.0, 2.0]]}}, "row 0 has 2 values"),
        ({"rows": []}, "exactly one of dataframe_split"),
        ("not an object", "one JSON object"),
    ],
)
def test_bad_rows_are_a_400_naming_the_column_never_a_traceback(
    serve: Any, body: Any, says: str
) -> None:
    server = serve("iris@champion")
    status, answer, _ = server.call("POST", "/invocations", body, token=None)
    assert status == 400, answer
    assert answer["error_code"] == "BAD_REQUEST" and says in answer["message"]
    assert "Traceback" not in json.dumps(answer)


def test_a_token_is_required_except_by_the_probes_and_bodies_are_bounded(serve: Any) -> None:
    server = serve("iris@2", "--token", TOKEN, "--max-body", "2000")
    body = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    for token in (None, "wrong"):
        status, answer, headers = server.call("POST", "/invocations", body, token=token)
        assert status == 401 and answer["error_code"] == "UNAUTHENTICATED"
        assert headers["www-authenticate"] == "Bearer"
        assert server.call("GET", "/version", token=token)[0] == 401
        assert server.call("GET", "/v2/models/iris", token=token)[0] == 401
    for probe in ("/ping", "/health", "/v2/health/live", "/v2/health/ready"):
        assert server.call("GET", probe, token=None)[0] == 200, probe
    assert server.call("POST", "/invocations", body)[0] == 200
    big = {"instances": [[5.1, 3.5, 1.4, 0.2]] * 200}
    status, answer, _ = server.call("POST", "/invocations", big)
    assert status == 413 and "over 2,000 bytes" in answer["message"]
    status, _, _ = server.call("GET", "/v2/models/setosa")
    assert status == 404


def test_promoting_while_requests_flow_fails_none_and_version_flips(
    project: Path, serve: Any
) -> None:
    """Requests in a bounded loop on two threads while the alias moves to version 2: every one
    answers 200, each with the predictions of the version that says it answered."""
    server = serve("iris@champion", "--poll", "0.2")
    rows = _rows(20, seed=3)
    expected = {1: _expected(project, "iris@1", rows), 2: _expected(project, "iris@2", rows)}
    assert expected[1] != expected[2], "the two versions must tell apart on these rows"
    body = {"dataframe_split": {"columns": COLUMNS, "data": rows.to_dict(orient="split")["data"]}}
    answers: list[tuple[int, int, Any]] = []
    moved = threading.Event()

    def loop() -> None:
        for _ in range(400):
            status, answer, headers = server.call("POST", "/invocations", body, token=None)
            answers.append((status, int(headers.get("x-model-version", 0)), answer))
            if moved.is_set() and answers[-1][1] == 2 and len(answers) > 200:
                return

    threads = [threading.Thread(target=loop) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)
    env_home = project / "train.ipynb"
    assert api.model_promote("iris@2", "champion", where=env_home)["moved"]
    moved.set()
    for thread in threads:
        thread.join(timeout=120)
    statuses = {status for status, _, _ in answers}
    assert statuses == {200}, [a for a in answers if a[0] != 200][:3]
    versions = [version for _, version, _ in answers]
    assert 1 in versions and 2 in versions, "requests were answered on both sides of the switch"
    for _, version, answer in answers:
        assert answer == {"predictions": expected[version]}
    _, version, _ = server.call("GET", "/version", token=None)
    assert version["version"] == 2
    api.model_alias("iris@1", "champion", where=env_home)  # put it back for the other tests


def test_a_version_that_does_not_load_is_not_switched_to(project: Path, serve: Any) -> None:
    from mlops_jupyter.store import objects
    from mlops_jupyter.store.db import Store

    _alias(project, "staging", 1)
    server = serve("iris@staging", "--poll", "0.2")
    with Store(project / ".mlops") as store:
        broken = store.model_version("iris", 2)
        assert broken is not None
        path = objects.object_path(store.objects, broken["hash"])
    saved = path.read_bytes()
    try:
        path.write_bytes(saved[: len(saved) // 2])  # damaged: its bytes no longer match its key
        _alias(project, "staging", 2)
        time.sleep(1.5)  # several looks of the watcher
        _, version, _ = server.call("GET", "/version", token=None)
        assert version["version"] == 1, "still serving the version that loads"
        status, _, headers = server.call(
            "POST", "/invocations", {"instances": [[5.1, 3.5, 1.4, 0.2]]}, token=None
        )
        assert status == 200 and headers["x-model-version"] == "1"
    finally:
        path.write_bytes(saved)


def _alias(project: Path, alias: str, version: int) -> None:
    api.model_alias(f"iris@{version}", alias, where=project / "train.ipynb")


def test_bad_input_to_mlops_serve_exits_2_before_listening(project: Path) -> None:
    env = {**os.environ, "MLOPS_HOME": str(project / ".mlops")}
    for args, says in (
        (["iris@9"], "has no version 9"),
        (["ghost"], "there is no model 'ghost'"),
        (["iris@@x"], "does not name a model version"),
        (["iris", "--sample", "2"], "--sample is a share"),
        (["iris", "--port", "70000"], "--port must be"),
        (["iris", "--token", " "], "the token is empty"),
    ):
        done = subprocess.run(
            [MLOPS, "serve", *args],
            capture_output=True,
            text=True,
            cwd=project,
            env=env,
            timeout=60,
        )
        assert done.returncode == 2, (args, done.stderr)
        assert says in done.stderr and "Traceback" not in done.stderr


def test_two_worker_processes_answer_and_every_request_is_recorded(
    project: Path, serve: Any
) -> None:
    import sqlite3

    db = sqlite3.connect(project / ".mlops" / "mlops.db")
    before = db.execute("SELECT COUNT(*) FROM serving").fetchone()[0]
    server = serve("iris@1", "--workers", "2")
    body = {"instances": [[5.1, 3.5, 1.4, 0.2]]}
    for _ in range(40):
        status, answer, _ = server.call("POST", "/invocations", body, token=None)
        assert (status, answer) == (200, {"predictions": [0]})
    server.stop()  # each worker writes what it recorded as it stops
    assert db.execute("SELECT COUNT(*) FROM serving").fetchone()[0] - before == 40
    db.close()
