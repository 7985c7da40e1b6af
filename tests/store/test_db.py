"""The run store: SQLite in WAL mode with a versioned schema, written by several processes at once.

``mlops gc`` and ``mlops runs rm`` are in ``test_gc.py``.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.store import objects, schema
from mlops_jupyter.store.db import Store, new_run_id
from mlops_jupyter.store.schema import MIGRATIONS

ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\Z")
TABLES = {
    "pipelines",
    "runs",
    "stage_runs",
    "params",
    "metrics",
    "data_versions",
    "artifacts",
    "cache",
}


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "home") as opened:
        yield opened


def start(store: Store, stages: tuple[str, ...] = ("a", "b"), **overrides: Any) -> str:
    fields: dict[str, Any] = {
        "pipeline": "demo",
        "version": "v1",
        "notebook": "/project/demo.ipynb",
        "compiled": "/project/.mlops/pipelines/demo/v1",
        "parameters": {"n": (3, "int"), "lr": (0.5, "float"), "tags": (["x"], "list")},
        "stages": stages,
        "environment": {"python": "CPython 3.11", "git_commit": "abc123", "git_dirty": True},
    }
    fields.update(overrides)
    run_id, run_dir = store.start_run(**fields)
    assert run_dir.is_dir()
    return run_id


def ref(key: str) -> dict[str, Any]:
    return {"hash": key, "format": "pickle", "type": "int", "size": 1}


def python(script: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(script), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finished(process: subprocess.Popen[str]) -> str:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    return out.strip()


# -- schema


def test_a_new_store_has_the_current_schema_in_wal_mode(tmp_path: Path) -> None:
    with Store(tmp_path / "home") as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            r[0] for r in store.db.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert tables >= TABLES
    assert (tmp_path / "home" / "mlops.db").is_file()


def test_reopening_a_store_keeps_its_records(tmp_path: Path) -> None:
    with Store(tmp_path) as store:
        run_id = start(store)
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert store.get_run(run_id)["pipeline"] == "demo"


def test_a_new_migration_upgrades_an_existing_store_and_keeps_its_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with Store(tmp_path) as store:
        run_id = start(store)
    monkeypatch.setattr(schema, "MIGRATIONS", [*MIGRATIONS, "CREATE TABLE extra (x INTEGER); "])
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS) + 1
        store.db.execute("INSERT INTO extra VALUES (1)")
        assert store.get_run(run_id)["run_id"] == run_id


def test_a_store_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    Store(tmp_path).close()
    db = sqlite3.connect(tmp_path / "mlops.db")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(MlopsError, match="newer mlops-jupyter"):
        Store(tmp_path)


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute(
            "INSERT INTO pipelines VALUES ('p', 'v', NULL, '/p', ?)",
            (time.time(),),
        )
        raise RuntimeError("half way")
    assert store.db.execute("SELECT COUNT(*) FROM pipelines").fetchone()[0] == 0
    store.add_pipeline("p", "v", None, "/p")  # the connection is usable afterwards
    assert store.db.execute("SELECT COUNT(*) FROM pipelines").fetchone()[0] == 1


def test_opening_a_new_store_waits_while_another_process_is_creating_it(tmp_path: Path) -> None:
    creator = sqlite3.connect(tmp_path / "mlops.db", isolation_level=None, check_same_thread=False)
    creator.execute("BEGIN IMMEDIATE")
    creator.execute("CREATE TABLE half_made (x)")
    threading.Timer(0.5, creator.execute, ("COMMIT",)).start()
    try:
        Store(tmp_path).close()
    finally:
        time.sleep(0.6)
        creator.close()


# -- runs


def test_a_run_reads_back_as_the_run_json_object(store: Store) -> None:
    run_id = start(store, stages=("load", "train", "report"))
    store.update_stage(run_id, "load", status="running", started_at=100.0)
    store.update_stage(
        run_id,
        "load",
        status="succeeded",
        ended_at=101.2345,
        duration_s=1.2345,
        notebook="/runs/x/load.ipynb",
        outputs={"x": ref("k1")},
        attempts=1,
    )
    store.update_stage(run_id, "train", status="failed", error="stage 'train' failed: boom")
    store.add_metrics(run_id, "train", [("acc", None, 0.5), ("loss", 1, 2.0)])
    store.add_metrics(run_id, "train", [("acc", None, 0.75)])
    store.finish_run(run_id, "failed")

    run = store.get_run(run_id)
    assert run["run_id"] == run_id
    assert run["status"] == "failed"
    assert (run["pipeline"], run["version"]) == ("demo", "v1")
    assert run["parameters"] == {"n": 3, "lr": 0.5, "tags": ["x"]}
    assert run["metrics"] == {"acc": 0.75, "loss": 2.0}  # the last value of each key
    assert [s["name"] for s in run["stages"]] == ["load", "train", "report"]
    load, train, report = run["stages"]
    assert load["status"] == "succeeded"
    assert ISO.match(load["started_at"]) and ISO.match(load["ended_at"])
    assert load["started_at"] < load["ended_at"]
    assert load["duration_s"] == 1.234 or load["duration_s"] == 1.235
    assert load["notebook"] == "/runs/x/load.ipynb"
    assert load["error"] is None
    assert train["status"] == "failed" and train["error"] == "stage 'train' failed: boom"
    assert report["status"] == "skipped"  # never reached: the run ended without it
    assert report["started_at"] is None and report["notebook"] is None
    assert ISO.match(run["started_at"]) and ISO.match(run["ended_at"])
    assert run["duration_s"] >= 0
    assert run["code"] == {"git_commit": "abc123", "git_dirty": True}
    assert run["environment"]["python"] == "CPython 3.11"
    assert run["notebook"] == "/project/demo.ipynb"
    assert Path(run["run_dir"]).name == run_id
    json.dumps(run)  # plain data all the way down


def test_a_succeeded_run_leaves_stage_states_as_they_were(store: Store) -> None:
    run_id = start(store)
    store.update_stage(run_id, "a", status="cached")
    store.update_stage(run_id, "b", status="succeeded")
    store.finish_run(run_id, "succeeded")
    assert [s["status"] for s in store.get_run(run_id)["stages"]] == ["cached", "succeeded"]


def test_run_ids_sort_by_time_and_are_unique() -> None:
    ids = [new_run_id() for _ in range(200)]
    assert len(set(ids)) == len(ids)
    assert re.fullmatch(r"\d{8}-\d{6}-[0-9a-f]{6}", ids[0])


def test_runs_are_listed_newest_first(store: Store) -> None:
    first = start(store)
    second = start(store, pipeline="other")
    third = start(store)
    assert [r["run_id"] for r in store.list_runs()] == [third, second, first]
    assert [r["run_id"] for r in store.list_runs(limit=2)] == [third, second]
    assert [r["run_id"] for r in store.list_runs(notebook="/project/demo.ipynb")] == [
        third,
        second,
        first,
    ]
    assert store.list_runs(notebook="/elsewhere.ipynb") == []


def test_a_run_is_found_by_id_unique_prefix_or_latest(store: Store) -> None:
    with pytest.raises(MlopsError, match="no runs yet"):
        store.resolve_run("latest")
    first = start(store)
    second = start(store)
    assert store.resolve_run("latest") == second
    assert store.resolve_run(first) == first
    unique = next(first[:i] for i in range(1, len(first) + 1) if not second.startswith(first[:i]))
    assert store.resolve_run(unique) == first
    with pytest.raises(MlopsError, match="matches several runs"):
        store.resolve_run(unique[:-1])  # the part both ids share
    with pytest.raises(MlopsError, match="no run 'nope'"):
        store.resolve_run("nope")
    with pytest.raises(MlopsError, match="no run"):
        store.get_run("nope")


DIES_WHILE_RUNNING = """
    import sys
    from mlops_jupyter.store.db import Store
    store = Store(sys.argv[1])
    run_id, _ = store.start_run(
        pipeline="demo", version="v1", notebook=None, compiled="c", parameters={},
        stages=["a", "b"], environment={},
    )
    store.update_stage(run_id, "a", status="running", started_at=1.0)
    print(run_id)
