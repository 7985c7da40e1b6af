"""What a run depends on outside its code: git state, Python, package versions, local modules.

Cheap by design, because a fully cached ``mlops run`` computes it too: no package is imported,
versions are read from ``*.dist-info`` folder names, and the import-name to distribution map is
kept on disk, keyed by the modification times of the site-packages folders.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..files import write_atomic


def git_state(folder: str | Path) -> dict[str, Any]:
    """``{"git_commit": sha or None, "git_dirty": bool or None}`` for the repository holding folder."""
    try:
        out = subprocess.run(
            [
                "git",
                "-C",
                str(folder),
                "status",
                "--porcelain=v2",
                "--branch",
                "--untracked-files=no",
            ],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return {"git_commit": None, "git_dirty": None}
    if out.returncode != 0:
        return {"git_commit": None, "git_dirty": None}
    commit = None
    dirty = False
    for line in out.stdout.splitlines():
        if line.startswith("# branch.oid "):
            oid = line.split()[2]
            commit = None if oid == "(initial)" else oid
        elif not line.startswith("#"):
            dirty = True
    return {"git_commit": commit, "git_dirty": dirty}


def python_version() -> str:
    return f"{platform.python_implementation()} {platform.python_version()}"


def _site_dirs() -> list[str]:
    return [
        p
        for p in sys.path
        if p and os.path.isdir(p) and ("site-packages" in p or "dist-packages" in p)
    ]


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def _scan(dirs: list[str]) -> dict[str, str]:
    """import name -> "dist==version", from dist-info metadata (top_level.txt or RECORD)."""
    found: dict[str, str] = {}
    for folder in dirs:
        for entry in sorted(os.listdir(folder)):
            if not entry.endswith(".dist-info"):
                continue
            stem = entry[: -len(".dist-info")]
            dist, _, version = stem.partition("-")
            label = f"{dist}=={version}"
            info = Path(folder, entry)
            names: set[str] = {_normalize(dist)}
            top = info / "top_level.txt"
            try:
                if top.exists():
                    names.update(n.strip() for n in top.read_text().split() if n.strip())
                else:
                    for line in (info / "RECORD").read_text().splitlines():
                        first = line.split(",", 1)[0].split("/", 1)[0]
                        if (
                            first
                            and not first.endswith((".dist-info", ".data", ".pth"))
                            and ".." not in first
                        ):
                            names.add(first[:-3] if first.endswith(".py") else first)
            except OSError:
                pass
            for name in names:
                found.setdefault(name, label)
    return found


_MEMO: dict[str, dict[str, str]] = {}  # stamp -> map: a long-lived process sees upgrades


def _distributions(cache_dir: str | None) -> dict[str, str]:
    dirs = _site_dirs()
    stamp = hashlib.sha256(
        json.dumps([(d, os.stat(d).st_mtime_ns) for d in dirs]).encode()
    ).hexdigest()
    if stamp in _MEMO:
        return _MEMO[stamp]
    cache = Path(cache_dir, "packages.json") if cache_dir else None
    found: dict[str, str] | None = None
    if cache is not None:
        try:
            data = json.loads(cache.read_text())
            if data.get("stamp") == stamp:
                found = dict(data["map"])
        except (OSError, ValueError, KeyError):
            pass
    if found is None:
        found = _scan(dirs)
        if cache is not None:
            try:
                write_atomic(cache, json.dumps({"stamp": stamp, "map": found}), fsync=False)
            except OSError:
                pass
    _MEMO.clear()
    _MEMO[stamp] = found
    return found


def package_versions(imports: Iterable[str], cache_dir: str | Path | None = None) -> dict[str, str]:
    """Versions of the installed distributions behind the given top-level import names."""
    table = _distributions(str(cache_dir) if cache_dir else None)
    found = {}
    for name in imports:
        label = table.get(name) or table.get(_normalize(name))
        if label:
            found[name] = label
    return found


def local_module_hashes(imports: Iterable[str], folder: str | Path) -> dict[str, str]:
    """Content hashes of modules imported from the notebook's own folder (``utils.py``, ``lib/``)."""
    found = {}
    base = Path(folder)
    for name in imports:
        digest = hashlib.sha256()
        single = base / f"{name}.py"
        package = base / name
        if single.is_file():
            digest.update(single.read_bytes())
        elif (package / "__init__.py").is_file() or (
            package.is_dir() and any(package.glob("*.py"))
        ):
            for path in sorted(package.rglob("*.py")):
                digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
        else:
            continue
        found[name] = digest.hexdigest()
    return found
