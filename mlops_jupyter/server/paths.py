"""Request paths -> real files inside the server's root directory, or a refusal.

The REST API takes paths the way the contents API spells them: relative to the server root,
``/``-separated. Anything that could reach outside the root is refused before a file is touched:
absolute paths, ``..`` components, and symlinks whose real path leaves the root (checked on the
real path, so a link anywhere along the way counts).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


class PathError(Exception):
    """A path the server will not serve; ``status`` is the HTTP status to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Resolved:
    api_path: str  # as the client sent it: errors and results name the file this way
    path: Path  # absolute, symlinks kept (as the CLI would be given it: names come from it)
    real: Path  # symlinks resolved: checked to be inside the root


def _is_hidden(real: str, root: str) -> bool:
    # jupyter_core's check (dot names and the platform's hidden flags), as the contents manager
    # uses it; imported here so the module stays importable without a server for unit use
    from jupyter_core.paths import is_hidden

    return bool(is_hidden(real, root))


def resolve(root: str | Path, api_path: object, *, allow_hidden: bool = True) -> Resolved:
    """The real path of ``api_path`` under ``root``; raises :class:`PathError` (400/403/404)."""
    if not isinstance(api_path, str) or not api_path.strip():
        raise PathError(400, "a 'path' (relative to the server root) is required.")
    if "\0" in api_path:
        raise PathError(400, "the path contains a NUL character.")
    if api_path.startswith(("/", "\\")) or os.path.isabs(api_path):
        raise PathError(403, f"{api_path}: paths are relative to the server root.")
    parts = api_path.replace("\\", "/").split("/")
    if ".." in parts:
        raise PathError(403, f"{api_path}: '..' is not allowed in paths.")
    real_root = os.path.realpath(root)
    path = os.path.normpath(os.path.join(real_root, *parts))
    real = os.path.realpath(path)
    # commonpath, not startswith: '/root-other' starts with '/root' but is outside it
    if os.path.commonpath([real_root, real]) != real_root:
        raise PathError(403, f"{api_path}: outside the server root.")
    if not os.path.exists(real):
        raise PathError(404, f"{api_path}: no such file or directory.")
    if not allow_hidden and (
        any(p.startswith(".") for p in parts if p not in ("", "."))
        or (real != real_root and _is_hidden(real, real_root))
    ):
        raise PathError(403, f"{api_path}: hidden files are not served (allow_hidden is off).")
    return Resolved(api_path, Path(path), Path(real))


def relative(root: str | Path, path: str | os.PathLike[str] | None) -> str | None:
    """``path`` as a root-relative, ``/``-separated API path; ``None`` when it is outside."""
    if not path:
        return None
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        return None
    return Path(os.path.relpath(real, real_root)).as_posix()


def inside(folder: str | Path, path: str | Path) -> bool:
    """Whether the real path of ``path`` lies inside the real path of ``folder``."""
    top, real = os.path.realpath(folder), os.path.realpath(path)
    return os.path.commonpath([top, real]) == top
