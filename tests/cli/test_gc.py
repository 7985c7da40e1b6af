"""``mlops gc``, ``mlops runs rm`` and ``mlops doctor`` as a user runs them, on stores made by
real ``mlops run``s; and what runs killed outright leave behind, gone at the next start."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MLOPS
from .test_run import (
    SLOW_CELLS,
    MakeNotebook,
    Mlops,
    assert_clean_error,
    descendants,
    kill_all,
    run_json,
    start,
    statuses,
    wait_for_file,
    working_in,
)

# every stage reads the parameter, so each run computes (and stores) values of its own
CELLS = [
    (["parameters"], "n = 0"),
    (["stage:prep"], "data = [n] * 1000"),
    (["stage:train"], "total = sum(data)"),
    (["metrics"], "total"),
]


def objects_of(run: dict[str, object], home: Path) -> set[str]:
    """The object keys a run's stages handed on, as the store records them."""
    from mlops_jupyter.store.db import Store

    with Store(home) as store:
        return {
            ref["hash"]
            for outputs in store.stage_outputs(str(run["run_id"])).values()
            for ref in outputs.values()
        }


def stored(home: Path) -> set[str]:
    return {p.parent.name + p.name for p in (home / "objects").glob("??/*")}


def test_gc_keep_last_1_on_ten_runs_frees_what_only_the_other_nine_used(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CELLS)
    runs = []
    for n in range(10):
        result = mlops("run", nb, "-p", f"n={n}", "--json")
        assert result.returncode == 0, result.stderr
        runs.append(run_json(result))
    last = runs[-1]
    kept_objects = objects_of(last, home)
    before = stored(home)
    only_theirs = before - kept_objects
    assert len(kept_objects) == 1 and len(only_theirs) == 9  # one value a run, none shared

    collected = mlops("gc", "--keep-last", "1", "--json")
    assert collected.returncode == 0, collected.stderr
    found = json.loads(collected.stdout)
    assert [r["run_id"] for r in found["runs"]] == [r["run_id"] for r in reversed(runs[:-1])]
    assert found["objects"]["count"] == len(only_theirs)
    assert found["freed_bytes"] > found["objects"]["bytes"] > 0
    assert stored(home) == kept_objects
    for run in runs[:-1]:
        assert not (home / "runs" / run["run_id"]).exists()

    listed = mlops("runs", "--json")
    assert listed.returncode == 0, listed.stderr
    assert [r["run_id"] for r in json.loads(listed.stdout)] == [last["run_id"]]
    assert mlops("runs").returncode == 0
    assert run_json(mlops("show", "latest", "--json")) == last
    # the kept run's cache entries still serve; a removed run's are gone, so it computes anew
    again = run_json(mlops("run", nb, "-p", "n=9", "--json"))
    assert set(statuses(again).values()) == {"cached"}
    anew = run_json(mlops("run", nb, "-p", "n=3", "--json"))
    assert set(statuses(anew).values()) == {"succeeded"}
    assert anew["metrics"] == {"total": 3000}


def test_gc_prints_what_it_removes_and_frees_and_a_dry_run_removes_nothing(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CELLS)
    first = run_json(mlops("run", nb, "-p", "n=1", "--json"))
    assert mlops("run", nb, "-p", "n=2").returncode == 0
    before = stored(home)

    dry = mlops("gc", "--keep-last", "1", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"would remove run {first['run_id']}" in dry.stdout
    assert "would remove 1 run (" in dry.stdout and "1 unreferenced object (" in dry.stdout
    assert "would free" in dry.stdout
    assert stored(home) == before and len(json.loads(mlops("runs", "--json").stdout)) == 2

    done = mlops("gc", "--keep-last", "1")
    assert done.returncode == 0, done.stderr
    assert f"removed run {first['run_id']}" in done.stdout and "freed" in done.stdout
    assert mlops("gc", "--older-than", "30d").stdout.startswith("removed 0 runs")


def test_bad_gc_options_exit_2_with_one_paragraph(
    mlops: Mlops, make_notebook: MakeNotebook
) -> None:
    assert mlops("run", make_notebook(CELLS)).returncode == 0
    assert_clean_error(mlops("gc", "--older-than", "a month"), "a month", "30d")
    assert_clean_error(mlops("gc", "--keep-last", "-1"), "--keep-last")


def test_runs_rm_removes_a_run_and_what_only_it_used(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CELLS)
    gone = run_json(mlops("run", nb, "-p", "n=1", "--json"))
    kept = run_json(mlops("run", nb, "-p", "n=2", "--json"))
    removed = mlops("runs", "rm", gone["run_id"][:-2], "--json")  # a unique prefix will do
    assert removed.returncode == 0, removed.stderr
    found = json.loads(removed.stdout)
    assert [r["run_id"] for r in found["runs"]] == [gone["run_id"]]
    assert found["objects"]["count"] == 1
    assert [r["run_id"] for r in json.loads(mlops("runs", "--json").stdout)] == [kept["run_id"]]
    assert stored(home) == objects_of(kept, home)
    assert_clean_error(mlops("show", gone["run_id"]), "no run")
    assert_clean_error(mlops("runs", "rm", "nope"), "no run 'nope'")


def test_runs_rm_refuses_a_run_still_going(
    mlops: Mlops, make_notebook: MakeNotebook, tmp_path: Path
) -> None:
    process = start("run", make_notebook(SLOW_CELLS), cwd=tmp_path)
    helpers: set[int] = set()
    try:
        wait_for_file(tmp_path / "started", process)
        helpers = descendants(process.pid)
        refused = mlops("runs", "rm", "latest")
        assert_clean_error(refused, "is still running", "nothing was removed")
        kept = mlops("gc", "--keep-last", "0", "--json")
        assert kept.returncode == 0, kept.stderr
        assert json.loads(kept.stdout)["runs"] == []
        assert json.loads(mlops("runs", "--json").stdout)[0]["status"] == "running"
    finally:
        process.kill()
        process.communicate()
        kill_all(helpers | working_in(tmp_path))


def test_a_killed_run_s_kernel_folder_goes_at_the_next_run_start(
    mlops: Mlops, make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))  # this test's own temp folder, seen by mlops
    process = start("run", make_notebook(SLOW_CELLS), cwd=tmp_path)
    helpers: set[int] = set()
    try:
        wait_for_file(tmp_path / "started", process)
        helpers = descendants(process.pid)
        process.kill()  # SIGKILL: no cleanup of its own
        process.communicate(timeout=30)
    finally:
        kill_all(helpers | working_in(tmp_path))
    left = [p for p in temp.iterdir() if p.name.startswith("mlops-kernels-")]
    assert [p.name.split("-")[2] for p in left] == [str(process.pid)]

    report = json.loads(mlops("doctor", "--json").stdout)
    assert "kernel folders" in {f["check"] for f in report["findings"]}

    other = make_notebook([(["stage:a"], "x = 1")], name="other.ipynb")
    assert mlops("run", other).returncode == 0
    assert not left[0].exists()
    assert [p for p in temp.iterdir() if p.name.startswith("mlops-kernels-")] == []


