"""Browser tests: a real ``jupyter lab`` (its own process) driven in the system's Chromium.

Playwright for Python drives ``/usr/bin/chromium`` (Debian's package; ``.ci/run`` installs it).
No browser is ever downloaded: without that binary every test here is skipped, with the reason.

The server runs on 127.0.0.1 at a free port with a token, over a temporary root folder holding
the notebooks below and its own ``.mlops/`` store; its settings, workspaces, config and data
folders are temporary too, so nothing of the developer's JupyterLab set-up leaks in or out.
Screenshots go to ``test-artifacts/browser/``; with ``MLOPS_DOCS_SCREENSHOTS=1`` the ones the
README shows are copied to ``docs/img/`` as well.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .labserver import CHROMIUM, CHROMIUM_ARGS, LabFailed, jupyter_lab

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
DOCS_IMG = REPO / "docs" / "img"
EXTENSION = "mlops-jupyter-labextension"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = None
    if not CHROMIUM.exists():
        reason = f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium; .ci/run does)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "Playwright for Python is not installed (pip install -e '.[test]')"
    if reason:
        here = Path(__file__).parent
        for item in items:
            if here in Path(str(item.fspath)).parents:
                item.add_marker(pytest.mark.skip(reason=reason))


# -- notebooks of the root folder


def code(source: str, tags: list[str] | None = None, cell_id: str | None = None) -> dict[str, Any]:
    cell: dict[str, Any] = {
        "cell_type": "code",
        "execution_count": None,
        "metadata": {"tags": tags} if tags else {},
        "outputs": [],
        "source": source,
    }
    if cell_id:
        cell["id"] = cell_id
    return cell


def markdown(source: str, cell_id: str) -> dict[str, Any]:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": source}


def notebook(cells: list[dict[str, Any]]) -> dict[str, Any]:
    for i, cell in enumerate(cells, 1):
        cell.setdefault("id", f"cell-{i}")
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {
                "display_name": "Python 3 (ipykernel)",
                "language": "python",
                "name": "python3",
            },
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


# Two code cells the tests tag as two stages; a parameter and a metric are tagged already.
PIPELINE = notebook(
    [
        markdown(
            "# Sum of squares\nTag the two code cells below as stages `load` and `total`.", "intro"
        ),
        code("n = 10", ["parameters"], "params"),
        code("numbers = [i * i for i in range(n)]", cell_id="load-cell"),
        code("total = sum(numbers)\nprint(total)", cell_id="total-cell"),
        code("total", ["metrics"], "metrics-cell"),
    ]
)

# A syntax error far down a long notebook: the panel points at it.
BROKEN = notebook(
    [
        code("x = 1", ["stage:prep"], "prep"),
        *[code(f"y{i} = x + {i}", cell_id=f"fill-{i}") for i in range(2, 26)],
        code("total = sum([x, y2)", ["stage:total"], "broken-cell"),
        *[code(f"z{i} = total + {i}", cell_id=f"tail-{i}") for i in range(27, 33)],
    ]
)


# -- the server


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen[bytes]
    log: Path

    def open_url(self, path: str) -> str:
        return f"{self.url}lab/tree/{path}?token={self.token}"

    def read(self, path: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / path).read_text(encoding="utf-8"))
        return data


def _extension_installed() -> bool:
    from jupyter_core.paths import jupyter_path

    return any(
        (Path(folder) / EXTENSION / "package.json").exists()
        for folder in jupyter_path("labextensions")
    )


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    if not _extension_installed():
        pytest.fail(
            f"the JupyterLab extension {EXTENSION} is not installed: `pip install -e .` builds it "
            "(needs Node.js >= 20; see labextension/)."
        )
    base = tmp_path_factory.mktemp("lab")
    root = base / "root"
    root.mkdir()
    (root / ".mlops").mkdir()  # the store of these notebooks, whatever folders are above
    (root / "pipeline.ipynb").write_text(json.dumps(PIPELINE, indent=1), encoding="utf-8")
    (root / "broken.ipynb").write_text(json.dumps(BROKEN, indent=1), encoding="utf-8")
    log = ARTIFACTS / "jupyter-lab.log"
    try:
        with jupyter_lab(base, root, log) as (url, token, process):
            yield Lab(url=url, token=token, root=root, process=process, log=log)
    except LabFailed as exc:
        pytest.fail(str(exc))


# -- the browser


# Module scope, not session: Playwright's sync API keeps an asyncio loop running in this thread
# while it is open, which other suites' async fixtures (pytest-jupyter) must not find.
@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def page(browser: Any, lab: Lab) -> Iterator[Any]:
    """One page for the module: its tests follow a user's path through the notebooks."""
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.set_default_timeout(30_000)
    page = context.new_page()
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(f"{msg.type}: {msg.text}"))
    page.on("pageerror", lambda exc: messages.append(f"pageerror: {exc}"))
    try:
        yield page
    finally:
        (ARTIFACTS / "console.log").write_text("\n".join(messages), encoding="utf-8")
        context.close()


def screenshot(page: Any, name: str, docs: bool = False) -> Path:
    """Save a screenshot as a test artifact (and, when asked, as the README's image)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    if docs and os.environ.get("MLOPS_DOCS_SCREENSHOTS") == "1":
        DOCS_IMG.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, DOCS_IMG / f"{name}.png")
    return path
