"""Screenshots of the three inline views, rendered by real JupyterLab in real Chromium.

Run by hand (not collected by pytest: it takes ~1 min, most of it three runs of the iris
pipeline)::

    .venv/bin/python tests/browser/screenshot_widgets.py            # -> docs/img/widget-*.png
    .venv/bin/python tests/browser/screenshot_widgets.py --out DIR

It starts ``jupyter lab`` on 127.0.0.1 (a free port, a token) over a temporary folder holding a
copy of ``examples/iris/iris.ipynb`` and a notebook that runs it with ``%mlops run``, logs a
100,000-step training curve, tracks a data file twice, and shows ``%mlops show``,
``%mlops metrics`` and ``%mlops data``. Playwright drives ``/usr/bin/chromium`` (never a
downloaded browser), runs all cells, waits for them, checks what the widgets drew, and saves
one PNG per view: widget-run.png, widget-metrics.png, widget-data.png (plus
widget-run-live.png, the graph caught while a run is going, when it catches one).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(Path(__file__).resolve().parent))

from labserver import CHROMIUM, CHROMIUM_ARGS, LabFailed, jupyter_lab  # noqa: E402

SKIP = ["skip"]  # the demo cells are not pipeline stages of this notebook

DEMO_CELLS: list[tuple[list[str], str]] = [
    (SKIP, "%load_ext mlops_jupyter"),
    (SKIP, "%mlops run --notebook iris.ipynb -p n_estimators=10 -p C=0.05"),
    (SKIP, "%mlops run --notebook iris.ipynb -p n_estimators=100 -p C=1.0"),
    (SKIP, "%mlops run --notebook iris.ipynb -p n_estimators=60 -p C=1.0"),
    (SKIP, "%mlops show"),
    (
        SKIP,
        "# a training curve: 100,000 steps, drawn from a few hundred points\n"
        "import math, random\n"
        "import mlops_jupyter as mlops\n"
        "random.seed(3)\n"
        "for step in range(100_000):\n"
        "    noise = random.gauss(0, 0.02) + (0.4 if step == 61_000 else 0.0)\n"
        "    mlops.log_metric('loss', 0.08 + 0.9 * math.exp(-step / 9_000) + noise, step=step)\n"
        "mlops.flush()",
    ),
    (SKIP, "%mlops metrics --runs 5"),
    (
        SKIP,
        "# two versions of a data file: rows dropped, a column added, a dtype changed\n"
        "from sklearn.datasets import load_iris\n"
        "frame = load_iris(as_frame=True).frame\n"
        "frame.to_csv('iris.csv', index=False)\n"
        "mlops.track_data('iris.csv')\n"
        "frame['petal_ratio'] = frame['petal length (cm)'] / frame['petal width (cm)']\n"
        "frame['target'] = frame['target'].astype(float)\n"
        "frame.iloc[:140].to_csv('iris.csv', index=False)\n"
        "mlops.track_data('iris.csv')\n"
        "mlops.track_data('iris.csv')  # unchanged: a stat, no re-hash\n"
        "mlops.flush()",
    ),
    (SKIP, "%mlops data"),
]


def demo_notebook() -> dict[str, Any]:
    cells = [
        {
            "cell_type": "code",
            "execution_count": None,
            "id": f"demo-{i}",
            "metadata": {"tags": tags},
            "outputs": [],
            "source": source,
        }
        for i, (tags, source) in enumerate(DEMO_CELLS, 1)
    ]
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


@contextmanager
def lab_with_demo(base: Path) -> Iterator[tuple[str, str, Path]]:
    """JupyterLab over a folder holding the iris example and the demo notebook."""
    root = base / "root"
    root.mkdir()
    (root / ".mlops").mkdir()  # this folder's store, whatever folders are above it
    shutil.copyfile(REPO / "examples" / "iris" / "iris.ipynb", root / "iris.ipynb")
    (root / "widgets.ipynb").write_text(json.dumps(demo_notebook(), indent=1), encoding="utf-8")
    try:
        with jupyter_lab(base, root, base / "jupyter-lab.log", timeout=90) as (url, token, _):
            yield url, token, root
    except LabFailed as exc:
        raise SystemExit(str(exc)) from None


def cell_with(page: Any, selector: str) -> Any:
    """The notebook cell (input and output) whose output holds ``selector``."""
    return page.locator(".jp-Notebook .jp-Cell").filter(has=page.locator(selector)).last


def shoot(page: Any, selector: str, path: Path) -> None:
    cell = cell_with(page, selector)
    cell.scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # let the scroll settle
    cell.screenshot(path=str(path))
    print(f"saved {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "img")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM} (Debian: apt-get install chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="mlops-widgets-"))
    started = time.monotonic()
    try:
        with lab_with_demo(base) as (url, token, _root), sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
            )
            context = browser.new_context(
                viewport={"width": 1280, "height": 1000}, device_scale_factor=1.5
            )
            context.set_default_timeout(60_000)
            page = context.new_page()
            page.goto(f"{url}lab/tree/widgets.ipynb?token={token}")
            page.get_by_text("| Idle").first.wait_for(timeout=90_000)  # the kernel is up
            page.locator(".jp-Notebook .jp-Cell").first.wait_for()
            page.keyboard.press(
                "Control+b"
            )  # collapse the left side bar: the notebook gets the width
            page.locator("li.lm-MenuBar-item", has_text="Run").first.click()
            page.locator("li.lm-Menu-item", has_text="Run All Cells").first.click()
            live = args.out / "widget-run-live.png"
            try:  # the first run's graph while a stage is running
                running = page.locator('.mlops-run[data-status="running"] [data-status="running"]')
                running.first.wait_for(timeout=60_000)
                page.wait_for_timeout(700)  # let its clock tick
                cell_with(page, '.mlops-run[data-status="running"]').first.screenshot(
                    path=str(live)
                )
                print(f"saved {live}")
            except Exception as exc:  # a run can be too quick to catch: not an error
                print(f"no live picture ({type(exc).__name__})")
            page.locator(".mlops-data-view table.mlops-data").first.wait_for(timeout=240_000)
            page.get_by_text("| Idle").first.wait_for(timeout=60_000)

            run = cell_with(page, ".mlops-run").locator(".mlops-run").last
            stages = run.locator(".mlops-stage")
            statuses = {
                stages.nth(i).get_attribute("data-stage"): stages.nth(i).get_attribute(
                    "data-status"
                )
                for i in range(stages.count())
            }
            print("run graph:", statuses)
            assert statuses == {
                "load": "cached",
                "split": "cached",
                "train_forest": "succeeded",
                "train_logreg": "cached",
                "evaluate": "succeeded",
            }, statuses
            best = page.locator(".mlops-metrics td.mlops-best")
            print("best cells:", best.count(), "charts:", page.locator(".mlops-chart").count())
            assert best.count() >= 4
            badges = page.locator(".mlops-data .mlops-badge").all_inner_texts()
            print("data badges:", badges)
            assert badges == ["unchanged", "changed", "new"], badges

            # make the first cell the active one: no selection bar or cell toolbar in the pictures
            page.locator(".jp-Notebook .jp-Cell").first.locator(".jp-InputPrompt").click()
            shoot(page, ".mlops-run", args.out / "widget-run.png")
            shoot(page, ".mlops-metrics-view", args.out / "widget-metrics.png")
            shoot(page, ".mlops-data-view", args.out / "widget-data.png")
            browser.close()
    finally:
        if args.keep:
            print(f"kept {base}")
        else:
            shutil.rmtree(base, ignore_errors=True)
    print(f"done in {time.monotonic() - started:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