"""


def test_a_run_whose_process_is_gone_reads_back_as_interrupted(tmp_path: Path) -> None:
    Store(tmp_path).close()
    run_id = finished(python(DIES_WHILE_RUNNING, str(tmp_path)))
    with Store(tmp_path) as store:
        run = store.get_run(run_id)
        assert run["status"] == "interrupted"
        assert "gone" in run["error"]
        assert run["ended_at"] is not None
        assert run["stages"][1]["status"] == "skipped"
        assert [r["status"] for r in store.list_runs()] == ["interrupted"]


def test_a_run_whose_process_is_gone_leaves_no_stage_running(tmp_path: Path) -> None:
    Store(tmp_path).close()
    run_id = finished(python(DIES_WHILE_RUNNING, str(tmp_path)))
    with Store(tmp_path) as store:
        stages = store.get_run(run_id)["stages"]
    assert [s["status"] for s in stages] == ["failed", "skipped"]


def test_a_live_run_is_not_reaped(store: Store) -> None:
    run_id = start(store)  # recorded with this (live) process's pid
    assert store.get_run(run_id)["status"] == "running"


def test_a_run_on_another_host_is_not_reaped(store: Store) -> None:
    run_id = start(store)
    with store.transaction() as db:
        db.execute(
            "UPDATE runs SET host = ?, pid = ? WHERE id = ?", ("elsewhere", 2**22 + 7, run_id)
        )
    assert socket.gethostname() != "elsewhere"
    assert store.get_run(run_id)["status"] == "running"


WRITER = """
    import sys, time
    from mlops_jupyter.store.db import Store
    home, label = sys.argv[1], sys.argv[2]
    stages = [f"s{i}" for i in range(40)]
    with Store(home) as store:
        run_id, _ = store.start_run(
            pipeline=label, version="v", notebook=None, compiled="c",
            parameters={"who": (label, "str")}, stages=stages, environment={},
        )
        for i, stage in enumerate(stages):
            store.update_stage(run_id, stage, status="running", started_at=time.time())
            store.update_stage(
                run_id, stage, status="succeeded", ended_at=time.time(), duration_s=0.0,
                outputs={"v": {"hash": f"{label}{i:038d}", "format": "pickle"}},
            )
            store.add_metrics(run_id, stage, [("step", i, float(i))])
            store.cache_put(f"{label}-{i}", label, stage, {}, {}, run_id)
        store.finish_run(run_id, "succeeded")
    print(run_id)
