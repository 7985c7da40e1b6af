"""Content-addressed objects, written whole or not at all, and never passed on when damaged."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlops_jupyter.files import write_atomic
from mlops_jupyter.store import objects


def test_an_object_is_stored_under_the_hash_of_its_bytes(tmp_path: Path) -> None:
    key = objects.put(tmp_path, b"hello")
    assert key == objects.digest(b"hello")
    assert len(key) == 40
    assert objects.object_path(tmp_path, key) == tmp_path / key[:2] / key[2:]
    assert objects.object_path(tmp_path, key).read_bytes() == b"hello"
    assert objects.exists(tmp_path, key)
    assert objects.get(tmp_path, key) == b"hello"


def test_equal_bytes_are_stored_once_and_different_bytes_apart(tmp_path: Path) -> None:
    first = objects.put(tmp_path, b"same")
    path = objects.object_path(tmp_path, first)
    inode = path.stat().st_ino
    os.utime(path, (1, 1))
    assert objects.put(tmp_path, b"same") == first
    assert path.stat().st_ino == inode  # not rewritten...
    assert path.stat().st_mtime > 1  # ...but marked as just written: gc keeps it
    assert objects.put(tmp_path, b"other") != first
    assert sorted(p.parent.name + p.name for p in tmp_path.glob("*/*")) == sorted(
        [first, objects.digest(b"other")]
    )


def test_an_empty_value_is_an_object_too(tmp_path: Path) -> None:
    assert objects.get(tmp_path, objects.put(tmp_path, b"")) == b""


def test_a_missing_object_does_not_exist(tmp_path: Path) -> None:
    key = objects.digest(b"never stored")
    assert not objects.exists(tmp_path, key)
    with pytest.raises(FileNotFoundError):
        objects.get(tmp_path, key)


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[:-1],  # truncated
        lambda data: b"",  # emptied
        lambda data: data[:5] + b"X" + data[6:],  # one byte flipped
        lambda data: data + b"\0",  # grown
    ],
    ids=["truncated", "emptied", "flipped", "grown"],
)
def test_a_damaged_object_is_detected_when_read(tmp_path: Path, damage) -> None:
    key = objects.put(tmp_path, b"0123456789" * 100)
    path = objects.object_path(tmp_path, key)
    path.write_bytes(damage(path.read_bytes()))
    assert objects.exists(tmp_path, key)  # still there...
    with pytest.raises(OSError, match=f"{key} is damaged"):  # ...but never passed for a value
        objects.get(tmp_path, key)


def test_storing_the_value_again_repairs_a_damaged_object(tmp_path: Path) -> None:
    key = objects.put(tmp_path, b"payload" * 10)
    path = objects.object_path(tmp_path, key)
    path.write_bytes(b"payl")
    assert objects.put(tmp_path, b"payload" * 10) == key
    assert objects.get(tmp_path, key) == b"payload" * 10


def _fail(*args: object, **kwargs: object) -> None:
    raise OSError("disk full")


@pytest.mark.parametrize("step", ["fsync", "replace"])
def test_a_write_that_fails_leaves_no_object_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    monkeypatch.setattr(os, step, _fail)
    with pytest.raises(OSError, match="disk full"):
        objects.put(tmp_path, b"value")
    monkeypatch.undo()
    assert not objects.exists(tmp_path, objects.digest(b"value"))
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
    # and the next attempt stores it whole
    assert objects.get(tmp_path, objects.put(tmp_path, b"value")) == b"value"


def test_a_failed_rewrite_keeps_the_old_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "manifest.json"
    write_atomic(target, '{"old": true}')
    monkeypatch.setattr(os, "replace", _fail)
    with pytest.raises(OSError):
        write_atomic(target, '{"new": true, "much": "longer"}')
    monkeypatch.undo()
    assert target.read_text() == '{"old": true}'
    assert sorted(p.name for p in tmp_path.iterdir()) == ["manifest.json"]


def test_write_atomic_creates_folders_and_takes_text_or_bytes(tmp_path: Path) -> None:
    write_atomic(tmp_path / "a" / "b" / "t.txt", "text ✓")
    write_atomic(tmp_path / "a" / "b.bin", b"\x00\x01", fsync=False)
    assert (tmp_path / "a" / "b" / "t.txt").read_text(encoding="utf-8") == "text ✓"
    assert (tmp_path / "a" / "b.bin").read_bytes() == b"\x00\x01"


WRITER = """
import sys
from mlops_jupyter.store import objects
objects.put_file(sys.argv[1], sys.argv[2])
"""


def test_a_writer_killed_mid_write_leaves_a_temp_file_known_to_be_dead(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys
    import time

    root = tmp_path / "objects"
    source = tmp_path / "value.fifo"
    os.mkfifo(source)  # the writer blocks reading it, half way through its copy
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(root), str(source)])
    try:
        with open(source, "wb") as pipe:
            pipe.write(b"x" * (3 << 20))
            pipe.flush()
            deadline = time.monotonic() + 30
            while not any(p.stat().st_size for p in root.glob(".*")):
                assert time.monotonic() < deadline, "the writer never wrote"
                time.sleep(0.02)
            assert objects.dead_temp_files(root) == []  # its writer is still at work
            os.kill(writer.pid, signal.SIGKILL)
            writer.wait(timeout=30)
    except BrokenPipeError:
        pass
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait()
    (left,) = root.glob(".*")
    assert f"pid{writer.pid}" in left.name
    assert objects.dead_temp_files(root) == [left]
    size = left.stat().st_size
    assert size >= 2 << 20
    assert objects.remove_dead_temp(root) == (1, size)
    assert not left.exists()


def test_the_object_store_interface_is_the_folder_s_rules(tmp_path: Path) -> None:
    """Stage kernels and the runner reach objects only through ``open_objects``: a folder keeps
    the module's guarantees (content keys, whole objects, damage never read as a value)."""
    store = objects.open_objects(tmp_path / "objects")
    assert isinstance(store, objects.PathObjects) and store.location == str(tmp_path / "objects")
    key = store.put(b"value bytes")
    assert key == objects.digest(b"value bytes") and store.exists(key)
    assert store.get(key) == b"value bytes"
    source = tmp_path / "written.csv"
    source.write_bytes(b"a,b\n1,2\n")
    assert store.put_file(source) == (objects.digest(b"a,b\n1,2\n"), 8)
    objects.object_path(tmp_path / "objects", key).write_bytes(b"hand edited")
    with pytest.raises(OSError, match="damaged"):
        store.get(key)
    assert not store.exists(key), "a damaged object is gone, so its cache entries miss"


