"""Content hashes of data files and folders: BLAKE3, with a stat cache so an unchanged file costs
one ``stat`` (and one indexed lookup) instead of a read.

The cache maps a path to ``(inode, size, mtime_ns, ctime_ns) -> hash``, like DVC's "state". Two
rules keep it honest:

* **Racy entries are not trusted.** A file modified within ``RACY_WINDOW_NS`` before it was hashed
  may be modified again within the same timestamp tick without its mtime moving (git's "racily
  clean" problem; FAT has 2 s timestamps). Such an entry is re-hashed on its next check, after
  which it is trusted.
* **ctime too.** A change that restores the old mtime (``touch -d``, ``cp -p``, ``rsync -t``)
  still moves ctime, which a program cannot set. ``verify=True`` ignores the cache altogether.

Pure apart from reading files: the cache is whatever object has ``stat_get``/``stat_put`` (the
store's ``file_hashes`` table).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any, Protocol

ALGORITHM = "blake3"
MMAP_MIN = 1 << 20  # below this a plain read is cheaper than setting up a mapping
THREADS_MIN = 1 << 25  # from 32 MiB on, BLAKE3's tree hashing spreads over all cores
RACY_WINDOW_NS = 2_000_000_000


class StatCache(Protocol):
    def stat_get(self, path: str) -> tuple[int, int, int, int, str, int] | None: ...

    def stat_put(self, entries: list[tuple[str, int, int, int, int, str, int]]) -> None: ...


@dataclass(frozen=True)
class Digest:
    """What a path holds: ``kind`` is ``file`` or ``directory``; ``files`` counts a folder's files."""

    path: str
    kind: str
    hash: str
    size: int
    files: int = 1
    cached: bool = False  # every file's hash came from the stat cache


def hash_bytes(data: bytes | memoryview) -> str:
    import blake3

    return str(blake3.blake3(data).hexdigest())


def hash_file(path: str | os.PathLike[str], size: int | None = None) -> str:
    """BLAKE3 of a file's bytes: memory-mapped and multi-threaded when the file is big."""
    import blake3

    if size is None:
        size = os.stat(path).st_size
    threads = blake3.blake3.AUTO if size >= THREADS_MIN else 1
    hasher = blake3.blake3(max_threads=threads)
    if size >= MMAP_MIN:
        hasher.update_mmap(path)
    else:
        with open(path, "rb") as handle:
            hasher.update(handle.read())
    return str(hasher.hexdigest())


def _signature(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _file(
    path: str, cache: StatCache | None, verify: bool, pending: list[Any]
) -> tuple[str, int, bool]:
    """(hash, size, from cache) of one file; new cache entries are appended to ``pending``."""
    checked = time.time_ns()  # before the stat: a write during hashing makes the entry racy
    st = os.stat(path)
    signature = _signature(st)
    if cache is not None and not verify:
        entry = cache.stat_get(path)
        if (
            entry is not None
            and tuple(entry[:4]) == signature
            and entry[5] - st.st_mtime_ns > RACY_WINDOW_NS
        ):
            return entry[4], st.st_size, True
    digest = hash_file(path, st.st_size)
    if cache is not None and _signature(os.stat(path)) == signature:  # unchanged while hashed
        pending.append((path, *signature, digest, checked))
    return digest, st.st_size, False


def check(
    path: str | os.PathLike[str], cache: StatCache | None = None, *, verify: bool = False
) -> Digest:
    """The content hash of a file or folder (absolute ``path`` in the result).

    A folder's hash is BLAKE3 of its manifest: every regular file below it (symlinks to files
    followed, folders not), as sorted ``[relative/posix/path, hash, size]`` rows. ``verify=True``
    re-reads everything, whatever the stat cache says. Raises ``FileNotFoundError`` or
    ``IsADirectoryError``/``PermissionError`` as the OS does.
    """
    full = os.path.abspath(os.fspath(path))
    pending: list[Any] = []
    try:
        if not os.path.isdir(full):
            digest, size, cached = _file(full, cache, verify, pending)
            return Digest(full, "file", digest, size, 1, cached)
        rows = []
        total = 0
        all_cached = True
        for root, dirs, files in os.walk(full):
            dirs.sort()
            for name in sorted(files):
                file_path = os.path.join(root, name)
                if not os.path.isfile(file_path):  # sockets, fifos, dangling links
                    continue
                digest, size, cached = _file(file_path, cache, verify, pending)
                rows.append([os.path.relpath(file_path, full).replace(os.sep, "/"), digest, size])
                total += size
                all_cached = all_cached and cached
        rows.sort()
        manifest = json.dumps(rows, separators=(",", ":")).encode()
        return Digest(full, "directory", hash_bytes(manifest), total, len(rows), all_cached)
    finally:
        if cache is not None and pending:
            cache.stat_put(pending)