"""


def test_runs_written_by_several_processes_at_once_all_land_whole(tmp_path: Path) -> None:
    Store(tmp_path).close()  # created up front: see the xfail test on opening a new store
    writers = [python(WRITER, str(tmp_path), label) for label in ("red", "green", "blue")]
    run_ids = [finished(w) for w in writers]
    with Store(tmp_path) as store:
        assert {r["run_id"] for r in store.list_runs()} == set(run_ids)
        for run_id, label in zip(run_ids, ("red", "green", "blue"), strict=True):
            run = store.get_run(run_id)
            assert run["status"] == "succeeded"
            assert run["parameters"] == {"who": label}
            assert len(run["stages"]) == 40
            assert {s["status"] for s in run["stages"]} == {"succeeded"}
            assert run["metrics"] == {"step": 39.0}
        assert store.db.execute("SELECT COUNT(*) FROM cache").fetchone()[0] == 120
        assert store.db.execute("SELECT COUNT(*) FROM metrics").fetchone()[0] == 120


# -- the cache


def test_a_cache_entry_returns_its_outputs_and_metrics(store: Store) -> None:
    key = objects.put(store.objects, b"value")
    store.cache_put("k", "demo", "a", {"x": ref(key)}, {"acc": 0.5}, "run-1")
    assert store.cache_get("k") == {"outputs": {"x": ref(key)}, "metrics": {"acc": 0.5}}
    assert store.cache_get("other") is None


def test_a_cache_entry_whose_object_is_gone_is_a_miss(store: Store) -> None:
    key = objects.put(store.objects, b"value")
    store.cache_put("k", "demo", "a", {"x": ref(key)}, {}, "run-1")
    objects.object_path(store.objects, key).unlink()
    assert store.cache_get("k") is None


def test_outputs_for_a_key_come_only_from_an_execution_under_that_very_key(store: Store) -> None:
    stored = {name: objects.put(store.objects, name.encode()) for name in ("old", "new", "gone")}
    assert store.outputs_for_key("a", "base", "key") is None
    for status, base, key, value, ended in [
        ("succeeded", "base", "key", "old", 1.0),
        ("cached", "base", "key", "new", 2.0),
        ("failed", "base", "key", "broken", 3.0),
        ("succeeded", "base", "other data", "theirs", 4.0),  # same base, other tracked files
        ("succeeded", "other", "key", "theirs", 5.0),
    ]:
        run_id = start(store)
        store.update_stage(
            run_id,
            "a",
            status=status,
            ended_at=ended,
            base_key=base,
            cache_key=key,
            notebook=f"/runs/{value}/a.ipynb",
            outputs={"x": ref(stored.get(value, value))},
        )
    found = store.outputs_for_key("a", "base", "key")
    assert found is not None
    assert found["outputs"] == {"x": ref(stored["new"])}
    assert found["notebook"] == "/runs/new/a.ipynb" and found["run_id"]
    assert store.outputs_for_key("b", "base", "key") is None

    # a value collected since is no answer: the stage runs instead
    objects.object_path(store.objects, stored["new"]).unlink()
    assert store.outputs_for_key("a", "base", "key") is None


def test_a_reaped_run_ends_at_its_last_recorded_event_not_when_it_was_read(
    tmp_path: Path,
) -> None:
    Store(tmp_path).close()
    run_id = finished(python(DIES_WHILE_RUNNING, str(tmp_path)))
    now = time.time()
    with Store(tmp_path) as store, store.transaction() as db:  # it began 100 s ago...
        db.execute("UPDATE runs SET started_at = ? WHERE id = ?", (now - 100, run_id))
        db.execute("UPDATE stage_runs SET started_at = ? WHERE run_id = ?", (now - 90, run_id))
        # ...and last logged a metric 40 s ago, then its process was killed
        db.execute("INSERT INTO metrics VALUES (?, 'a', 'loss', 1, 0.5, ?)", (run_id, now - 40))
    with Store(tmp_path) as store:
        run = store.get_run(run_id)
    assert run["status"] == "interrupted"
    assert run["duration_s"] == pytest.approx(60, abs=0.01)


def test_a_file_where_the_store_should_be_is_a_clear_error(tmp_path: Path) -> None:
    home = tmp_path / ".mlops"
    home.write_text("not a folder")
    with pytest.raises(MlopsError) as caught:
        Store(home)
    assert f"{home} is a file" in str(caught.value)
    assert "MLOPS_HOME" in str(caught.value)
    assert home.read_text() == "not a folder"  # never touched


def test_a_database_that_is_not_sqlite_is_a_clear_error_and_is_left_as_it_is(
    tmp_path: Path,
) -> None:
    database = tmp_path / "mlops.db"
    database.write_bytes(b"these are the user's notes, not a database" * 100)
    before = database.read_bytes()
    with pytest.raises(MlopsError) as caught:
        Store(tmp_path)
    message = str(caught.value)
    assert f"{database} is not a readable mlops database" in message
    assert f"mv {database} {database}.broken" in message and "mlops doctor" in message
    assert database.read_bytes() == before


def test_starting_a_run_removes_the_temp_files_of_writers_that_were_killed(store: Store) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = store.objects / f".put.pid{dead.pid}.k3x9q2zz.tmp"
    left.parent.mkdir(parents=True)
    left.write_bytes(b"half a value")
    writing = store.objects / f".put.pid{os.getpid()}.abcdefgh.tmp"  # this process: still going
    writing.write_bytes(b"being written")
    start(store)
    assert not left.exists()
    assert writing.exists()


def test_schema_4_adds_schedules_and_a_run_s_trigger_to_an_older_store(tmp_path: Path) -> None:
    import sqlite3

    old = sqlite3.connect(tmp_path / "mlops.db")  # a store written before schedules (schema 3)
    for migration in MIGRATIONS[:3]:
        old.executescript(migration)
    old.execute("PRAGMA user_version = 3")
    old.execute(
        "INSERT INTO runs (id, pipeline, version, status, started_at, ended_at, host, pid)"
        " VALUES ('r1', 'demo', 'v1', 'succeeded', 1, 2, 'h', 1)"
    )
    old.commit()
    old.close()
    old_run = "r1"
    with Store(tmp_path) as store:
        assert store.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        run = store.get_run(old_run)
        assert (run["trigger"], run["schedule"], run["scheduled_for"]) == ("manual", None, None)
        fired, _ = store.start_run(
            pipeline="demo",
            version="v1",
            notebook=None,
            compiled="c",
            parameters={},
            stages=["a"],
            environment={},
            trigger="schedule",
            schedule="nightly",
            scheduled_for=1_800_000_000.0,
        )
        run = store.get_run(fired)
        assert (run["trigger"], run["schedule"], run["scheduled_for"]) == (
            "schedule",
            "nightly",
            "2027-01-15T08:00:00.000Z",
        )
        tables = {r[0] for r in store.db.execute("SELECT name FROM sqlite_master")}
        assert {"schedules", "fires"} <= tables


def test_the_latest_run_of_a_pipeline_prefers_the_version_asked_for(tmp_path: Path) -> None:
    with Store(tmp_path / ".mlops") as store:
        assert store.latest_run_id("train", "v1") is None
        old = start(store, pipeline="train", version="v1")
        time.sleep(0.01)
        new = start(store, pipeline="train", version="v2")
        start(store, pipeline="other", version="v1")
        assert store.latest_run_id("train", "v1") == old, "that version's, though older"
        assert store.latest_run_id("train", "v3") == new, "none of v3: the newest"
        assert store.latest_run_id("train") == new
