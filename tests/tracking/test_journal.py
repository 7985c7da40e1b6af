"""The journal a stage on a remote worker writes instead of ``mlops.db``, and its replay into the
store by the run's process (the end-to-end case, on real Dask workers, is in
tests/runner/test_dask.py)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from mlops_jupyter.store.db import Store
from mlops_jupyter.tracking import datasets, journal


def _run(store: Store) -> str:
    run_id, _ = store.start_run(
        pipeline="p",
        version="v1",
        notebook=None,
        compiled="",
        parameters={"n": (3, "int")},
        stages=["a", "b"],
        environment={},
    )
    return run_id


def test_what_the_journal_records_replays_as_the_kernel_would_have_written_it(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "home")
    run_id = _run(store)
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")

    local_home = tmp_path / "local"
    local = Store(local_home)
    local_run = _run(local)

    path = tmp_path / "worker" / "journal.jsonl"
    path.parent.mkdir()
    path.with_name(path.name + journal.KNOWN_SUFFIX).write_text(
        json.dumps(journal.known(store, run_id, [str(data)]))
    )
    on_worker = journal.Journal(path, str(store.objects))
    for sink, run in ((on_worker, run_id), (local, local_run)):
        sink.add_metric_rows(
            [(run, "a", "loss", 0, 0.5, 1.0), (run, "a", "loss", 1, math.nan, 2.0)]
        )
        assert sink.add_param(run, "a", "alpha", [1, 2], "list") is None
        datasets.track(sink, data, run_id=run, stage="a")  # type: ignore[arg-type]
    assert journal.replay(store, run_id, "a", journal.read(path)) == []

    def recorded(s: Store, run: str) -> tuple[object, ...]:
        series = s.metric_series(run, ["loss"])["loss"]
        return (
            [(p["step"], p["value"], p["stage"]) for p in series],
            s.run_params(run),
            [(v["path"], v["hash"], v["new"], v["rows"]) for v in s.data_versions(run_id=run)],
        )

    got, want = recorded(store, run_id), recorded(local, local_run)
    assert str(got) == str(want)  # NaN == NaN only as text
    assert got[1] == {"n": (3, None), "alpha": ([1, 2], "a")}


def test_the_journal_answers_reads_from_what_the_run_sent_and_what_it_recorded_since(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "home")
    run_id = _run(store)
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    datasets.track(store, data, run_id=run_id, stage="a")
    path = tmp_path / "journal.jsonl"
    path.with_name(path.name + journal.KNOWN_SUFFIX).write_text(
        json.dumps(journal.known(store, run_id, [str(data)]))
    )
    sink = journal.Journal(path, str(store.objects))
    # the run's parameter, as the store would answer
    assert sink.add_param(run_id, "b", "n", 4, "int") == (3, None)
    assert sink.add_param(run_id, "b", "n", 3, "int") is None
    # the file changed since the version the run knows: changed, as a local stage would see
    data.write_text("x\n1\n2\n")
    version = datasets.track(sink, data, run_id=run_id, stage="b")  # type: ignore[arg-type]
    assert (version.new, version.changed) == (False, True)
    again = datasets.track(sink, data, run_id=run_id, stage="b")  # type: ignore[arg-type]
    assert (again.new, again.changed) == (False, False)
    # a clash only the replay can see (another stage set it meanwhile) is said as the kernel says it
    sink.add_param(run_id, "b", "seed", 1, "int")
    store.add_param(run_id, "c", "seed", 2, "int")
    problems = journal.replay(store, run_id, "b", journal.read(path))
    assert problems == [
        f"parameter 'seed' of run {run_id} is already 2 (from stage 'c'); a run keeps one value "
        "per parameter: log 1 under another name."
    ]
    assert store.run_params(run_id)["seed"] == (2, "c")


def test_a_line_cut_short_by_a_killed_kernel_is_left_out_and_the_rest_replays(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.jsonl"
    sink = journal.Journal(path, str(tmp_path / "objects"))
    sink.add_metric_rows([("r", "s", "loss", None, 1.0, 1.0)])
    with open(path, "a") as f:
        f.write('{"op":"metrics","rows":[["loss",null,2')
    assert journal.read(path) == [{"op": "metrics", "rows": [["loss", None, 1.0, 1.0]]}]
    assert journal.read(tmp_path / "missing.jsonl") == []


def test_replayed_records_go_to_the_task_s_run_and_stage_whatever_a_record_says(
    tmp_path: Path,
) -> None:
    store = Store(tmp_path / "home")
    run_id = _run(store)
    records = [
        {"op": "metrics", "rows": [["loss", None, 1.0, 1.0]], "run_id": "other", "stage": "z"},
        {
            "op": "artifact",
            "name": "r.txt",
            "kind": "file",
            "digest": "d" * 40,
            "path": "/r.txt",
            "size": 3,
        },
    ]
    assert journal.replay(store, run_id, "b", records) == []
    run = store.get_run(run_id)
    assert [(a["stage"], a["name"]) for a in run["artifacts"]] == [("b", "r.txt")]
    assert [(p["stage"], p["value"]) for p in store.metric_series(run_id)["loss"]] == [("b", 1.0)]


def test_a_model_logged_on_a_worker_is_numbered_at_replay_with_the_run_s_lineage(
    tmp_path: Path,
) -> None:
    np = pytest.importorskip("numpy")
    from mlops_jupyter.store import objects
    from mlops_jupyter.tracking import models

    store = Store(tmp_path / "home")
    run_id = _run(store)
    local = models.pack(np.zeros(3))
    store.add_model_version(
        run_id, "a", "w", objects.open_objects(store.objects).put(local.data), 3, "numpy", "npy",
        local.loader, None,
    )  # fmt: skip
    sink = journal.Journal(tmp_path / "journal.jsonl", str(store.objects))
    packed = models.pack(np.arange(4.0))
    digest = objects.open_objects(sink.objects).put(packed.data)
    # a worker cannot know the next number: the journal records the version unnumbered
    numbered = sink.add_model_version(
        run_id, "b", "w", digest, len(packed.data), packed.flavor, packed.format,
        packed.loader, packed.signature,
    )  # fmt: skip
    assert numbered is None
    assert journal.replay(store, run_id, "b", journal.read(sink.path)) == []
    record = store.model_version("w", 2)
    assert record is not None and (record["run_id"], record["stage"]) == (run_id, "b")
    assert record["parameters"] == {"n": 3}
    assert list(models.load(store, "w@2")) == [0.0, 1.0, 2.0, 3.0]
