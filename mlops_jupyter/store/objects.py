"""Content-addressed object files: ``objects/ab/cdef...``; written whole or not at all.

Every temp file of an object write sits in ``objects/`` itself (not in the ``ab/`` folders) and
carries its writer's pid (:func:`~mlops_jupyter.files.temp_prefix`): a writer killed mid-write
(up to a whole value, hundreds of MB) leaves one there, and :func:`remove_dead_temp` finds it with
one listing and removes it once that process is gone.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from ..files import discard, pid_alive, temp_prefix, temp_writer, write_atomic


class ObjectStore(Protocol):
    """Where values and written files travel between stages: content-addressed by BLAKE2b-160,
    every object written whole or not at all, a damaged one never read as a value.

    Stage kernels and the runner reach objects only through this (``open_objects``), so a place
    both sides of a cluster reach can replace the folder: the next implementation is an fsspec
    URL (``s3://bucket/prefix``), for Dask workers on other hosts. ``PathObjects`` is a folder:
    a local disk, or a mount the workers share; ``FsspecObjects`` an fsspec URL (no run is
    configured to use one yet: the store's folder is what runs hand their stages)."""

    location: str

    def put(self, data: bytes) -> str: ...

    def get(self, key: str) -> bytes: ...

    def exists(self, key: str) -> bool: ...

    def put_file(self, source: str | Path) -> tuple[str, int]: ...


class PathObjects:
    """Objects in a folder (``objects/ab/cdef...``): the module's functions, bound to it."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        self.location = str(root)

    def put(self, data: bytes) -> str:
        return put(self.root, data)

    def get(self, key: str) -> bytes:
        return get(self.root, key)

    def exists(self, key: str) -> bool:
        return exists(self.root, key)

    def put_file(self, source: str | Path) -> tuple[str, int]:
        return put_file(self.root, source)


class FsspecObjects:
    """Objects under an fsspec URL (``s3://bucket/prefix``, ``gs://...``, ``file:///mnt/x``):
    the same layout and rules as a folder. An object is written under a temp name carrying the
    writer's pid and moved into place, so a reader never sees half of one (an object store's
    PUT is whole anyway); a damaged one is removed when read."""

    def __init__(self, url: str) -> None:
        try:
            import fsspec
        except ImportError:
            from ..errors import MlopsError

            raise MlopsError(
                f"the object store {url} is a URL, which needs fsspec.",
                hint="Install it (pip install fsspec, plus s3fs or gcsfs for those URLs), or "
                "use a folder every worker can reach.",
            ) from None
        self.location = url
        self.fs, root = fsspec.core.url_to_fs(url)
        self.root = root.rstrip("/")

    def _path(self, key: str) -> str:
        return f"{self.root}/{key[:2]}/{key[2:]}"

    def _place(self, key: str, write: Callable[[str], None]) -> None:
        import secrets

        path = self._path(key)
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{self.root}/{temp_prefix('put')}{secrets.token_hex(4)}.tmp"
        try:
            write(tmp)
            self.fs.mv(tmp, path)
        except BaseException:
            try:
                self.fs.rm_file(tmp)
            except (OSError, FileNotFoundError):
                pass
            raise

    def put(self, data: bytes) -> str:
        key = digest(data)
        path = self._path(key)
        try:
            intact = self.fs.size(path) == len(data) and digest(self.fs.cat_file(path)) == key
        except (OSError, FileNotFoundError):
            intact = False
        if not intact:
            self._place(key, lambda tmp: self.fs.pipe_file(tmp, data))
        return key

    def get(self, key: str) -> bytes:
        path = self._path(key)
        data: bytes = self.fs.cat_file(path)
        if digest(data) != key:
            self.fs.rm_file(path)
            raise OSError(f"object {key} is damaged")
        return data

    def exists(self, key: str) -> bool:
        return bool(self.fs.exists(self._path(key)))

    def put_file(self, source: str | Path) -> tuple[str, int]:
        hasher = hashlib.blake2b(digest_size=20)
        size = 0
        with open(source, "rb") as src:
            while chunk := src.read(1 << 20):
                hasher.update(chunk)
                size += len(chunk)
        key = hasher.hexdigest()
        if not self.exists(key):
            self._place(key, lambda tmp: self.fs.put_file(str(source), tmp))
        return key, size


def open_objects(location: str | Path) -> ObjectStore:
    """The object store at ``location``: a folder path, or an fsspec URL."""
    text = str(location)
    if "://" in text:
        return FsspecObjects(text)
    return PathObjects(text)


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
    if not (intact and _touch(path)):
        Path(root).mkdir(parents=True, exist_ok=True)
        write_atomic(path, data, temp_dir=root)
    return key


def _touch(path: Path) -> bool:
    """Mark an existing object as just written: gc never removes an object newer than its own
    start, so a value a new run is about to refer to is not collected under it. False if the
    object went away meanwhile (gc took it): the caller writes it again."""
    try:
        os.utime(path)
    except FileNotFoundError:
        return False
    return True


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
    fd, tmp = tempfile.mkstemp(dir=root, prefix=temp_prefix("put"), suffix=".tmp")
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
        if path.exists() and _touch(path):
            os.unlink(tmp)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, path)
        return key, size
    except BaseException:
        discard(tmp)
        raise


def dead_temp_files(root: str | Path) -> list[Path]:
    """Temp files in ``root`` whose writer is gone (killed mid-write): never to become objects."""
    found = []
    try:
        entries = list(os.scandir(root))
    except (FileNotFoundError, NotADirectoryError):
        return []
    for entry in entries:
        pid = temp_writer(entry.name)
        if pid is not None and not pid_alive(pid):
            found.append(Path(entry.path))
    return found


def remove_dead_temp(root: str | Path) -> tuple[int, int]:
    """Remove the temp files of dead writers: ``(files removed, bytes freed)``."""
    removed = freed = 0
    for path in dead_temp_files(root):
        try:
            size = path.stat().st_size
            path.unlink()
        except FileNotFoundError:
            continue  # another process cleaned it up first
        removed += 1
        freed += size
    return removed, freed
