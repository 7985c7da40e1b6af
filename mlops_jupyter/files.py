"""Durable file writes: temp file, fsync, rename. A crash never leaves a half file that looks whole."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def write_atomic(path: str | Path, data: bytes | str, *, fsync: bool = True) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            if fsync:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def discard(tmp: str | Path) -> None:
    """Remove a temp file that did not become the real one (a failed or interrupted write)."""
    try:
        os.unlink(tmp)
    except FileNotFoundError:
        pass
