"""Files a stage opens take part in the cache, with nothing declared: a file it read is in its
key by content (an edit reruns it and what depends on it, even with the mtime put back), a file
it wrote is kept in the object store and put back on a cache hit. Real kernels, real SQLite."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter import api
from mlops_jupyter.store import objects
from mlops_jupyter.store.db import Store

Make = Callable[..., Path]


def statuses(run: dict[str, Any]) -> dict[str, str]:
    return {s["name"]: s["status"] for s in run["stages"]}


def stage(run: dict[str, Any], name: str) -> dict[str, Any]:
    return next(s for s in run["stages"] if s["name"] == name)


@pytest.fixture
def project(home: Path, make_notebook: Make, tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "raw.csv").write_text("x\n1\n2\n3\n")
    make_notebook(
        [
            (
                ["stage:load"],
                "total = sum(int(v) for v in open('data/raw.csv').read().split()[1:])",
            ),
            (["stage:double"], "doubled = total * 2"),
            (
                ["stage:write"],
                "with open('out.txt', 'w') as f:\n    f.write(f'{doubled}\\n')\n"
                "check = open('out.txt').read()",  # written first: an output, not an input
            ),
            (["stage:other"], "z = 5"),
        ]
    )
    return tmp_path


def run(project: Path, **options: Any) -> dict[str, Any]:
    return api.run(project / "nb.ipynb", **options)


def test_files_read_and_written_are_recorded(project: Path) -> None:
    first = run(project)
    assert set(statuses(first).values()) == {"succeeded"}
    raw, out = str(project / "data" / "raw.csv"), str(project / "out.txt")
    assert stage(first, "load")["files"] == {"read": [raw], "written": []}
    assert stage(first, "write")["files"] == {"read": [], "written": [out]}
    assert stage(first, "other")["files"] == {"read": [], "written": []}
    assert set(statuses(run(project)).values()) == {"cached"}  # nothing changed
    assert api.data() == [] or all(v["path"] != raw for v in api.data())  # not a data version


def test_editing_a_file_read_reruns_its_stage_and_downstream(project: Path) -> None:
    run(project)
    (project / "data" / "raw.csv").write_text("x\n1\n2\n4\n")
    edited = run(project)
    assert statuses(edited) == {
        "load": "succeeded",
        "double": "succeeded",
        "write": "succeeded",
        "other": "cached",
    }
    assert (project / "out.txt").read_text() == "14\n"
    assert set(statuses(run(project)).values()) == {"cached"}


def test_an_edit_with_its_mtime_put_back_is_seen(project: Path) -> None:
    raw = project / "data" / "raw.csv"
    old = raw.stat().st_mtime_ns - 60 * 10**9  # not racily clean: the stat cache trusts it
    os.utime(raw, ns=(old, old))
    run(project)
    assert set(statuses(run(project)).values()) == {"cached"}
    with Store(project / "home") as store:  # the hash now comes from the stat cache
        assert store.stat_get(str(raw)) is not None
    before = raw.stat()
    raw.write_text("x\n1\n2\n9\n")  # same size
    os.utime(raw, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert statuses(run(project))["load"] == "succeeded"
    assert (project / "out.txt").read_text() == "24\n"


def test_a_deleted_output_file_is_restored_on_a_hit(project: Path) -> None:
    run(project)
    mode = (project / "out.txt").stat().st_mode
    (project / "out.txt").unlink()
    again = run(project)
    assert set(statuses(again).values()) == {"cached"}
    assert (project / "out.txt").read_text() == "12\n"
    assert (project / "out.txt").stat().st_mode == mode
    (project / "out.txt").write_text("changed by hand\n")
    assert set(statuses(run(project)).values()) == {"cached"}
    assert (project / "out.txt").read_text() == "12\n"  # what running the stage would write


def test_an_output_whose_object_is_gone_reruns_its_stage(project: Path, home: Path) -> None:
    first = run(project)
    (project / "out.txt").unlink()

    with Store(home) as store:
        files = store.db.execute(
            "SELECT files FROM stage_runs WHERE run_id = ? AND stage = 'write'", (first["run_id"],)
        ).fetchone()[0]
        import json

        ref = json.loads(files)["written"][str(project / "out.txt")]
        objects.object_path(store.objects, ref["object"]).unlink()
    again = run(project)
    assert statuses(again)["write"] == "succeeded"
    assert statuses(again)["load"] == "cached"
    assert (project / "out.txt").read_text() == "12\n"


def test_a_stage_reading_nothing_keeps_its_key(project: Path) -> None:
    from mlops_jupyter.runner.cache import with_data

    first = run(project)
    other = stage(first, "other")
    assert with_data("base", {}) == "base"
    with_files = stage(first, "load")["cache_key"]
    assert other["cache_key"] != with_files
    (project / "data" / "raw.csv").write_text("x\n5\n")
    assert stage(run(project), "other")["cache_key"] == other["cache_key"]


def test_the_store_and_the_environment_are_never_recorded(
    home: Path, make_notebook: Make, tmp_path: Path
) -> None:
    make_notebook(
        [
            (
                ["stage:look"],
                "import os, sys, glob\n"
                f"open({str(home / 'mine.txt')!r}, 'w').write('x')\n"
                "n = len(open(os.__file__).read())\n"
                "open('.hidden/cache.bin', 'wb').write(b'1') if os.path.isdir('.hidden') else None\n"
                "import json\nopen('seen.json', 'w').write(json.dumps(n))",
            )
        ]
    )
    (tmp_path / ".hidden").mkdir()
    files = stage(api.run(tmp_path / "nb.ipynb"), "look")["files"]
    assert files == {"read": [], "written": [str(tmp_path / "seen.json")]}
    assert not any(sys.prefix in p for p in files["read"] + files["written"])


def test_a_file_read_then_rewritten_never_comes_from_the_cache(
    home: Path, make_notebook: Make, tmp_path: Path
) -> None:
    (tmp_path / "log.txt").write_text("")
    make_notebook(
        [(["stage:append"], "lines = open('log.txt').read()\nopen('log.txt', 'a').write('x\\n')")]
    )
    api.run(tmp_path / "nb.ipynb")
    assert statuses(api.run(tmp_path / "nb.ipynb")) == {"append": "succeeded"}
    assert (tmp_path / "log.txt").read_text() == "x\nx\n"  # as the notebook run twice


def test_cache_off_wins(home: Path, make_notebook: Make, tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_text("1")
    make_notebook([(["stage:s", "cache:off"], "v = open('in.txt').read()")])
    api.run(tmp_path / "nb.ipynb")
    again = api.run(tmp_path / "nb.ipynb")
    assert statuses(again) == {"s": "succeeded"}
    assert stage(again, "s")["files"]["read"] == [str(tmp_path / "in.txt")]


# -- the store's side (schema 3)


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    with Store(home) as opened:
        yield opened


def test_a_cache_entry_keeps_the_files_its_stage_wrote(store: Store, tmp_path: Path) -> None:
    source = tmp_path / "out.txt"
    source.write_text("made")
    key, size = objects.put_file(store.objects, source)
    files = {"written": {str(source): {"hash": "h", "object": key, "size": size}}}
    store.cache_put("k", "demo", "a", {}, {}, "run-1", files)
    assert store.cache_get("k") == {"outputs": {}, "metrics": {}, "files": files}
    assert key in store.referenced_objects()  # gc keeps what a hit restores
    objects.object_path(store.objects, key).unlink()
    assert store.cache_get("k") is None  # it cannot be restored: the stage runs again


def test_files_read_in_the_last_execution_join_its_tracked_data(store: Store) -> None:
    run_id, _ = store.start_run(
        pipeline="p",
        version="v",
        notebook=None,
        compiled="c",
        parameters={},
        stages=["s"],
        environment={},
        origin="cli",
    )
    store.update_stage(
        run_id,
        "s",
        status="succeeded",
        base_key="b",
        ended_at=1.0,
        files={"read": {"/p/in.csv": "h"}},
    )
    assert store.last_tracked("b", "s") == {"/p/in.csv": "file"}
    assert store.data_versions(run_id=run_id) == []  # not a data version
    assert store.get_run(run_id)["stages"][0]["files"] == {"read": ["/p/in.csv"], "written": []}


# -- files between stages: a stage reading a file an earlier stage writes sees it as the
# notebook does, though no value connects them (the plan cannot see files before they are opened)


@pytest.fixture
def through_a_file(make_notebook: Make, tmp_path: Path) -> Path:
    # 'write' is slow, so 'read', with no value from it, starts first when the two run side by side
    (tmp_path / "shared.txt").write_text("old\n")
    return make_notebook(
        [
            (
                ["stage:write"],
                "import time\ntime.sleep(1.5)\nopen('shared.txt', 'w').write('new\\n')",
            ),
            (["stage:read"], "seen = open('shared.txt').read().strip()"),
            (["stage:report"], "print(seen)\nlength = len(seen)"),
            (["metrics"], "length"),
        ]
    )


def test_a_file_an_earlier_stage_rewrites_is_read_after_it(
    home: Path, through_a_file: Path
) -> None:
    first = api.run(through_a_file)
    assert first["status"] == "succeeded", first
    assert first["metrics"] == {"length": 3.0}  # 'new', as top to bottom; not 'old'
    read, write = stage(first, "read"), stage(first, "write")
    assert read["started_at"] >= write["ended_at"]  # the run it kept is the one after 'write'


def test_a_file_an_earlier_stage_creates_is_read_after_it(
    home: Path, make_notebook: Make, tmp_path: Path
) -> None:
    nb = make_notebook(
        [
            (["stage:write"], "import time\ntime.sleep(1.5)\nopen('made.txt', 'w').write('12')"),
            (["stage:read"], "number = int(open('made.txt').read())"),
            (["metrics"], "number"),
        ]
    )
    first = api.run(nb)
    assert first["status"] == "succeeded", [s.get("error") for s in first["stages"]]
    assert first["metrics"] == {"number": 12.0}


def test_the_next_run_orders_them_from_the_start(home: Path, through_a_file: Path) -> None:
    api.run(through_a_file)
    again = api.run(through_a_file, no_cache=True)
    assert again["metrics"] == {"length": 3.0}
    read, write = stage(again, "read"), stage(again, "write")
    assert read["started_at"] >= write["ended_at"]
    assert read["attempts"] == 1 and not read.get("error"), read  # no second run needed


def test_stages_that_only_read_one_file_still_run_side_by_side(
    home: Path, make_notebook: Make, tmp_path: Path
) -> None:
    (tmp_path / "input.txt").write_text("5\n")
    nb = make_notebook(
        [
            (["stage:a"], "import time\na = int(open('input.txt').read())\ntime.sleep(1)"),
            (["stage:b"], "import time\nb = int(open('input.txt').read())\ntime.sleep(1)"),
        ]
    )
    api.run(nb)
    second = api.run(nb, no_cache=True)
    a, b = stage(second, "a"), stage(second, "b")
    assert b["started_at"] < a["ended_at"] and a["started_at"] < b["ended_at"]


def test_a_file_rewritten_by_a_later_stage_while_read_fails_the_run_until_ordered(
    home: Path, make_notebook: Make, tmp_path: Path
) -> None:
    # top to bottom, 'look' reads the file before 'replace' rewrites it; side by side,
    # 'replace' got there first, and nothing can make this run right
    (tmp_path / "shared.txt").write_text("old\n")
    nb = make_notebook(
        [
            (["stage:look"], "import time\ntime.sleep(1.5)\nseen = open('shared.txt').read()"),
            (["stage:replace"], "open('shared.txt', 'w').write('new\\n')"),
        ]
    )
    first = api.run(nb)
    assert first["status"] == "failed"
    error = stage(first, "look")["error"]
    assert "shared.txt" in error and "'replace'" in error and "after:look" in error
    second = api.run(nb)  # it learned the order: 'replace' waits for 'look'
    assert second["status"] == "succeeded", [s.get("error") for s in second["stages"]]
    assert stage(second, "replace")["started_at"] >= stage(second, "look")["ended_at"]


def test_a_failure_stands_when_the_earlier_stage_it_waited_for_fails_too(
    home: Path, make_notebook: Make
) -> None:
    nb = make_notebook(
        [
            (["stage:slow"], "import time\ntime.sleep(1.5)\nraise ValueError('slow broke')"),
            (["stage:quick"], "raise KeyError('quick broke')"),
        ]
    )
    result = api.run(nb)
    assert statuses(result) == {"slow": "failed", "quick": "failed"}
    assert "quick broke" in stage(result, "quick")["error"]
    assert Path(stage(result, "quick")["notebook"]).is_file()
