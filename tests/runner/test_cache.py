"""Stage cache keys: what decides a stage's outputs is in its key, and nothing else is."""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.runner.cache import stage_key
from mlops_jupyter.runner.plan import StagePlan

STAGE = StagePlan(
    name="train",
    notebook=Path("stages/train.ipynb"),
    after=("load",),
    inputs={"x": "load", "y": "load"},
    outputs=("model",),
    parameters=("lr",),
    metrics=("acc",),
    options={},
    code_hash="c0de",
    imports=("numpy", "utils"),
)
PARAMETERS = {"lr": 0.1, "epochs": 3}
INPUTS = {
    "x": {"hash": "aa11", "format": "npy", "type": "numpy.ndarray", "size": 128},
    "y": {"hash": "bb22", "format": "pickle", "type": "list", "size": 40},
}
ENVIRONMENT = {
    "python": "CPython 3.11.7",
    "kernel": "python3",
    "platform": "Linux-x86_64",
    "git_commit": "0" * 40,
    "git_dirty": False,
    "packages": {"numpy": "numpy==2.0.0", "pandas": "pandas==2.2.0"},
    "local_modules": {"utils": "hash-of-utils", "helpers": "hash-of-helpers"},
}

Change = Callable[[dict[str, Any]], None]


def key(change: Change | None = None) -> str:
    parts = {
        "stage": STAGE,
        "parameters": copy.deepcopy(PARAMETERS),
        "inputs": copy.deepcopy(INPUTS),
        "environment": copy.deepcopy(ENVIRONMENT),
    }
    if change:
        change(parts)
    return stage_key(parts["stage"], parts["parameters"], parts["inputs"], parts["environment"])


def with_stage(**fields: Any) -> Change:
    def change(parts: dict[str, Any]) -> None:
        parts["stage"] = dataclasses.replace(parts["stage"], **fields)

    return change


def test_the_key_is_a_stable_sha256() -> None:
    assert key() == key()
    assert len(key()) == 64
    int(key(), 16)


CHANGES_THAT_MISS: dict[str, Change] = {
    "stage code or setup": with_stage(code_hash="c0de2"),
    "stage name": with_stage(name="train2"),
    "values handed on": with_stage(outputs=("model", "history")),
    "metrics recorded": with_stage(metrics=()),
    "a parameter it reads": lambda p: p["parameters"].update(lr=0.2),
    "an input's content": lambda p: p["inputs"]["x"].update(hash="aa12"),
    "an input's format": lambda p: p["inputs"]["y"].update(format="cloudpickle"),
    "an extra input": lambda p: p["inputs"].update(z={"hash": "cc33", "format": "pickle"}),
    "Python": lambda p: p["environment"].update(python="CPython 3.12.1"),
    "the kernel": lambda p: p["environment"].update(kernel="other-env"),
    "an imported package's version": lambda p: p["environment"]["packages"].update(
        numpy="numpy==2.1.0"
    ),
    "an imported local module": lambda p: p["environment"]["local_modules"].update(utils="new"),
    "a newly imported package": with_stage(imports=("numpy", "utils", "pandas")),
}


@pytest.mark.parametrize("change", CHANGES_THAT_MISS.values(), ids=CHANGES_THAT_MISS.keys())
def test_what_decides_the_outputs_changes_the_key(change: Change) -> None:
    assert key(change) != key()


CHANGES_THAT_HIT: dict[str, Change] = {
    "a parameter it does not read": lambda p: p["parameters"].update(epochs=30),
    "an input's type label and size": lambda p: p["inputs"]["x"].update(type="other", size=1),
    "the order inputs arrive in": lambda p: p.update(inputs=dict(reversed(p["inputs"].items()))),
    "a package it does not import": lambda p: p["environment"]["packages"].update(
        pandas="pandas==3.0.0"
    ),
    "a local module it does not import": lambda p: p["environment"]["local_modules"].update(
        helpers="new"
    ),
    "the git commit": lambda p: p["environment"].update(git_commit="1" * 40, git_dirty=True),
    "the platform string": lambda p: p["environment"].update(platform="Linux-aarch64"),
    "retries and timeout": with_stage(options={"retries": 3, "timeout": 60.0}),
    "its upstream edges": with_stage(after=("load", "prepare")),
    "its compiled notebook path": with_stage(notebook=Path("elsewhere/train.ipynb")),
}


@pytest.mark.parametrize("change", CHANGES_THAT_HIT.values(), ids=CHANGES_THAT_HIT.keys())
def test_what_cannot_change_the_outputs_keeps_the_key(change: Change) -> None:
    assert key(change) == key()


def test_a_stage_reads_its_parameters_even_if_the_run_has_more() -> None:
    lean = stage_key(STAGE, {"lr": 0.1}, INPUTS, ENVIRONMENT)
    assert lean == key()
