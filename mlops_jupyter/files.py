"""Durable file writes: temp file, fsync, rename. A crash never leaves a half file that looks whole."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

# ".NAME.pid1234.RANDOM.tmp": the writer's pid is in the name, so whoever finds the file later can
# tell a write still going on from the leftover of a killed process (kill -9 runs no cleanup).
_TEMP = re.compile(r"\A\..*\.pid(\d+)\.[^.]*\.tmp\Z")


def write_atomic(
    path: str | Path, data: bytes | str, *, fsync: bool = True, temp_dir: str | Path | None = None
) -> None:
    """``temp_dir`` (same file system) gathers the temp files of many targets in one folder, so
    the leftovers of killed writers are found without listing every target's folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = data.encode() if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(
        dir=temp_dir or path.parent, prefix=temp_prefix(path.name), suffix=".tmp"
    )
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


def temp_prefix(name: str) -> str:
    """The start of a temp file's name for ``name``, written by this process."""
    return f".{name}.pid{os.getpid()}."


def temp_writer(name: str) -> int | None:
    """The pid that wrote a temp file named by :func:`temp_prefix`, or None for any other name."""
    found = _TEMP.match(name)
    return int(found.group(1)) if found else None


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this machine (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
