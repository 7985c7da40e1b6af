"""``mlops doctor`` (:mod:`mlops_jupyter.store.doctor`): each finding on a real store, and none
on a healthy one."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from mlops_jupyter.store import doctor, objects
from mlops_jupyter.store.db import Store


def recorded_run(home: Path) -> tuple[str, str]:
    with Store(home) as store:
        run_id, _ = store.start_run(
            pipeline="demo",
            version="v1",
            notebook=None,
            compiled="c",
            parameters={},
            stages=["a"],
            environment={},
        )
        key = objects.put(store.objects, b"value")
        ref = {"hash": key, "format": "pickle", "type": "int", "size": 5}
        store.update_stage(run_id, "a", status="succeeded", outputs={"x": ref})
        store.finish_run(run_id, "succeeded")
    return run_id, key


def checks(home: Path) -> dict[str, str]:
    return {f["check"]: f["severity"] for f in doctor.check(home)}


def test_a_healthy_store_has_no_findings(tmp_path: Path) -> None:
    recorded_run(tmp_path)
    assert doctor.check(tmp_path) == []


def test_a_store_with_no_runs_yet_has_no_findings(tmp_path: Path) -> None:
    assert doctor.check(tmp_path) == []


def test_a_file_in_the_store_s_place_is_a_problem(tmp_path: Path) -> None:
    home = tmp_path / ".mlops"
    home.write_text("x")
    (found,) = doctor.check(home)
    assert found["check"] == "store" and "is a file" in found["problem"]


def test_a_file_that_is_not_sqlite_is_a_problem_and_is_not_touched(tmp_path: Path) -> None:
    (tmp_path / "mlops.db").write_bytes(b"garbage" * 1000)
    (found,) = doctor.check(tmp_path)
    assert found["check"] == "database" and found["severity"] == "problem"
    assert "not a readable SQLite database" in found["problem"] and "mv " in found["fix"]
    assert (tmp_path / "mlops.db").read_bytes() == b"garbage" * 1000


def test_a_damaged_database_is_found_by_the_integrity_check(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        with store.transaction() as db:
            db.execute("CREATE TABLE filler (x TEXT)")
            db.executemany("INSERT INTO filler VALUES (?)", [("x" * 500,)] * 2000)
            db.execute("CREATE INDEX filler_x ON filler (x)")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database = tmp_path / "mlops.db"
    data = bytearray(database.read_bytes())
    page = 4096
    for offset in range(len(data) // 2 // page * page, len(data) - page, page * 3):
        data[offset + 100 : offset + 400] = b"\xff" * 300  # scribble over some pages
    database.write_bytes(bytes(data))
    (found,) = doctor.check(tmp_path)
    assert found["check"] == "database" and found["severity"] == "problem"


def test_a_value_a_run_names_that_is_gone_is_a_problem(tmp_path: Path) -> None:
    run_id, key = recorded_run(tmp_path)
    objects.object_path(tmp_path / "objects", key).unlink()
    (found,) = doctor.check(tmp_path)
    assert found["check"] == "objects" and found["severity"] == "problem"
    assert found["examples"] == [f"run {run_id} stage 'a': 1 missing"]


def test_orphans_and_dead_writers_temp_files_are_problems_gc_fixes(tmp_path: Path) -> None:
    recorded_run(tmp_path)
    objects.put(tmp_path / "objects", b"nobody's")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "objects" / f".put.pid{dead.pid}.abcd1234.tmp").write_bytes(b"half")
    assert checks(tmp_path) == {"orphans": "problem", "temp files": "problem"}
    assert all("mlops gc" in f["fix"] for f in doctor.check(tmp_path))


def test_a_run_folder_without_a_record_is_a_note(tmp_path: Path) -> None:
    run_id, _ = recorded_run(tmp_path)
    stray = tmp_path / "runs" / "20260101-000000-abcdef"
    shutil.copytree(tmp_path / "runs" / run_id, stray)
    os.utime(stray, (1, 1))
    assert checks(tmp_path) == {"run folders": "note"}
