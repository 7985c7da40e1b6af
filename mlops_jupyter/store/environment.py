"""What a run depends on outside its code: git state, Python, package versions, local modules.

Cheap by design, because a fully cached ``mlops run`` computes it too: no package is imported,
versions are read from ``*.dist-info`` folder names, and the import-name to distribution map is
kept on disk, keyed by the modification times of the site-packages folders. Local modules (the
notebook's folder, ``PYTHONPATH``, editable installs) are found as the stage kernel's import
system would find them and read with ``ast``, never imported; their hashes and imports are kept
on disk per file, so an unchanged tree costs a ``stat`` per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
import time
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


# -- modules a stage can import from outside site-packages and the standard library

MAX_MODULE_FILES = 20_000  # past this many local files a stage is not cached (never stale)
_OWN = "mlops_jupyter"  # the runtime every stage imports; not the user's code
_SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages", "node_modules"}


def _suffixes() -> tuple[str, ...]:
    from importlib.machinery import EXTENSION_SUFFIXES, SOURCE_SUFFIXES

    return (*SOURCE_SUFFIXES, *EXTENSION_SUFFIXES)


def _is_site(entry: str) -> bool:
    return os.path.basename(os.path.normpath(entry)) in ("site-packages", "dist-packages")


def kernel_path(folder: str | Path) -> list[str]:
    """The ``sys.path`` a stage kernel of this Python starts with, in its order: ``PYTHONPATH``,
    the standard library, the notebook folder (the kernel's working folder, which IPython puts
    before the first site-packages), site-packages and what their ``.pth`` files add
    (old-style editable installs). This process's own additions (its script's folder, its
    working folder, a test runner's) are not the kernel's."""
    found = [
        os.path.abspath(entry)
        for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep)
        if entry
    ]
    system = _system_roots()
    head: list[str] = []
    tail: list[str] = []
    for entry in sys.path:
        if not entry:
            continue
        if tail or _is_site(entry):
            tail.append(entry)
        elif entry.endswith(".zip") or _under(os.path.realpath(entry), system):
            head.append(entry)
    found += [*head, str(Path(folder).resolve()), *tail]
    return list(dict.fromkeys(found))


def _system_roots() -> tuple[str, ...]:
    """Folders whose modules are the standard library or installed packages, not local code."""
    import site
    import sysconfig

    roots = {sysconfig.get_path(key) for key in ("stdlib", "platstdlib", "purelib", "platlib")}
    roots.update(site.getsitepackages() if hasattr(site, "getsitepackages") else ())
    roots.add(site.getusersitepackages())
    roots.update(entry for entry in sys.path if entry and _is_site(entry))
    return tuple(sorted({os.path.realpath(r) for r in roots if r}))


def _under(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


def _find_spec(name: str, path: list[str]) -> Any:
    """The spec the kernel's import system would find for a top-level name, without importing
    it: built-in and frozen modules, then ``path``, then finders added by editable installs."""
    from importlib.machinery import BuiltinImporter, FrozenImporter, PathFinder

    spec = (
        BuiltinImporter.find_spec(name)
        or FrozenImporter.find_spec(name)
        or PathFinder.find_spec(name, path)
    )
    if spec is not None:
        return spec
    for finder in sys.meta_path:  # e.g. setuptools' __editable___*_finder
        if finder in (BuiltinImporter, FrozenImporter, PathFinder) or not hasattr(
            finder, "find_spec"
        ):
            continue
        try:
            spec = finder.find_spec(name, None)
        except Exception:  # someone else's finder: not ours to fail on
            continue
        if spec is not None:
            return spec
    return None


def _local_files(spec: Any, system: tuple[str, ...]) -> list[tuple[str, str]] | None:
    """``[(label, path)]`` of the files behind a module found outside site-packages and the
    standard library (a package: every module file below it), or None for one that is not."""
    if spec is None or spec.origin in ("built-in", "frozen"):
        return None
    if spec.submodule_search_locations is not None:
        roots = [os.path.realpath(p) for p in spec.submodule_search_locations]
    elif spec.origin and os.path.isfile(spec.origin):
        origin = os.path.realpath(spec.origin)
        return None if _under(origin, system) else [(os.path.basename(origin), origin)]
    else:
        return None
    roots = [r for r in roots if not _under(r, system) and os.path.isdir(r)]
    suffixes = _suffixes()
    files: list[tuple[str, str]] = []
    for number, root in enumerate(roots):
        for folder, dirs, names in os.walk(root):
            dirs[:] = sorted(d for d in dirs if d.isidentifier() and d not in _SKIP_DIRS)
            for file_name in sorted(names):
                if file_name.endswith(suffixes):
                    path = os.path.join(folder, file_name)
                    files.append((f"{number}/{os.path.relpath(path, root)}", path))
    return files or None  # a folder without Python code imports nothing that can change


def _imports_of(source: bytes) -> list[str]:
    """Top-level names a module's source may import: ``import x``, ``from x import y`` anywhere
    in it (functions and ``if`` branches included), ``__import__("x")`` and
    ``importlib.import_module("x")`` with a literal name. Relative imports stay inside the
    module's own package, which is hashed whole."""
    import ast

    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # the stage meets the same error when it imports the module
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module.split(".")[0])
        elif isinstance(node, ast.Call) and node.args:
            func, first = node.func, node.args[0]
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
            if (
                called in ("__import__", "import_module")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
                and first.value.split(".")[0].isidentifier()
            ):
                found.add(first.value.split(".")[0])
    return sorted(found)