@pytest.mark.parametrize("scheme", ["memory", "file"])
def test_an_fsspec_url_keeps_the_same_rules(tmp_path: Path, scheme: str) -> None:
    """The next place values go (s3://, gs://) behind the same interface, checked on fsspec's
    in-memory and local file systems: content keys, whole objects, damage removed on read."""
    import secrets

    pytest.importorskip("fsspec")
    where = f"/mlops-{secrets.token_hex(4)}" if scheme == "memory" else str(tmp_path / "remote")
    store = objects.open_objects(f"{scheme}://{where}")
    assert isinstance(store, objects.FsspecObjects)
    key = store.put(b"value bytes")
    assert key == objects.digest(b"value bytes") and store.exists(key)
    assert store.get(key) == b"value bytes"
    assert store.put(b"value bytes") == key, "stored once"
    source = tmp_path / "written.csv"
    source.write_bytes(b"a,b\n1,2\n")
    file_key, size = store.put_file(source)
    assert (file_key, size) == (objects.digest(b"a,b\n1,2\n"), 8)
    assert store.get(file_key) == b"a,b\n1,2\n"
    leftovers = [p for p in store.fs.find(store.root) if p.endswith(".tmp")]
    assert leftovers == [], "no temp object left behind"
    store.fs.pipe_file(store._path(key), b"hand edited")
    with pytest.raises(OSError, match="damaged"):
        store.get(key)
    assert not store.exists(key)
