"""``mlops gc`` and ``mlops runs rm`` (:mod:`mlops_jupyter.store.gc`) on a real store.

What is kept: runs the policy does not select, runs still going, runs a kept run's cached stages
came from, and every object a kept run or cache entry names (or written since gc began).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.store import gc, objects
from mlops_jupyter.store.db import Store

DAY = 86400


@pytest.fixture
def store(tmp_path: Path) -> Any:
    with Store(tmp_path / "home") as opened:
        yield opened


def ref(key: str) -> dict[str, Any]:
    return {"hash": key, "format": "pickle", "type": "int", "size": 1}


def age(path: Path, seconds: float) -> None:
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def finished_run(
    store: Store,
    value: bytes,
    *,
    started: float | None = None,
    status: str = "succeeded",
    origin: str = "cli",
) -> tuple[str, str]:
    """A run whose one stage computed ``value`` and stored it in the cache: ``(id, object)``."""
    run_id, run_dir = store.start_run(
        pipeline="demo",
        version="v1",
        notebook="/project/demo.ipynb",
        compiled="/project/.mlops/pipelines/demo/v1",
        parameters={"n": (len(value), "int")},
        stages=["a"],
        environment={},
        origin=origin,
    )
    key = objects.put(store.objects, value)
    (run_dir / "a.ipynb").write_text("{}")
    store.update_stage(
        run_id,
        "a",
        status="succeeded",
        cache_key=f"key-{run_id}",
        notebook=str(run_dir / "a.ipynb"),
        outputs={"x": ref(key)},
    )
    store.add_metrics(run_id, "a", [("loss", 1, 0.5)])
    store.cache_put(f"key-{run_id}", "demo", "a", {"x": ref(key)}, {}, run_id)
    if status != "running":
        store.finish_run(run_id, status)
    if started is not None:
        with store.transaction() as db:
            db.execute("UPDATE runs SET started_at = ? WHERE id = ?", (started, run_id))
    return run_id, key


def run_ids(store: Store) -> list[str]:
    return [r["run_id"] for r in store.list_runs(limit=100)]


def test_plain_gc_removes_no_run_only_objects_nothing_refers_to(store: Store) -> None:
    run_id, used = finished_run(store, b"run value")
    orphan = objects.put(store.objects, b"orphan value")

    found = gc.collect(store)
    assert found["runs"] == [] and run_ids(store) == [run_id]
    assert found["objects"] == {"count": 1, "bytes": len(b"orphan value")}
    assert not objects.exists(store.objects, orphan)
    assert objects.exists(store.objects, used)
    assert gc.collect(store)["objects"]["count"] == 0


def test_keep_last_removes_older_runs_their_folders_cache_entries_and_values_only_they_used(
    store: Store,
) -> None:
    shared = objects.put(store.objects, b"shared")
    made = [finished_run(store, f"value {i}".encode(), started=1000.0 + i) for i in range(3)]
    for run_id, _ in made:  # each also names the shared value, as an artifact
        store.add_artifact(run_id, "a", "model", "file", shared, "/project/model.pkl", 6)
    (old, old_value), (older, older_value), (newest, newest_value) = made[1], made[0], made[2]

    found = gc.collect(store, keep_last=1)
    assert [r["run_id"] for r in found["runs"]] == [old, older]  # newest first
    assert found["objects"]["count"] == 2
    assert found["run_folders"]["count"] == 2 and found["run_folders"]["bytes"] == 4
    assert found["freed_bytes"] == (
        len(b"value 0") + len(b"value 1") + found["run_folders"]["bytes"]
    )
    assert run_ids(store) == [newest]
    assert not (store.runs_dir / old).exists() and (store.runs_dir / newest).is_dir()
    for key in (old_value, older_value):
        assert not objects.exists(store.objects, key)
    for key in (newest_value, shared):
        assert objects.exists(store.objects, key)
    assert store.cache_get(f"key-{old}") is None
    assert store.cache_get(f"key-{newest}") is not None
    rows = store.db.execute("SELECT COUNT(*) FROM metrics WHERE run_id != ?", (newest,))
    assert rows.fetchone()[0] == 0
    assert store.get_run(newest)["metrics"] == {"loss": 0.5}


def test_a_dry_run_says_the_same_and_removes_nothing(store: Store) -> None:
    made = [finished_run(store, f"value {i}".encode(), started=1000.0 + i) for i in range(3)]
    would = gc.collect(store, keep_last=1, dry_run=True)
    assert would["dry_run"] and len(would["runs"]) == 2 and would["objects"]["count"] == 2
    assert len(run_ids(store)) == 3
    assert all(objects.exists(store.objects, key) for _, key in made)
    done = gc.collect(store, keep_last=1)
    assert {**would, "dry_run": False} == done


def test_older_than_removes_old_runs_and_with_keep_last_only_what_both_select(
    store: Store,
) -> None:
    now = time.time()
    ancient, _ = finished_run(store, b"a", started=now - 40 * DAY)
    old, _ = finished_run(store, b"b", started=now - 31 * DAY)
    recent, _ = finished_run(store, b"c", started=now - 2 * DAY)

    assert [r["run_id"] for r in gc.collect(store, older_than=30 * DAY, dry_run=True)["runs"]] == [
        old,
        ancient,
    ]
    # keep the newest 2 *and* everything from the last 30 days: only the oldest goes
    found = gc.collect(store, keep_last=2, older_than=30 * DAY)
    assert [r["run_id"] for r in found["runs"]] == [ancient]
    assert run_ids(store) == [recent, old]


def test_a_run_still_going_is_never_removed_and_runs_rm_refuses_it(store: Store) -> None:
    going, value = finished_run(store, b"in progress", started=1000.0, status="running")
    finished_run(store, b"done")

    found = gc.collect(store, keep_last=0)
    assert found["kept"] == [
        {"run_id": going, "reason": f"still running (pid {os.getpid()} on {os.uname().nodename})"}
    ]
    assert run_ids(store) == [going]
    assert objects.exists(store.objects, value)
    with pytest.raises(MlopsError, match=f"run {going} is still running.*nothing was removed"):
        gc.collect(store, runs=[going])
    assert run_ids(store) == [going]


def test_a_value_written_while_a_run_is_going_is_kept_before_any_record_names_it(
    store: Store,
) -> None:
    finished_run(store, b"going", status="running")
    being_saved = objects.put(store.objects, b"a stage's value, not yet in its record")
    assert gc.collect(store)["objects"]["count"] == 0
    assert objects.exists(store.objects, being_saved)


def test_while_a_pipeline_run_is_going_removed_runs_values_wait_for_the_next_gc(
    store: Store,
) -> None:
    old, value = finished_run(store, b"old", started=1000.0)
    going, _ = finished_run(store, b"going", status="running")
    found = gc.collect(store, runs=[old])
    assert [r["run_id"] for r in found["runs"]] == [old]
    assert objects.exists(store.objects, value)  # the going run may have just hit its entry
    store.finish_run(going, "succeeded")
    assert gc.collect(store)["objects"]["count"] == 1
    assert not objects.exists(store.objects, value)


def test_an_interactive_run_open_for_hours_holds_nothing_back(store: Store) -> None:
    finished_run(
        store, b"notebook", started=time.time() - 5 * 3600, status="running", origin="interactive"
    )
    old, value = finished_run(store, b"old", started=1000.0)
    orphan = objects.put(store.objects, b"orphan")
    found = gc.collect(store, runs=[old])
    assert found["objects"]["count"] == 2
    assert not objects.exists(store.objects, value) and not objects.exists(store.objects, orphan)


def test_a_run_whose_process_died_is_not_still_going(store: Store) -> None:
    run_id, _ = finished_run(store, b"killed", status="running")
    with store.transaction() as db:
        db.execute("UPDATE runs SET pid = ? WHERE id = ?", (dead_pid(), run_id))
    found = gc.collect(store, keep_last=0)
    assert [r["run_id"] for r in found["runs"]] == [run_id]
    assert found["runs"][0]["status"] == "interrupted"


def test_a_run_whose_cached_stage_a_kept_run_reuses_is_kept(store: Store) -> None:
    source, value = finished_run(store, b"computed once", started=1000.0)
    other, _ = finished_run(store, b"unrelated", started=1001.0)
    reuser, _ = store.start_run(
        pipeline="demo",
        version="v1",
        notebook="/project/demo.ipynb",
        compiled="c",
        parameters={},
        stages=["a"],
        environment={},
    )
    store.update_stage(  # what the runner records for a cache hit
        reuser,
        "a",
        status="cached",
        cache_key=f"key-{source}",
        notebook=str(store.runs_dir / source / "a.ipynb"),
        outputs={"x": ref(value)},
    )
    store.finish_run(reuser, "succeeded")

    found = gc.collect(store, keep_last=1)
    assert [r["run_id"] for r in found["runs"]] == [other]
    assert found["kept"] == [
        {"run_id": source, "reason": f"kept run {reuser} reuses its cached stage 'a'"}
    ]
    assert (store.runs_dir / source / "a.ipynb").is_file()
    assert store.cache_get(f"key-{source}") is not None


def test_runs_rm_removes_the_runs_named_and_only_the_store_s_own_folder(
    store: Store, tmp_path: Path
) -> None:
    gone, value = finished_run(store, b"to remove")
    kept, kept_value = finished_run(store, b"to keep")
    elsewhere = tmp_path / "the user's folder"
    elsewhere.mkdir()
    (elsewhere / "notes.txt").write_text("mine")
    with store.transaction() as db:  # a database copied from another project names its folders
        db.execute("UPDATE runs SET run_dir = ? WHERE id = ?", (str(elsewhere), gone))

    found = gc.collect(store, runs=[gone])
    assert [r["run_id"] for r in found["runs"]] == [gone]
    assert run_ids(store) == [kept]
    assert not (store.runs_dir / gone).exists()
    assert (elsewhere / "notes.txt").read_text() == "mine"
    assert not objects.exists(store.objects, value)
    assert objects.exists(store.objects, kept_value)


def test_a_folder_in_runs_with_no_record_is_left_alone(store: Store) -> None:
    stray = store.runs_dir / "20260101-000000-abcdef"
    stray.mkdir(parents=True)
    (stray / "train.ipynb").write_text("{}")
    finished_run(store, b"x")
    gc.collect(store, keep_last=0)
    assert (stray / "train.ipynb").is_file()


def test_temp_files_of_dead_writers_go_at_once_an_older_version_s_after_an_hour(
    store: Store,
) -> None:
    finished_run(store, b"x")
    dead = store.objects / f".put.pid{dead_pid()}.abcd1234.tmp"
    live = store.objects / f".put.pid{os.getpid()}.abcd1234.tmp"
    legacy_old = store.objects / "ab" / ".cdef.123.tmp"
    legacy_new = store.objects / "ab" / ".cdef.456.tmp"
    legacy_old.parent.mkdir(parents=True, exist_ok=True)
    for path in (dead, live, legacy_old, legacy_new):
        path.write_bytes(b"half")
    age(legacy_old, gc.GRACE_SECONDS + 60)

    found = gc.collect(store)
    assert found["temp_files"] == {"count": 2, "bytes": 8}
    assert found["objects"]["count"] == 0
    assert not dead.exists() and not legacy_old.exists()
    assert live.exists() and legacy_new.exists()


def test_a_store_without_objects_frees_nothing(store: Store) -> None:
    found = gc.collect(store)
    assert found["freed_bytes"] == 0 and found["runs"] == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30d", 30 * DAY), ("12h", 43200), ("90m", 5400), ("2w", 14 * DAY), ("45s", 45), ("10", 10)],
)
def test_an_age_is_a_number_and_a_unit(text: str, seconds: float) -> None:
    assert gc.parse_age(text) == seconds


@pytest.mark.parametrize("text", ["", "d", "thirty days", "-1d", "nan", "inf", "1y"])
def test_a_bad_age_says_how_to_write_one(text: str) -> None:
    with pytest.raises(MlopsError, match="30d, 12h"):
        gc.parse_age(text)
