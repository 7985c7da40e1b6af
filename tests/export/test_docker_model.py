"""``mlops export docker NAME@ALIAS``: a build context whose image serves a model version. docker
is not here (no daemon): the Dockerfile and pins are checked as text, and the store the image
serves from is served for real by ``mlops serve`` from the context itself."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest
from serve.test_app import COLUMNS, MLOPS, Server, project  # noqa: F401  (the module fixture)

pytest.importorskip("fastapi")


def _mlops(project: Path, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:  # noqa: F811
    return subprocess.run(
        [MLOPS, *args],
        capture_output=True,
        text=True,
        cwd=project,
        env={**os.environ, "MLOPS_HOME": str(home or project / ".mlops")},
        timeout=900,
    )


def test_the_context_serves_the_version_the_alias_names_pinned_as_its_run_recorded(
    project: Path,  # noqa: F811
    tmp_path: Path,
) -> None:
    # what the model's run recorded decides the pins and the base image, not this process
    db = sqlite3.connect(project / ".mlops" / "mlops.db")
    run_id = db.execute("SELECT run_id FROM model_versions WHERE version = 1").fetchone()[0]
    environment = json.loads(
        db.execute("SELECT environment FROM runs WHERE id = ?", (run_id,)).fetchone()[0]
    )
    environment["python"] = "3.10.14"
    environment.setdefault("packages", {})["sklearn"] = "scikit-learn==1.6.1"
    with db:
        db.execute(
            "UPDATE runs SET environment = ? WHERE id = ?", (json.dumps(environment), run_id)
        )
    db.close()

    context = tmp_path / "image"
    done = _mlops(project, "export", "docker", "iris@champion", "-o", str(context), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["model"] == "iris@champion" and result["kind"] == "docker"
    dockerfile = (context / "Dockerfile").read_text()
    assert "FROM python:3.10-slim" in dockerfile
    assert (
        'ENTRYPOINT ["mlops", "serve", "iris@1", "--host", "0.0.0.0", "--port", "8080"]'
        in dockerfile
    )
    assert "HEALTHCHECK" in dockerfile and "http://127.0.0.1:8080/ping" in dockerfile
    assert "COPY store/ /mlops/" in dockerfile
    pins = (context / "requirements.txt").read_text().splitlines()
    assert "scikit-learn==1.6.1" in pins
    assert any(p.startswith("fastapi==") for p in pins) and any(
        p.startswith("skops==") for p in pins
    )
    assert sorted((context / "wheels").glob("mlops_jupyter-*.whl")), result["notes"]

    # the store in the image holds that one version, lineage and all, and serves it
    home = context / "store"
    models = json.loads(_mlops(project, "models", "--json", home=home).stdout)
    assert models == [{"name": "iris", "versions": 1, "latest": 1, "aliases": {}}]
    source = json.loads(_mlops(project, "model", "show", "iris@1", "--json").stdout)
    copied = json.loads(_mlops(project, "model", "show", "iris@1", "--json", home=home).stdout)
    for key in ("hash", "parameters", "metrics", "data", "signature", "run_id", "pipeline_version"):
        assert copied[key] == source[key], key
    server = Server(project, "iris@1", home=home)
    try:
        rows = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
        status, answer, _ = server.call("POST", "/invocations", {"instances": rows}, token=None)
        assert (status, answer) == (200, {"predictions": [0, 2]})
    finally:
        server.stop()


def test_an_unknown_model_exits_2_and_writes_nothing(project: Path, tmp_path: Path) -> None:  # noqa: F811
    for ref, says in (
        ("ghost@champion", "there is no model 'ghost'"),
        ("iris@staging9", "no alias"),
    ):
        done = _mlops(project, "export", "docker", ref, "-o", str(tmp_path / "out"))
        assert done.returncode == 2 and says in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