class _ModuleFiles:
    """Content hash and imports of each local module file, kept in ``modules.json`` in the
    store's cache folder and trusted only while inode, size, mtime and ctime match and the file
    was not modified within ``RACY_WINDOW_NS`` of being read (``hashing.py``'s rules): an
    unchanged tree costs a ``stat`` per file, not a read and a parse."""

    def __init__(self, cache_dir: str | None) -> None:
        self.path = Path(cache_dir, "modules.json") if cache_dir else None
        self.entries: dict[str, list[Any]] = {}
        self.used: set[str] = set()
        self.changed = False
        if self.path is not None:
            try:
                self.entries = dict(json.loads(self.path.read_text()))
            except (OSError, ValueError, TypeError):
                pass

    def get(self, path: str) -> tuple[str, list[str]]:
        from .hashing import RACY_WINDOW_NS, _signature

        checked = time.time_ns()  # before the stat: a write while reading makes the entry racy
        self.used.add(path)
        st = os.stat(path)
        signature = list(_signature(st))
        entry = self.entries.get(path)
        if entry and entry[:4] == signature and entry[4] - st.st_mtime_ns > RACY_WINDOW_NS:
            return entry[5], entry[6]
        with open(path, "rb") as handle:
            data = handle.read()
        digest = hashlib.sha256(data).hexdigest()
        imports = _imports_of(data) if path.endswith(".py") else []
        if list(_signature(os.stat(path))) == signature:  # unchanged while read
            self.entries[path] = [*signature, checked, digest, imports]
            self.changed = True
        return digest, imports

    def save(self) -> None:
        if len(self.entries) > MAX_MODULE_FILES:  # files of projects long gone: start over
            self.entries = {p: e for p, e in self.entries.items() if p in self.used}
        if self.path is not None and self.changed:
            try:
                write_atomic(self.path, json.dumps(self.entries), fsync=False)
            except OSError:
                pass


def local_module_hashes(
    imports: Iterable[str], folder: str | Path, cache_dir: str | Path | None = None
) -> dict[str, str]:
    """Content hashes of the modules the given top-level names import from outside
    site-packages and the standard library, as the stage kernel finds them (:func:`kernel_path`:
    the notebook's folder, ``PYTHONPATH``, editable installs). Each name's hash covers its own
    files and, transitively, those of the local modules they import (read with ``ast``, never
    run) and the versions of the installed packages they import."""
    import importlib

    importlib.invalidate_caches()  # a module created a moment ago must be seen
    path = kernel_path(folder)
    system = _system_roots()
    files = _ModuleFiles(str(cache_dir) if cache_dir else None)
    budget = [MAX_MODULE_FILES]
    units: dict[str, tuple[str, list[str]] | None] = {}

    def unit(name: str) -> tuple[str, list[str]] | None:
        """(hash of its files, names they import), or None: not local, or not found."""
        if name not in units:
            found = None if name == _OWN else _local_files(_find_spec(name, path), system)
            if found is None:
                units[name] = None
            elif len(found) > budget[0]:
                # too big to hash on every run: never the same key, so never a stale answer
                units[name] = (f"unhashed: over {MAX_MODULE_FILES} files {os.urandom(8).hex()}", [])
            else:
                budget[0] -= len(found)
                digest = hashlib.sha256()
                names: set[str] = set()
                for label, file_path in found:
                    try:
                        content, imported = files.get(file_path)
                    except OSError as exc:  # gone or unreadable since the walk
                        content, imported = f"unreadable: {exc.strerror}", []
                    digest.update(f"{label}\0{content}\0".encode())
                    names.update(imported)
                units[name] = (digest.hexdigest(), sorted(names - {name}))
        return units[name]

    result: dict[str, str] = {}
    for name in sorted(set(imports)):
        if unit(name) is None:
            continue
        modules: dict[str, str] = {}
        others: list[str] = []
        seen, todo = {name}, [name]
        while todo:
            current = todo.pop()
            found = unit(current)
            if found is None:
                others.append(current)
                continue
            modules[current] = found[0]
            todo += [m for m in found[1] if m not in seen]
            seen.update(found[1])
        packages = package_versions(sorted(others), cache_dir)
        blob = json.dumps({"modules": modules, "packages": packages}, sort_keys=True)
        result[name] = hashlib.sha256(blob.encode()).hexdigest()
    files.save()
    return result
