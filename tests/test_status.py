"""The status vocabulary: ``status.py`` and the extension's ``src/status.ts`` read one table."""

from __future__ import annotations

import json
from pathlib import Path

from mlops_jupyter.status import ACTIVE, DONE_OK, FINAL, RunStatus, StageStatus

TABLE = json.loads((Path(__file__).parent / "cases" / "statuses.json").read_text())


def test_the_enums_are_the_shared_table_in_order() -> None:
    assert [s.value for s in RunStatus] == TABLE["run"]
    assert [s.value for s in StageStatus] == TABLE["stage"]


def test_the_groups_are_the_shared_table() -> None:
    assert set(TABLE["final"]) == FINAL
    assert set(TABLE["active"]) == ACTIVE
    assert set(TABLE["done_ok"]) == DONE_OK
    assert all(RunStatus(s).final for s in TABLE["final"])
    assert not RunStatus.RUNNING.final and not RunStatus.INTERRUPTING.final


def test_a_status_reads_stores_and_prints_as_its_plain_value() -> None:
    assert StageStatus.CACHED == "cached" and f"{StageStatus.CACHED:<8}|" == "cached  |"
    assert str(RunStatus.FAILED) == "failed" and json.dumps([RunStatus.FAILED]) == '["failed"]'
    assert {"succeeded": 1}[StageStatus.SUCCEEDED] == 1
