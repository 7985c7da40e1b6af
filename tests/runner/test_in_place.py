"""Values changed in place where the compiler sees no assignment reach later stages.

Each case is a notebook whose middle stage changes a value it loaded without assigning the name
(so static analysis gives the later stage the value from before the change). The expected
answer is the notebook run top to bottom: ``mlops verify`` compares every value passed between
stages and every metric with it, and the run's metric is checked against the number the
notebook computes.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from mlops_jupyter import api

MLOPS = str(Path(sys.executable).parent / "mlops")
MakeNotebook = Callable[..., Path]

SETUP = """\
import numpy as np

class Config:
    def __init__(self):
        self.lr = 1.0

def add_column(table, name, value):
    table[name] = value
"""

# name: (load stage, change stage, use stage computing `result`, the notebook's result)
CASES = {
    "a loop variable over a list of names (the Titanic idiom)": (
        "train = {'age': 1}\ntest = {'age': 2}",
        "for d in [train, test]:\n    d['age'] = d['age'] * 10",
        "result = train['age'] + test['age']",
        30,
    ),
    "a plain alias": (
        "table = {'a': 1}",
        "t = table\nt['b'] = 2",
        "result = len(table)",
        2,
    ),
    "a helper from setup that adds a column": (
        "table = {'a': 1}",
        "add_column(table, 'c', 5)",
        "result = table['c']",
        5,
    ),
    "a shuffle that writes into its argument": (
        "arr = np.arange(10)",
        "np.random.default_rng(0).shuffle(arr)",
        "result = int(arr[0])",
        int(__import__("numpy").random.default_rng(0).permutation(10)[0]),
    ),
    "out= writes into the array": (
        "x = np.linspace(-2.0, 2.0, 5)",
        "np.clip(x, 0, 1, out=x)",
        "result = float(x.sum())",
        2.0,
    ),
    "an object held in a container": (
        "data = {'rows': [1, 2]}",
        "rows = data['rows']\nrows.append(3)",
        "result = sum(data['rows'])",
        6,
    ),
    "an attribute stored through an alias": (
        "cfg = Config()",
        "c = cfg\nc.lr = 0.25",
        "result = cfg.lr",
        0.25,
    ),
    "setattr": (
        "cfg = Config()",
        "setattr(cfg, 'lr', 0.5)",
        "result = cfg.lr",
        0.5,
    ),
    "a sort through an alias": (
        "rows = [3, 1, 2]",
        "r = rows\nr.sort()",
        "result = rows[0]",
        1,
    ),
}


@pytest.mark.parametrize(("load", "change", "use", "expected"), CASES.values(), ids=CASES.keys())
def test_a_value_changed_in_place_reaches_the_stages_after_it(
    make_notebook: MakeNotebook,
    home: Path,
    load: str,
    change: str,
    use: str,
    expected: float,
) -> None:
    nb = make_notebook(
        [
            (["setup"], SETUP),
            (["stage:load"], load),
            (["stage:change"], change),
            (["stage:use"], use),
            (["metrics"], "result"),
        ]
    )
    result = subprocess.run(
        [MLOPS, "verify", str(nb), "--json"],
        capture_output=True,
        text=True,
        cwd=nb.parent,
        timeout=300,
    )
    found = json.loads(result.stdout)
    assert (result.returncode, found["differences"]) == (0, []), result.stderr
    assert api.show(found["run_id"])["metrics"]["result"] == expected
    # and again from the cache: the change travels in the changing stage's entry
    again = api.run(nb)
    assert {s["status"] for s in again["stages"]} == {"cached"}
    assert again["metrics"]["result"] == expected


def test_branches_that_only_read_a_value_still_run_side_by_side(
    make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(
        [
            (["stage:load"], "import time\nx = [1, 2, 3]"),
            (["stage:left"], "time.sleep(1.5)\nleft = sum(x)"),
            (["stage:right"], "time.sleep(1.5)\nright = max(x)"),
            (["stage:total"], "total = left + right"),
        ]
    )
    run = api.run(nb, jobs=2)
    times = {s["name"]: (s["started_at"], s["ended_at"]) for s in run["stages"]}
    assert times["left"][0] < times["right"][1] and times["right"][0] < times["left"][1]
    assert [s["status"] for s in run["stages"]] == ["succeeded"] * 4


def test_a_later_stage_that_already_ran_on_the_old_value_runs_again(
    make_notebook: MakeNotebook, home: Path
) -> None:
    # `use` depends only on `load` statically, so it runs beside `change`, on the old value;
    # once `change` reports the change, `use` runs again with the new one
    nb = make_notebook(
        [
            (["setup"], "import time\n\ndef grow(items):\n    items.append(2)"),
            (["stage:load"], "rows = [1]"),
            (["stage:change"], "time.sleep(1.5)\ngrow(rows)"),
            (["stage:use"], "n = len(rows)"),
            (["metrics"], "n"),
        ]
    )
    events: list[dict[str, object]] = []
    run = api.run(nb, jobs=2, listeners=[events.append])
    assert run["metrics"] == {"n": 2.0}
    use = [e["status"] for e in events if e.get("stage") == "use"]
    assert use[-1] == "succeeded" and "pending" in use  # ran, was sent back, ran again
    metrics = api.metrics(run["run_id"])
    assert [p["value"] for p in metrics["n"]] == [2.0]  # the stale execution left no record
