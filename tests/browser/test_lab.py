"""A user's path through JupyterLab, in a real browser: tag two cells as stages, see the graph,
run the pipeline and watch every stage succeed, then follow a compile error to its cell.

The tests share one page and run in file order (each starts where the previous one left off).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .conftest import ARTIFACTS, DOCS_IMG, REPO, Lab, code, notebook, screenshot
from .labserver import free_port

EXAMPLES = REPO / "examples"

NEW_STAGE = "starts a new stage…"


def expect(target: Any) -> Any:
    """Playwright's retrying assertions (imported late: without Playwright these tests skip)."""
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(target)


def cell(page: Any, index: int) -> Any:
    """The index-th cell (0-based, markdown included) of the notebook in the current tab."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell").nth(index)


def wait_idle(page: Any) -> None:
    page.locator("#jp-main-statusbar").get_by_text(re.compile(r"\| Idle")).wait_for(timeout=60_000)


def open_panel(page: Any) -> Any:
    panel = page.locator("#mlops-pipeline-panel")
    if not panel.is_visible():
        page.locator('.jp-SideBar.jp-mod-right [data-id="mlops-pipeline-panel"]').click()
    panel.wait_for(state="visible")
    return panel


def widen_right_sidebar(page: Any, pixels: int) -> None:
    """Drag the splitter between the main area and the right sidebar to the left."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle:not(.lm-mod-hidden)").last
    box = handle.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x - pixels, y, steps=5)
    page.mouse.up()


