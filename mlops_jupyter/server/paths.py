"""Request paths -> real files inside the server's root directory, or a refusal.

The REST API takes paths the way the contents API spells them: relative to the server root,
``/``-separated. Anything that could reach outside the root is refused before a file is touched:
absolute paths, ``..`` components, and symlinks whose real path leaves the root (checked on the
real path, so a link anywhere along the way counts).

Stores get the same rule: the ``.mlops/`` folder serving a notebook is found as ``mlops`` finds
it, but served only when it is inside the root and none of its entries link out of it, so a store
in the root's parent (which the upward search would reach) is not this server's to read.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..home import HOME_DIR, find_home


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


def store_home(root: str | Path, where: str | Path) -> Path | None:
    """The ``.mlops/`` folder serving ``where`` (found as ``mlops`` finds it) when its real path
    is inside ``root``; ``None`` when the one found is outside — a parent folder's store, or a
    git root's above the root — since the server then has no store for it.

    ``$MLOPS_HOME`` outside the root is a setting to change, not an absent store, so it is a
    :class:`PathError` (403) naming it rather than an empty answer; so is a store inside the root
    whose entries link out of it.
    """
    home = find_home(where)
    if inside(root, home):
        _check_links(home)
        return home
    if os.environ.get("MLOPS_HOME"):
        raise PathError(
            403,
            f"MLOPS_HOME ({home}) is outside the server root: the server serves only stores "
            "inside its root. Start the server with MLOPS_HOME unset, or set to a folder inside "
            f"{os.path.realpath(root)}.",
        )
    return None


def _check_links(home: Path) -> None:
    """Refuse a store whose own entries (``mlops.db``, ``runs/``, ``objects/``...) are links out
    of it: a linked database would serve another store's runs, a linked ``runs/`` any file."""
    real = os.path.realpath(home)
    try:
        names = sorted(os.listdir(real))
    except OSError:  # not there yet (or not a folder: the store's own check says so)
        return
    out = [n for n in names if not inside(real, os.path.join(real, n))]
    if out:
        listed = ", ".join(out[:5]) + (f" and {len(out) - 5:,} more" if len(out) > 5 else "")
        raise PathError(
            403,
            f"the store {home} links outside itself ({listed}): the server serves only "
            "stores whose files are inside its root. Replace the links with the folders and "
            "files themselves.",
        )


def writable_store(root: str | Path, where: str | Path) -> Path:
    """:func:`store_home`, made when there is none inside ``root``: the root's own ``.mlops/``.

    Made there, it is also the store ``mlops`` finds for every notebook under the root, so runs
    started from a terminal and from the server keep landing in the same place.
    """
    home = store_home(root, where)
    if home is not None:
        return home
    made = Path(root) / HOME_DIR
    try:
        made.mkdir(exist_ok=True)
    except OSError as exc:
        raise PathError(
            409, f"{made} cannot be made this server's store ({exc.strerror or exc})."
        ) from None
    home = store_home(root, where)
    if home is None:  # e.g. the root's .mlops is a link to a folder outside the root
        raise PathError(403, f"the store for {where} ({made}) resolves outside the server root.")
    return home
