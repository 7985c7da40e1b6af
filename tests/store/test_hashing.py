"""BLAKE3 file and folder hashes, and the stat cache that lets an unchanged file cost a stat."""

from __future__ import annotations

import os
import time
from pathlib import Path

import blake3
import pytest

from mlops_jupyter.store import hashing
from mlops_jupyter.store.db import Store

PAST = time.time_ns() - 3600 * 10**9  # an hour ago: outside the racy window


def age(path: Path, ns: int = PAST) -> None:
    os.utime(path, ns=(ns, ns))


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / ".mlops") as opened:
        yield opened


def test_file_hash_is_blake3_of_the_bytes(tmp_path: Path) -> None:
    small = tmp_path / "small.bin"
    small.write_bytes(b"hello")
    big = tmp_path / "big.bin"  # mmap and threads above their thresholds
    payload = os.urandom(1 << 16) * ((hashing.THREADS_MIN >> 16) + 3)
    big.write_bytes(payload)
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert hashing.hash_file(small) == blake3.blake3(b"hello").hexdigest()
    assert hashing.hash_file(big) == blake3.blake3(payload).hexdigest()
    assert hashing.hash_file(empty) == blake3.blake3(b"").hexdigest()
    digest = hashing.check(small)
    assert (digest.kind, digest.size, digest.path) == ("file", 5, str(small))


def test_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        hashing.check(tmp_path / "nope.csv")


def test_directory_is_a_manifest_of_its_files(tmp_path: Path) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("a")
    (data / "sub" / "b.csv").write_text("bb")
    first = hashing.check(data)
    assert (first.kind, first.files, first.size) == ("directory", 2, 3)

    (data / "sub" / "b.csv").write_text("bc")  # content
    second = hashing.check(data)
    assert second.hash != first.hash

    (data / "sub" / "b.csv").rename(data / "b.csv")  # same bytes, another name
    third = hashing.check(data)
    assert third.hash not in (first.hash, second.hash)

    (data / "sub").rmdir()  # an empty folder holds no data
    assert hashing.check(data).hash == third.hash

    copy = tmp_path / "copy"  # the hash is of content and relative names, not the location
    copy.mkdir()
    for name in ("a.csv", "b.csv"):
        (copy / name).write_bytes((data / name).read_bytes())
    assert hashing.check(copy).hash == third.hash


def test_unchanged_file_comes_from_the_stat_cache(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n")
    age(path)
    first = hashing.check(path, store)
    assert not first.cached
    second = hashing.check(path, store)
    assert second.cached and second.hash == first.hash
    started = time.perf_counter()
    for _ in range(200):
        hashing.check(path, store)
    per_check = (time.perf_counter() - started) / 200
    assert per_check < 0.05  # generous: the benchmark measures the real figure (~tens of µs)


def test_a_change_of_content_is_seen(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n")
    age(path)
    before = hashing.check(path, store).hash
    path.write_text("x\n2\n")  # same size; new mtime
    after = hashing.check(path, store)
    assert not after.cached and after.hash != before


def test_same_size_same_mtime_change_is_caught(tmp_path: Path, store: Store) -> None:
    """Content replaced, size and mtime put back (as `cp -p` or `rsync -t` leave it): the
    ctime still moves, so even the cached check re-reads; a forced check always does."""
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n")
    age(path)
    before = hashing.check(path, store).hash
    stat = path.stat()
    path.write_text("x\n2\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert path.stat().st_mtime_ns == stat.st_mtime_ns and path.stat().st_size == stat.st_size
    assert hashing.check(path, store).hash != before
    assert hashing.check(path, store, verify=True).hash != before


def test_verify_does_not_trust_the_cache(tmp_path: Path, store: Store) -> None:
    """A cache entry whose stat matches exactly but whose hash is stale (content changed in a way
    no timestamp shows): only a forced check can catch it, and it does."""
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n")
    age(path)
    true_hash = hashing.check(path, store).hash
    store.db.execute("UPDATE file_hashes SET hash = 'stale' WHERE path = ?", (str(path),))
    assert hashing.check(path, store).hash == "stale"  # a plain check trusts the stat
    forced = hashing.check(path, store, verify=True)
    assert forced.hash == true_hash and not forced.cached
    assert hashing.check(path, store).hash == true_hash  # and repairs the entry


def test_racily_clean_entries_are_rehashed(tmp_path: Path, store: Store) -> None:
    """A file modified just before it was hashed could change again within the same timestamp
    tick; its entry is not trusted until a check made well after the modification."""
    path = tmp_path / "d.csv"
    path.write_text("x\n1\n")  # mtime: now
    hashing.check(path, store)
    assert not hashing.check(path, store).cached
    stat = path.stat()
    store.db.execute(  # as if the last check happened long after the write
        "UPDATE file_hashes SET checked_ns = ? WHERE path = ?",
        (stat.st_mtime_ns + 2 * hashing.RACY_WINDOW_NS, str(path)),
    )
    assert hashing.check(path, store).cached


def test_directory_files_use_the_cache(tmp_path: Path, store: Store) -> None:
    data = tmp_path / "data"
    data.mkdir()
    for i in range(5):
        (data / f"{i}.csv").write_text(str(i))
        age(data / f"{i}.csv")
    first = hashing.check(data, store)
    second = hashing.check(data, store)
    assert not first.cached and second.cached and first.hash == second.hash
    (data / "3.csv").write_text("changed")
    third = hashing.check(data, store)
    assert not third.cached and third.hash != first.hash