def wait_for_file(lab: Lab, path: str, check: Any, timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        data = lab.read(path)
        if check(data) or time.monotonic() > deadline:
            return data
        time.sleep(0.2)


def our_tags(data: dict[str, Any]) -> list[list[str]]:
    return [c.get("metadata", {}).get("tags", []) for c in data["cells"]]


def test_tag_two_cells_as_two_stages(page: Any, lab: Lab) -> None:
    page.goto(lab.open_url("pipeline.ipynb"))
    wait_idle(page)
    # every code cell is marked; the untagged ones belong to the default stage 'main'
    expect(cell(page, 2)).to_have_attribute("data-mlops-stage", "main")
    expect(cell(page, 1)).to_have_attribute("data-mlops-role", "parameters")

    # 1) the stage button on the cell, then the editor: a new stage named 'load'
    cell(page, 2).locator(".jp-InputPrompt").click()
    chip = cell(page, 2).locator(".mlops-mark button")
    chip.click()
    dialog = page.locator(".jp-Dialog")
    dialog.get_by_label("This cell").select_option(label=NEW_STAGE)
    dialog.get_by_label("New stage name").fill("Load")  # invalid: shown, Apply stays harmless
    expect(dialog.locator(".mlops-editor-problems")).to_contain_text("not a valid stage name")
    dialog.get_by_label("New stage name").fill("load")
    expect(dialog.locator(".mlops-editor-problems")).to_have_text("")
    dialog.get_by_role("button", name="Apply").click()
    dialog.wait_for(state="detached")
    expect(cell(page, 2).locator(".mlops-mark button")).to_have_text("load")
    expect(cell(page, 2)).to_have_attribute("data-mlops-stage", "load")
    expect(cell(page, 2)).to_have_class(re.compile(r"\bmlops-starts\b"))

    # 2) the cell context menu and the keyboard only: a new stage named 'total'
    cell(page, 3).locator(".jp-InputPrompt").click(button="right")
    page.locator(".lm-Menu").get_by_text("Start a New Stage at This Cell…").click()
    name = page.locator(".jp-Dialog").get_by_label("New stage name")
    name.wait_for()
    page.keyboard.type("total")
    expect(name).to_have_value("total")
    screenshot(page, "tagging", docs=True)
    page.keyboard.press("Enter")
    page.locator(".jp-Dialog").wait_for(state="detached")
    expect(cell(page, 3)).to_have_attribute("data-mlops-stage", "total")
    expect(cell(page, 4)).to_have_attribute("data-mlops-role", "metrics")

    # saved file: our tags only (JupyterLab adds metadata such as "trusted" on its own)
    cell(page, 3).locator(".jp-InputPrompt").click()
    page.keyboard.press("Control+s")
    data = wait_for_file(lab, "pipeline.ipynb", lambda d: ["stage:total"] in our_tags(d))
    assert our_tags(data) == [[], ["parameters"], ["stage:load"], ["stage:total"], ["metrics"]]
    assert [c.get("id") for c in data["cells"]][:3] == ["intro", "params", "load-cell"]


def test_pipeline_panel_draws_both_stages(page: Any, lab: Lab) -> None:
    panel = open_panel(page)
    graph = panel.locator("svg.mlops-graph")
    graph.locator('g.mlops-node[data-stage="load"]').wait_for()
    graph.locator('g.mlops-node[data-stage="total"]').wait_for()
    expect(graph.locator("g.mlops-node")).to_have_count(2)
    expect(graph.locator('g.mlops-edge[data-from="load"][data-to="total"]')).to_have_count(1)
    expect(graph.locator(".mlops-edge-label").first).to_have_text("numbers")
    # the typed parameters form, from the parameters cell
    field = panel.get_by_label(re.compile(r"^n\b"))
    expect(field).to_have_value("10")
    expect(field).to_have_attribute("type", "number")
    screenshot(page, "panel-two-stages")


def test_run_turns_every_stage_succeeded(page: Any, lab: Lab) -> None:
    panel = open_panel(page)
    panel.get_by_label(re.compile(r"^n\b")).fill("12")
    panel.get_by_role("button", name="Run", exact=True).click()
    run = panel.locator("li.mlops-run").first
    run.wait_for()
    for stage in ("load", "total"):
        panel.locator(
            f'svg.mlops-graph g.mlops-node[data-stage="{stage}"][data-status="succeeded"]'
        ).wait_for(timeout=90_000)
    panel.locator('li.mlops-run[data-status="succeeded"]').first.wait_for(timeout=30_000)
    details = run.locator(".mlops-run-details")
    details.wait_for()
    expect(details.locator('tr[data-stage="load"][data-status="succeeded"]')).to_have_count(1)
    expect(details.locator('tr[data-stage="total"][data-status="succeeded"]')).to_have_count(1)
    # the metric the run recorded: the sum of the squares below 12
    expect(details.locator("table.mlops-metrics")).to_contain_text("506")
    expect(details.locator(".mlops-run-params")).to_contain_text("n=12")
    screenshot(page, "run-two-stages")

    # the executed stage notebook opens (from the hidden .mlops/ folder, read-only)
    details.locator('tr[data-stage="total"] .mlops-open-notebook').click()
    expect(page.locator(".mlops-stage-view")).to_contain_text("506")
    page.locator(
        ".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current .lm-TabBar-tabCloseIcon"
    ).click()

    # a second run with another parameter, and the diff of the two
    panel.get_by_label(re.compile(r"^n\b")).fill("3")
    panel.get_by_role("button", name="Run", exact=True).click()
    expect(panel.locator('li.mlops-run[data-status="succeeded"]')).to_have_count(2, timeout=90_000)
    for box in panel.locator("li.mlops-run .mlops-run-head input[type=checkbox]").all():
        box.check()
    panel.get_by_role("button", name=re.compile("^compare")).click()
    diff = panel.locator(".mlops-diff")
    expect(diff.locator("td.mlops-diff-name", has_text=re.compile("^total$"))).to_have_count(1)
    rows = {
        row.locator("td").first.inner_text(): [c.inner_text() for c in row.locator("td").all()[1:]]
        for row in diff.locator("tbody tr").all()
        if row.locator("td").count() == 3
    }
    assert rows["n"] == ["12", "3"]
    assert rows["total"] == ["506", "5"]


def test_compile_error_points_at_its_cell(page: Any, lab: Lab) -> None:
    page.goto(lab.open_url("broken.ipynb"))
    wait_idle(page)
    panel = open_panel(page)
    problem = panel.locator(".mlops-problem-goto").filter(has_text="Cell 26")
    expect(problem).to_contain_text(re.compile("syntax", re.IGNORECASE))
    broken = cell(page, 25)
    problem.click()
    page.wait_for_function(
        """() => {
            const cells = document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell');
            return cells[25] && cells[25].classList.contains('jp-mod-active');
        }""",
    )
    # scrolled into view inside the notebook
    box = broken.bounding_box()
    view = page.locator(
        ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer"
    ).bounding_box()
    assert box is not None and view is not None
    assert box["y"] >= view["y"] - 1 and box["y"] < view["y"] + view["height"]
    screenshot(page, "compile-error")


def test_iris_example_graph_and_run(page: Any, lab: Lab) -> None:
    """The README's example: six stages, two of them side by side, a parameters form."""
    shutil.copyfile(EXAMPLES / "iris" / "iris.ipynb", lab.root / "iris.ipynb")
    page.goto(lab.open_url("iris.ipynb"))
    wait_idle(page)
    panel = open_panel(page)
    graph = panel.locator("svg.mlops-graph")
    graph.locator('g.mlops-node[data-stage="evaluate"]').wait_for()
    names = graph.locator("g.mlops-node").evaluate_all("nodes => nodes.map(n => n.dataset.stage)")
    assert sorted(names) == [
        "evaluate",
        "load",
        "split",
        "train_forest",
        "train_logreg",
        "validate",
    ]
    edge = graph.locator('g.mlops-edge[data-from="split"][data-to="train_forest"]')
    assert "X_train" in (edge.locator("title").text_content() or "")
    expect(panel.get_by_label(re.compile(r"^n_estimators\b"))).to_have_value("100")
    expect(panel.get_by_label(re.compile(r"^test_size\b"))).to_have_value("0.25")
    # the stage marks agree with the compiler: the skip cell is marked, setup has its own mark
    expect(page.locator('.jp-Cell[data-mlops-role="skip"]')).to_have_count(1)
    expect(page.locator('.jp-Cell[data-mlops-role="setup"]')).to_have_count(1)
    # for the picture: a wider panel, and the notebook scrolled to its stages
    widen_right_sidebar(page, 150)
    cell(page, 4).evaluate("node => node.scrollIntoView({block: 'start'})")
    wait_idle(page)
    screenshot(page, "panel-graph", docs=True)

    panel.get_by_role("button", name="Run", exact=True).click()
    for stage in names:
        graph.locator(f'g.mlops-node[data-stage="{stage}"][data-status="succeeded"]').wait_for(
            timeout=120_000
        )
    run = panel.locator('li.mlops-run[data-status="succeeded"]').first
    run.wait_for(timeout=30_000)
    expect(run.locator("table.mlops-metrics")).to_contain_text("forest_accuracy")
    run.locator("table.mlops-metrics").evaluate("node => node.scrollIntoView({block: 'end'})")
    screenshot(page, "run-finished", docs=True)


def user_env() -> dict[str, str]:
    """A terminal's environment: none of this process's Jupyter, mlops or path settings."""
    return {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("JUPYTER", "MLOPS_", "JPY_")) and key != "PYTHONPATH"
    }


