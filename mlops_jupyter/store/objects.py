"""Content-addressed object files: ``objects/ab/cdef...``; written whole or not at all."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ..files import discard, write_atomic


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def object_path(root: str | Path, key: str) -> Path:
    return Path(root) / key[:2] / key[2:]


def put(root: str | Path, data: bytes) -> str:
    """Store bytes under their hash and return it. An existing object is kept only if it is
    whole: a damaged one (a disk error, a hand edit) is replaced, so rerunning the stage that
    produced the value repairs it."""
    key = digest(data)
    path = object_path(root, key)
    try:
        intact = path.stat().st_size == len(data) and digest(path.read_bytes()) == key
    except OSError:
        intact = False
    if not intact:
        write_atomic(path, data)
    return key


def get(root: str | Path, key: str) -> bytes:
    path = object_path(root, key)
    data = path.read_bytes()
    if digest(data) != key:  # a damaged object must never pass for a value
        # ...nor be found again: removing it turns the cache entries that name it into misses
        path.unlink(missing_ok=True)
        raise OSError(f"object {key} is damaged")
    return data


def exists(root: str | Path, key: str) -> bool:
    return os.path.exists(object_path(root, key))


def put_file(root: str | Path, source: str | Path) -> tuple[str, int]:
    """Store a file's bytes under their hash without reading it into memory: ``(key, size)``."""
    import tempfile

    hasher = hashlib.blake2b(digest_size=20)
    size = 0
    Path(root).mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".put.", suffix=".tmp")
    try:
        with open(source, "rb") as src, os.fdopen(fd, "wb") as out:
            while chunk := src.read(1 << 20):
                hasher.update(chunk)
                out.write(chunk)
                size += len(chunk)
            out.flush()
            os.fsync(out.fileno())
        key = hasher.hexdigest()
        path = object_path(root, key)
        if path.exists():
            os.unlink(tmp)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        return key, size
    except BaseException:
        discard(tmp)
        raise
