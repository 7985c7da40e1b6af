"""A real Jupyter Server with the extension enabled (pytest-jupyter), over a root of notebooks.

pytest-jupyter's fixtures and its async-test hooks are imported here rather than listed in
``pytest_plugins``: that keeps its autouse fixtures (a server cleanup after every test) to this
folder, and pytest refuses ``pytest_plugins`` outside the top-level conftest.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook  # tests/conftest.py: notebooks as JupyterLab saves them
from pytest_jupyter.jupyter_server import *  # noqa: F403  (fixtures and hooks)
from tornado.httpclient import HTTPClientError, HTTPResponse

Fetch = Callable[..., Awaitable[HTTPResponse]]

# three stages: make -> total, and a parameter; `total` is a metric
PIPELINE = [
    (["parameters"], "n = 3"),
    (["stage:make"], "x = list(range(n))"),
    (["stage:total"], "total = sum(x)\nprint(total)"),
    (["metrics"], "total"),
]


@pytest.fixture
def jp_server_config() -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"mlops_jupyter.server": True}}}


@pytest.fixture
def root(jp_root_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The server root, holding its own store: runs from the UI and the CLI both land there."""
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    (jp_root_dir / ".mlops").mkdir()  # else find_home could pick an ancestor's store
    write_notebook(jp_root_dir / "sub" / "nb.ipynb", PIPELINE)
    return jp_root_dir


@pytest.fixture
def api(jp_fetch: Fetch, root: Path) -> Callable[..., Awaitable[tuple[int, Any]]]:
    """``await api(method, route, body=None, **params)`` -> (status, JSON), errors included."""

    async def call(method: str, route: str, body: Any = None, **params: Any) -> tuple[int, Any]:
        try:
            response = await jp_fetch(
                "mlops",
                "api",
                *route.split("/"),
                method=method,
                params=params,
                body=None if body is None and method == "GET" else json.dumps(body or {}),
                allow_nonstandard_methods=True,
            )
        except HTTPClientError as exc:
            assert exc.response is not None
            response = exc.response
        assert response.headers["Content-Type"].startswith("application/json")
        return response.code, json.loads(response.body)

    return call