def mlops_json(lab: Lab, *args: str) -> Any:
    """What the store of the lab's root says, through the CLI as a user would ask it."""
    done = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", *args, "--json"],
        cwd=lab.root,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


# the zone's wall clock: "Thu 3 Dec 2026 02:30"
FIRE_TIME = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}$")


def test_schedule_section(page: Any, lab: Lab) -> None:
    """Schedule the notebook from the panel: preview while typing the cron, the server's error
    for a bad one, create it, watch the server's own scheduler fire it and follow the fire to
    its run, pause it and remove it; the store agrees at every step."""
    page.goto(lab.open_url("pipeline.ipynb"))
    wait_idle(page)
    panel = open_panel(page)
    section = panel.locator("section.mlops-schedules")
    expect(section).to_contain_text("No schedules of this notebook")
    form = section.locator("form.mlops-schedule-form")
    # the schedule takes the parameters form's values, as Run does
    panel.get_by_label(re.compile(r"^n\b")).fill("7")
    expect(form.locator(".mlops-schedule-params")).to_contain_text("n=7")

    cron = form.get_by_label("cron", exact=True)
    form.get_by_label("zone", exact=True).fill("Asia/Tokyo")
    cron.fill("30 2 * * *")
    times = form.locator(".mlops-cron-next li")
    expect(times).to_have_count(5)
    expect(form.locator(".mlops-cron-preview")).to_contain_text("next in Asia/Tokyo (+09:00)")
    texts = times.all_inner_texts()
    assert all(FIRE_TIME.match(t) and t.endswith(" 02:30") for t in texts), texts
    assert len(set(texts)) == 5

    # a bad expression: the server's message in the field's error style, no times
    cron.fill("* * *")
    expect(form.locator(".mlops-cron-error")).to_contain_text("'* * *' has 3 fields")
    expect(times).to_have_count(0)
    expect(cron).to_have_attribute("aria-invalid", "true")
    # Create refuses it the same way, and nothing is written
    form.get_by_label("name", exact=True).fill("every-ten")
    form.get_by_role("button", name="Create").click()
    expect(form.locator(".mlops-schedule-create-error")).to_contain_text("has 3 fields")
    assert mlops_json(lab, "schedule", "list") == []

    # every 10 s (seconds first), so the server's hosted scheduler fires it during the test
    form.get_by_label("zone", exact=True).fill("UTC")
    cron.fill("*/10 * * * * *")
    expect(times).to_have_count(5)
    form.get_by_role("button", name="Create").click()
    item = section.locator('li.mlops-schedule[data-schedule="every-ten"]')
    expect(item).to_have_attribute("data-state", "on")
    expect(item.locator(".mlops-schedule-cron")).to_have_text("*/10 * * * * *")
    expect(item.locator(".mlops-schedule-next")).to_contain_text(re.compile(r"next \w{3} .* UTC"))
    expect(item.locator(".mlops-run-params")).to_contain_text("n=7")
    expect(form.get_by_label("name", exact=True)).to_have_value("")
    (stored,) = mlops_json(lab, "schedule", "list")
    assert stored["name"] == "every-ten" and stored["enabled"] is True
    assert stored["cron"] == "*/10 * * * * *" and stored["tz"] == "UTC"
    assert stored["parameters"] == {"n": 7}
    assert stored["catch_up"] == "latest" and stored["overlap"] == "skip"
    assert Path(stored["target"]) == (lab.root / "pipeline.ipynb").resolve()

    # the panel reads the schedule again once its next fire went by: no Refresh click
    fire = item.locator(".mlops-fires tr", has=page.locator(".mlops-fire-run")).last
    fire.wait_for(timeout=60_000)
    expect(fire).to_have_attribute("data-reason", re.compile("on-time|catch-up"))
    # for the picture (docs/img/schedule.png): the panel 420 px wide, the section at its top
    box = panel.bounding_box()
    if box is not None and box["width"] < 420:
        widen_right_sidebar(page, int(420 - box["width"]))
    section.evaluate("node => node.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "schedule.png"))
    if os.environ.get("MLOPS_DOCS_SCREENSHOTS") == "1":  # as conftest.screenshot does
        shutil.copyfile(ARTIFACTS / "schedule.png", DOCS_IMG / "schedule.png")

    # the fire links to its run: its row in the run history opens, with the parameters used
    fire.locator(".mlops-fire-run").click()
    history = mlops_json(lab, "schedule", "history", "every-ten")
    shown = fire.locator(".mlops-fire-run").inner_text().removeprefix("…")
    (run_id,) = [f["run_id"] for f in history if f["run_id"] and f["run_id"].endswith(shown)]
    row = panel.locator(f'li.mlops-run[data-run="{run_id}"]')
    expect(row).to_have_class(re.compile(r"\bmlops-run-open\b"))
    expect(row.locator(".mlops-run-params")).to_contain_text("n=7")
    assert row.locator(".mlops-run-details").is_visible()

    # pause: the state shows it, the store says so, and there is no next fire
    item.get_by_role("button", name="Pause").click()
    expect(item).to_have_attribute("data-state", "paused")
    expect(item.locator(".mlops-schedule-state")).to_have_text("paused")
    expect(item.get_by_role("button", name="Resume")).to_be_visible()
    (stored,) = mlops_json(lab, "schedule", "list")
    assert stored["enabled"] is False and stored["next_fire"] is None

    # remove, after the confirmation: gone from the panel and the store; its runs stay
    item.get_by_role("button", name="Remove").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text("Remove schedule every-ten?")
    dialog.get_by_role("button", name="Remove").click()
    expect(item).to_have_count(0)
    expect(section).to_contain_text("No schedules of this notebook")
    assert mlops_json(lab, "schedule", "list") == []
    fired = [r for r in mlops_json(lab, "runs") if r["run_id"] == run_id]
    assert fired and fired[0]["schedule"] == "every-ten" and fired[0]["trigger"] == "schedule"


# A stage training a classifier: each run logs a version of model "logreg" and its accuracy
# (not "iris": the iris example, run earlier into the same store, logs that one).
MODELS = notebook(
    [
        code("C = 1.0", ["parameters"], "params"),
        code(
            "import mlops_jupyter as mlops\n"
            "from sklearn.datasets import load_iris\n"
            "from sklearn.linear_model import LogisticRegression",
            ["setup"],
            "setup",
        ),
        code(
            "X, y = load_iris(return_X_y=True)\n"
            "model = LogisticRegression(C=C, max_iter=1000).fit(X, y)\n"
            'mlops.log_metric("accuracy", float(model.score(X, y)))\n'
            'mlops.log_model(model, "logreg", example=X[:3])',
            ["stage:train"],
            "train",
        ),
    ]
)

# mlops_jupyter.api.run, for a process of its own: Playwright's loop runs in this one
RUN_SCRIPT = """
import json, sys
from mlops_jupyter import api
run = api.run(sys.argv[1], parameters=json.loads(sys.argv[2]))
print(json.dumps({"status": run["status"], "metrics": run["metrics"]}))
"""


def api_run(lab: Lab, path: str, parameters: dict[str, Any]) -> dict[str, Any]:
    """Run a notebook of the lab's root with the API, into the lab's store; its status, metrics."""
    done = subprocess.run(
        [sys.executable, "-c", RUN_SCRIPT, path, json.dumps(parameters)],
        cwd=lab.root,
        env={**user_env(), "MLOPS_HOME": str(lab.root / ".mlops")},
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_models_section(page: Any, lab: Lab) -> None:
    """Two versions of a model logged by two runs outside the lab: the panel lists them with
    their accuracy (the best marked), promotes version 1 to champion, refuses version 2 against
    a requirement saying why, and shows the version a run started from the panel logs."""
    (lab.root / "models.ipynb").write_text(json.dumps(MODELS, indent=1), encoding="utf-8")
    first = api_run(lab, "models.ipynb", {"C": 1.0})
    second = api_run(lab, "models.ipynb", {"C": 0.01})
    assert first["status"] == second["status"] == "succeeded"
    accuracy = {1: first["metrics"]["accuracy"], 2: second["metrics"]["accuracy"]}
    assert accuracy[1] - accuracy[2] > 0.01  # so the requirement below refuses version 2

    page.goto(lab.open_url("models.ipynb"))
    wait_idle(page)
    panel = open_panel(page)
    section = panel.locator("section.mlops-models")
    # only the models this notebook's runs logged
    expect(section.locator("li.mlops-model")).to_have_count(1)
    item = section.locator('li.mlops-model[data-model="logreg"]')
    rows = item.locator("table.mlops-model-versions tbody tr")
    expect(rows).to_have_count(2)
    assert rows.evaluate_all("rows => rows.map(r => r.dataset.version)") == ["2", "1"]
    for number, value in accuracy.items():
        cell = item.locator(f'tr[data-version="{number}"] td[data-metric="accuracy"]')
        expect(cell).to_have_text(f"{value:.6g}")
    best = item.locator('tr[data-version="1"] td[data-metric="accuracy"]')
    expect(best).to_have_class(re.compile(r"\bmlops-best\b"))
    expect(item.locator("td.mlops-best")).to_have_count(1)
    expect(item.locator("thead")).to_contain_text("accuracy ↑")
    expect(item.locator(".mlops-alias")).to_have_count(0)

    # version 1 to champion: nothing to compare with yet, its run succeeded
    form = item.locator("form.mlops-promote-form")
    expect(form.get_by_label("version", exact=True)).to_have_value("2")  # the newest
    expect(form.get_by_label("alias", exact=True)).to_have_value("champion")
    form.get_by_label("version", exact=True).select_option("1")
    form.get_by_role("button", name="Promote").click()
    result = form.locator(".mlops-promote-result")
    expect(result).to_have_attribute("data-state", "moved")
    expect(result).to_have_text("logreg@champion moved from nowhere to version 1.")
    expect(item.locator('tr[data-version="1"] .mlops-alias')).to_have_text("champion")
    stored = {m["name"]: m for m in mlops_json(lab, "models")}
    assert stored["logreg"]["aliases"] == {"champion": 1}

    # version 2 must beat the champion's accuracy by 0.01: refused, with the numbers
    form.get_by_label("version", exact=True).select_option("2")
    expect(result).to_have_count(0)  # the answer was to the fields as they were
    form.get_by_label("require", exact=True).fill("accuracy>=+0.01")
    form.get_by_label("reason", exact=True).fill("smaller C")
    form.get_by_role("button", name="Promote").click()
    expect(result).to_have_attribute("data-state", "refused")
    expect(result.locator(".mlops-promote-text")).to_have_text(
        "Refused: 1 requirement not met; logreg@champion stays at version 1 "
        "(version 2 was the candidate)."
    )
    failed = result.locator("table.mlops-requirements tbody")
    expect(failed).to_have_count(1)  # "run succeeded" held, so it is not listed
    expect(failed).to_have_attribute("data-requirement", "accuracy>=+0.01")
    required = f">= {accuracy[1] + 0.01:.6g} (baseline +0.01)"
    cells = failed.locator("tr").first.locator("td")
    expect(cells).to_have_text(
        ["accuracy>=+0.01", f"{accuracy[2]:.6g}", f"{accuracy[1]:.6g}", required]
    )
    expect(failed.locator(".mlops-requirement-why")).to_have_text(
        f"accuracy is {accuracy[2]:.6g}, not {required}"
    )
    expect(item.locator('tr[data-version="1"] .mlops-alias')).to_have_text("champion")
    expect(item.locator('tr[data-version="2"] .mlops-alias')).to_have_count(0)
    stored = {m["name"]: m for m in mlops_json(lab, "models")}
    assert stored["logreg"]["aliases"] == {"champion": 1}
    moves = mlops_json(lab, "model", "history", "logreg")
    assert [(m["from"], m["to"], m["how"]) for m in moves] == [(None, 1, "promote")]

    # for the picture (docs/img/models.png): the panel 420 px wide, the section at its top
    box = panel.bounding_box()
    if box is not None and box["width"] < 420:
        widen_right_sidebar(page, int(420 - box["width"]))
    section.evaluate("node => node.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "models.png"))
    if os.environ.get("MLOPS_DOCS_SCREENSHOTS") == "1":  # as conftest.screenshot does
        shutil.copyfile(ARTIFACTS / "models.png", DOCS_IMG / "models.png")

    # a run started here logs version 3: the section shows it once the run ends, no Refresh
    panel.get_by_label(re.compile(r"^C\b")).fill("0.5")
    panel.get_by_role("button", name="Run", exact=True).click()
    runs = panel.locator('li.mlops-run[data-status="succeeded"]')
    expect(runs).to_have_count(3, timeout=90_000)
    expect(rows).to_have_count(3)
    assert rows.first.get_attribute("data-version") == "3"
    expect(rows.first.locator("td").nth(1)).to_have_text("0.5")  # the C column


# A model whose run checked its training table, so its lineage holds the data `mlops monitor`
# compares served inputs with ("flowers", not "iris": the iris example logs that one into the
# same store; the table is named "iris" there too, and is the same table).
MONITORED = notebook(
    [
        code(
            "import mlops_jupyter as mlops\n"
            "from sklearn.datasets import load_iris\n"
            "from sklearn.linear_model import LogisticRegression",
            ["setup"],
            "setup",
        ),
        code(
            "frame = load_iris(as_frame=True).frame\n"
            "mlops.check_data(frame, name='iris')\n"
            "X, y = frame.drop(columns='target'), frame['target']",
            ["stage:load"],
            "load",
        ),
        code(
            "model = LogisticRegression(max_iter=500).fit(X, y)\n"
            "mlops.log_metric('accuracy', float(model.score(X, y)))\n"
            "mlops.log_model(model, 'flowers', example=X.head(5))",
            ["stage:train"],
            "train",
        ),
    ]
)


@contextmanager
def mlops_serve(lab: Lab, ref: str) -> Iterator[str]:
    """A real ``mlops serve`` of the lab's store; its URL. Leaving stops it (SIGTERM to its own
    process group, as a user's Ctrl-C), which writes the requests it still holds to the store."""
    port = free_port()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with (ARTIFACTS / "mlops-serve.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "mlops_jupyter", "serve", ref, "--port", str(port)],
            cwd=lab.root,
            env={**user_env(), "MLOPS_HOME": str(lab.root / ".mlops")},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, "mlops serve exited: see test-artifacts/browser/"
            try:
                urllib.request.urlopen(f"{url}/ping", timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mlops serve did not answer /ping in 60 s"
                time.sleep(0.2)
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def shifted_iris(n: int, seed: int, shift: dict[str, float]) -> Any:
    """New flowers of the iris kinds (the rows drawn again, with noise), some columns moved."""
    import numpy as np
    from sklearn.datasets import load_iris

    rows = load_iris(as_frame=True).data.sample(n, replace=True, random_state=seed)
    rows = rows.reset_index(drop=True) + np.random.default_rng(seed).normal(0, 0.05, rows.shape)
    for column, by in shift.items():
        rows[column] = rows[column] + by
    return rows.round(2)


def invoke(url: str, rows: Any) -> None:
    body = {"dataframe_split": {"columns": list(rows.columns), "data": rows.values.tolist()}}
    request = urllib.request.Request(
        f"{url}/invocations",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200


def test_monitor_section(page: Any, lab: Lab) -> None:
    """A model served for real with two of its four input columns moved: the panel's monitor of
    its champion counts the requests, reads the training data from the lineage, marks exactly
    the two moved columns as drifted (in red) and the inputs as drifted; the CLI agrees."""
    (lab.root / "monitor.ipynb").write_text(json.dumps(MONITORED, indent=1), encoding="utf-8")
    assert api_run(lab, "monitor.ipynb", {})["status"] == "succeeded"
    assert mlops_json(lab, "model", "alias", "flowers@1", "champion")["to"] == 1
    moved = ["petal length (cm)", "petal width (cm)"]
    rows = shifted_iris(300, seed=2, shift={moved[0]: 2.0, moved[1]: 0.9})
    with mlops_serve(lab, "flowers@champion") as url:
        for start in range(0, len(rows), 25):
            invoke(url, rows.iloc[start : start + 25])

    page.goto(lab.open_url("monitor.ipynb"))
    wait_idle(page)
    panel = open_panel(page)
    section = panel.locator("section.mlops-monitor")
    item = section.locator('li.mlops-monitor-model[data-model="flowers"]')
    expect(item).to_contain_text("champion, version 1")
    expect(section.locator("li.mlops-monitor-model")).to_have_count(1)  # this notebook's only
    item.get_by_role("button", name="Monitor", exact=True).click()
    report = item.locator(".mlops-monitor-report")
    expect(report.locator('[data-stat="requests"]')).to_have_text("12")
    expect(report.locator('[data-stat="errors"]')).to_have_text("0 (0.0 %)")
    expect(report.locator('[data-stat="served-rows"]')).to_have_text("300 rows sampled")
    expect(report.locator('[data-stat="latency"]')).to_have_text(
        re.compile(r"^p50 [\d.]+ ms · p99 [\d.]+ ms$")
    )
    expect(report.locator('[data-stat="reference"]')).to_have_text(
        re.compile(r"^iris [0-9a-f]{12} \(150 rows\)$")
    )
    table = report.locator("table.mlops-monitor-columns tbody tr")
    expect(table).to_have_count(4)
    drifted = report.locator('tr[data-drift="true"]')
    expect(drifted).to_have_count(2)
    assert drifted.evaluate_all("rows => rows.map(r => r.dataset.column)") == moved
    expect(drifted.locator(".mlops-monitor-drift-cell")).to_have_text(["drift", "drift"])
    steady = report.locator('tr[data-drift="false"]')
    expect(steady.locator(".mlops-monitor-drift-cell")).to_have_text(["no", "no"])
    # red: the theme's error colour, on the drifted rows only
    red = panel.evaluate(
        """panel => {
            const probe = document.createElement('span');
            probe.style.color = 'var(--jp-error-color1)';
            panel.appendChild(probe);
            const color = getComputedStyle(probe).color;
            probe.remove();
            return color;
        }"""
    )
    colours = table.evaluate_all(
        "rows => rows.map(r => [r.dataset.column, getComputedStyle(r.cells[0]).color])"
    )
    assert {column: colour == red for column, colour in colours} == {
        column: column in moved for column, _ in colours
    }
    verdict = report.locator(".mlops-monitor-verdict")
    expect(verdict).to_have_attribute("data-state", "drift")
    expect(verdict).to_have_text("drift: 2 of 4 columns (50 %)")
    expect(report.locator(".mlops-monitor-note")).to_have_count(0)
    predictions = report.locator(".mlops-monitor-predictions")
    expect(predictions).to_have_attribute("data-shift", "not compared")
    expect(predictions).to_contain_text("300 rows: ")
    expect(predictions).to_contain_text("not compared (fewer than 30 in the window before)")

    # the CLI says the same of the same records (exit 1: drift)
    done = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", "monitor", "flowers@champion", "--json"],
        cwd=lab.root,
        env=user_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1, done.stderr
    found = json.loads(done.stdout)
    assert found["requests"] == 12 and found["drift"] is True
    assert [c for c, v in found["columns"].items() if v["drift"]] == moved
    statistics = report.locator("tbody td:nth-child(3)").all_inner_texts()
    assert statistics == [f"{v['statistic']:.6g}" for v in found["columns"].values()]

    # another window is read when picked: the same twelve requests, in the last 24 hours
    item.get_by_label("window", exact=True).select_option("24h")
    expect(report).to_have_attribute("data-window", "86400")
    expect(report.locator('[data-stat="requests"]')).to_have_text("12")

    # for the picture (docs/img/monitor.png): the panel 420 px wide, the section at its top
    box = panel.bounding_box()
    if box is not None and box["width"] < 420:
        widen_right_sidebar(page, int(420 - box["width"]))
    section.evaluate("node => node.scrollIntoView({block: 'start'})")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    panel.screenshot(path=str(ARTIFACTS / "monitor.png"))
    if os.environ.get("MLOPS_DOCS_SCREENSHOTS") == "1":  # as conftest.screenshot does
        shutil.copyfile(ARTIFACTS / "monitor.png", DOCS_IMG / "monitor.png")
