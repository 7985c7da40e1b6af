"""Content-addressed object files: ``objects/ab/cdef...``; written whole or not at all."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from .files import write_atomic


def digest(data: bytes) -> str:
    return hashlib.blake2b(data, digest_size=20).hexdigest()


def object_path(root: str | Path, key: str) -> Path:
    return Path(root) / key[:2] / key[2:]


def put(root: str | Path, data: bytes) -> str:
    """Store bytes under their hash and return it; an existing object is not rewritten."""
    key = digest(data)
    path = object_path(root, key)
    if not path.exists():
        write_atomic(path, data)
    return key


def get(root: str | Path, key: str) -> bytes:
    data = object_path(root, key).read_bytes()
    if digest(data) != key:  # a damaged object must never pass for a value
        raise OSError(f"object {key} is damaged")
    return data


def exists(root: str | Path, key: str) -> bool:
    return os.path.exists(object_path(root, key))