def test_a_killed_writer_s_temp_file_goes_at_the_next_run_start(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CELLS)
    assert mlops("run", nb, "-p", "n=1").returncode == 0
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    left = home / "objects" / f".put.pid{dead.pid}.abcd1234.tmp"
    left.write_bytes(b"x" * 100_000)  # what a stage killed while saving a value leaves
    assert mlops("run", nb, "-p", "n=2").returncode == 0
    assert not left.exists()


def test_a_cached_run_says_it_was_cached_not_that_it_succeeded_in_no_time(
    mlops: Mlops, make_notebook: MakeNotebook
) -> None:
    nb = make_notebook(CELLS)
    first = mlops("run", nb)
    assert " succeeded in " in first.stdout and "(2 succeeded)" in first.stdout
    again = mlops("run", nb)
    assert again.returncode == 0
    head = again.stdout.splitlines()[0]
    assert "cached (all 2 stages) in " in head and "succeeded" not in head
    assert "in 0.0s" not in head


def test_a_file_in_the_store_s_place_exits_2_naming_it(
    make_notebook: MakeNotebook, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    nb = make_notebook(CELLS)
    (tmp_path / ".git").mkdir()
    store = tmp_path / ".mlops"
    store.write_text("someone's file")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [MLOPS, *args], capture_output=True, text=True, cwd=tmp_path, timeout=120
        )

    for args in (("run", str(nb)), ("runs",), ("show", "latest"), ("gc",)):
        assert_clean_error(run(*args), f"{store} is a file", "MLOPS_HOME")
    doctor = run("doctor")
    assert doctor.returncode == 1 and "is a file" in doctor.stdout
    assert store.read_text() == "someone's file"


def test_a_database_that_is_not_one_exits_2_and_doctor_says_what_to_do(
    mlops: Mlops, make_notebook: MakeNotebook, home: Path
) -> None:
    nb = make_notebook(CELLS)
    assert mlops("run", nb).returncode == 0
    assert mlops("doctor").returncode == 0
    assert "healthy" in mlops("doctor").stdout
    database = home / "mlops.db"
    for suffix in ("-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    database.write_bytes(b"not sqlite at all " * 1000)

    for args in (("run", nb), ("runs",), ("show", "latest"), ("gc", "--keep-last", "1")):
        assert_clean_error(mlops(*args), f"{database} is not a readable mlops database", "mv ")
    doctor = mlops("doctor", "--json")
    assert doctor.returncode == 1
    report = json.loads(doctor.stdout)
    assert not report["healthy"] and report["findings"][0]["check"] == "database"
    assert database.read_bytes() == b"not sqlite at all " * 1000
    assert os.path.isdir(home / "runs")


def test_a_database_damaged_deep_inside_exits_2_pointing_at_doctor(
    mlops: Mlops, home: Path
) -> None:
    from mlops_jupyter.store.db import Store

    with Store(home) as store:  # enough runs for the runs table to span many pages
        for _ in range(300):
            run_id, _ = store.start_run(
                pipeline="p" * 200,
                version="v",
                notebook=None,
                compiled="c",
                parameters={"x": ("y" * 500, "str")},
                stages=["a"],
                environment={"pad": "z" * 1000},
            )
            store.finish_run(run_id, "succeeded")
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    database = home / "mlops.db"
    data = bytearray(database.read_bytes())
    for offset in range(8 * 4096, len(data) - 4096, 2 * 4096):  # the header page stays whole
        data[offset : offset + 4096] = b"\xee" * 4096
    database.write_bytes(bytes(data))

    # found when the store opens ("not a readable mlops database") or when the damaged pages are
    # read ("cannot be read"), depending on where the damage falls: one clear paragraph either way
    result = mlops("runs")
    assert_clean_error(result, str(database), "mlops doctor")
    assert "cannot be read" in result.stderr or "not a readable" in result.stderr
    doctor = mlops("doctor")
    assert doctor.returncode == 1
    assert f"mv {database} {database}.broken" in doctor.stdout
