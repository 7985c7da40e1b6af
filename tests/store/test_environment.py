"""What a run depends on outside its code: git state, Python, package versions, local modules."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlops_jupyter.store import environment
from mlops_jupyter.store.environment import (
    git_state,
    local_module_hashes,
    package_versions,
    python_version,
)


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    folder.mkdir()
    git(folder, "init", "-q")
    git(folder, "config", "user.email", "t@example.com")
    git(folder, "config", "user.name", "t")
    git(folder, "config", "commit.gpgsign", "false")
    return folder


def test_a_folder_outside_git_has_no_commit(tmp_path: Path) -> None:
    assert git_state(tmp_path) == {"git_commit": None, "git_dirty": None}


def test_a_missing_folder_has_no_commit(tmp_path: Path) -> None:
    assert git_state(tmp_path / "gone") == {"git_commit": None, "git_dirty": None}


def test_a_repository_without_commits_has_no_commit_yet(repo: Path) -> None:
    assert git_state(repo) == {"git_commit": None, "git_dirty": False}


def test_git_state_is_the_head_commit_and_whether_tracked_files_changed(repo: Path) -> None:
    (repo / "nb.ipynb").write_text("{}")
    git(repo, "add", "nb.ipynb")
    git(repo, "commit", "-q", "-m", "first")
    head = git(repo, "rev-parse", "HEAD")
    (repo / "sub").mkdir()
    assert git_state(repo / "sub") == {"git_commit": head, "git_dirty": False}

    (repo / "scratch.txt").write_text("untracked files do not make the code dirty")
    assert git_state(repo) == {"git_commit": head, "git_dirty": False}

    (repo / "nb.ipynb").write_text('{"cells": []}')
    assert git_state(repo) == {"git_commit": head, "git_dirty": True}

    git(repo, "add", "nb.ipynb")  # staged but not committed is still dirty
    assert git_state(repo) == {"git_commit": head, "git_dirty": True}


def test_python_version_names_implementation_and_version() -> None:
    assert python_version() == f"{platform.python_implementation()} {platform.python_version()}"


@pytest.mark.parametrize(
    ("module", "distribution"),
    [("numpy", "numpy"), ("sklearn", "scikit-learn"), ("zmq", "pyzmq"), ("yaml", "pyyaml")],
)
def test_an_imported_module_maps_to_its_installed_distribution_version(
    module: str, distribution: str, tmp_path: Path
) -> None:
    found = package_versions([module], tmp_path / "cache")
    assert found[module].split("==")[1] == importlib.metadata.version(distribution)


def test_standard_library_and_unknown_modules_have_no_version(tmp_path: Path) -> None:
    assert package_versions(["os", "json", "no_such_module_xyz"], tmp_path / "cache") == {}


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site-packages folder of our own, first on sys.path."""
    folder = tmp_path / "lib" / "site-packages"
    folder.mkdir(parents=True)
    monkeypatch.syspath_prepend(str(folder))
    return folder


def dist_info(
    site: Path, stem: str, *, top_level: str | None = None, record: str | None = None
) -> Path:
    info = site / f"{stem}.dist-info"
    info.mkdir()
    if top_level is not None:
        (info / "top_level.txt").write_text(top_level)
    if record is not None:
        (info / "RECORD").write_text(record)
    # an install long ago: any later change to the folder gives it a different mtime
    past = time.time() - 100
    os.utime(site, (past, past))
    return info


def test_import_names_come_from_top_level_txt_or_the_record(site: Path, tmp_path: Path) -> None:
    dist_info(site, "Fancy_Dist-1.2.3", top_level="fancymod\n_fancy_c\n")
    dist_info(
        site,
        "packaged_thing-0.4",
        record="thingpkg/__init__.py,sha256=x,1\nthingpkg/core.py,,\n"
        "packaged_thing-0.4.dist-info/METADATA,,\n../../bin/thing,,\n",
    )
    dist_info(site, "single_file-2.0", record="solo_module.py,sha256=x,1\n")
    found = package_versions(
        ["fancymod", "_fancy_c", "thingpkg", "solo_module", "packaged_thing"], tmp_path / "c"
    )
    assert found == {
        "fancymod": "Fancy_Dist==1.2.3",
        "_fancy_c": "Fancy_Dist==1.2.3",
        "thingpkg": "packaged_thing==0.4",
        "solo_module": "single_file==2.0",
        "packaged_thing": "packaged_thing==0.4",
    }


def test_the_import_map_is_cached_on_disk_keyed_by_the_site_folders(
    site: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    dist_info(site, "cachedpkg-1.0", top_level="cachedpkg")
    assert package_versions(["cachedpkg"], cache) == {"cachedpkg": "cachedpkg==1.0"}
    saved = json.loads((cache / "packages.json").read_text())
    assert saved["map"]["cachedpkg"] == "cachedpkg==1.0"

    # a new process with the site folders unchanged trusts the file (no rescan)...
    saved["map"]["cachedpkg"] = "cachedpkg==from-the-cache-file"
    (cache / "packages.json").write_text(json.dumps(saved))
    environment._MEMO.clear()  # as a new process would start
    assert package_versions(["cachedpkg"], cache) == {"cachedpkg": "cachedpkg==from-the-cache-file"}

    # ...and rescans once a site folder changed (an install or upgrade)
    (site / "cachedpkg-1.0.dist-info").rename(site / "cachedpkg-1.1.dist-info")
    environment._MEMO.clear()  # as a new process would start
    assert package_versions(["cachedpkg"], cache) == {"cachedpkg": "cachedpkg==1.1"}


def test_a_long_lived_process_sees_a_package_upgrade(site: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    dist_info(site, "upgraded-1.0", top_level="upgraded")
    assert package_versions(["upgraded"], cache) == {"upgraded": "upgraded==1.0"}
    (site / "upgraded-1.0.dist-info").rename(site / "upgraded-2.0.dist-info")
    assert package_versions(["upgraded"], cache) == {"upgraded": "upgraded==2.0"}


def test_local_modules_are_hashed_by_content(tmp_path: Path) -> None:
    (tmp_path / "utils.py").write_text("def f():\n    return 1\n")
    package = tmp_path / "lib"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "deep.py").write_text("X = 1\n")
    namespace = tmp_path / "scripts"
    namespace.mkdir()
    (namespace / "tool.py").write_text("Y = 2\n")
    (tmp_path / "data").mkdir()  # a folder without Python is not a module

    names = ["utils", "lib", "scripts", "data", "numpy", "missing"]
    first = local_module_hashes(names, tmp_path)
    assert set(first) == {"utils", "lib", "scripts"}
    assert local_module_hashes(names, tmp_path) == first

    (package / "sub" / "deep.py").write_text("X = 2\n")
    second = local_module_hashes(names, tmp_path)
    assert second["lib"] != first["lib"]
    assert second["utils"] == first["utils"] and second["scripts"] == first["scripts"]

    (package / "sub" / "deep.py").rename(package / "sub" / "renamed.py")
    assert local_module_hashes(names, tmp_path)["lib"] != second["lib"]

    (tmp_path / "utils.py").write_text("def f():\n    return 2\n")
    assert local_module_hashes(names, tmp_path)["utils"] != first["utils"]


# -- local modules, transitively, as the stage kernel finds them (issue 9)


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def hashes(names: list[str], folder: Path, cache: Path | None = None) -> dict[str, str]:
    if cache is None:
        return local_module_hashes(names, folder)
    return local_module_hashes(names, folder, cache)


def test_a_module_two_imports_away_is_in_the_hash(tmp_path: Path) -> None:
    write(tmp_path / "helpers.py", "from deep import VALUE\n\ndef f():\n    return VALUE\n")
    deep = write(tmp_path / "deep.py", "VALUE = 1\n")
    write(tmp_path / "deeper" / "__init__.py", "")
    deeper = write(tmp_path / "deeper" / "core.py", "W = 1\n")
    write(tmp_path / "lazy.py", "def g():\n    import deeper.core\n    return deeper.core.W\n")
    first = hashes(["helpers", "lazy"], tmp_path)
    assert set(first) == {"helpers", "lazy"}

    deep.write_text("VALUE = 22\n")
    second = hashes(["helpers", "lazy"], tmp_path)
    assert second["helpers"] != first["helpers"]
    assert second["lazy"] == first["lazy"]

    deeper.write_text("W = 2\n")  # imported inside a function: still what the stage can run
    assert hashes(["helpers", "lazy"], tmp_path)["lazy"] != second["lazy"]


def test_relative_imports_and_a_package_importing_another_local_module(tmp_path: Path) -> None:
    write(tmp_path / "lib" / "__init__.py", "from . import sub\nfrom .sub.deep import X\n")
    write(tmp_path / "lib" / "sub" / "__init__.py", "")
    deep = write(tmp_path / "lib" / "sub" / "deep.py", "from tools import Y\nX = Y\n")
    tools = write(tmp_path / "tools.py", "Y = 1\n")
    first = hashes(["lib"], tmp_path)["lib"]
    tools.write_text("Y = 22\n")
    second = hashes(["lib"], tmp_path)["lib"]
    assert second != first
    deep.write_text("from tools import Y\nX = Y + 1\n")
    assert hashes(["lib"], tmp_path)["lib"] != second


def test_import_cycles_end(tmp_path: Path) -> None:
    write(tmp_path / "ping.py", "import pong\n")
    write(tmp_path / "pong.py", "import ping\n")
    found = hashes(["ping", "pong"], tmp_path)
    assert set(found) == {"ping", "pong"}


def test_a_module_on_pythonpath_outside_the_notebook_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook, shared = tmp_path / "notebooks", tmp_path / "shared"
    notebook.mkdir()
    common = write(shared / "common.py", "K = 1\n")
    assert hashes(["common"], notebook) == {}
    monkeypatch.setenv("PYTHONPATH", str(shared))
    first = hashes(["common"], notebook)
    assert set(first) == {"common"}
    common.write_text("K = 22\n")
    assert hashes(["common"], notebook) != first


def test_pythonpath_comes_before_the_notebook_folder_as_in_the_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    notebook, shared = tmp_path / "notebooks", tmp_path / "shared"
    write(notebook / "common.py", "K = 'the notebook folder'\n")
    common = write(shared / "common.py", "K = 'PYTHONPATH'\n")
    monkeypatch.setenv("PYTHONPATH", str(shared))
    path = environment.kernel_path(notebook)
    assert path.index(str(shared)) < path.index(str(notebook.resolve()))
    first = hashes(["common"], notebook)
    common.write_text("K = 'PYTHONPATH, edited'\n")
    assert hashes(["common"], notebook) != first


def test_the_kernel_path_has_the_notebook_folder_not_this_process_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    here = tmp_path / "here"
    write(here / "onlyhere.py", "X = 1\n")
    monkeypatch.chdir(here)
    monkeypatch.syspath_prepend(str(here))  # as `python -m` or a script's folder would
    (tmp_path / "nb").mkdir()
    assert str(here) not in environment.kernel_path(tmp_path / "nb")
    assert hashes(["onlyhere"], tmp_path / "nb") == {}


def test_an_editable_install_is_hashed_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # old style: a .pth line puts the source tree on sys.path after site-packages
    source = tmp_path / "src"
    core = write(source / "mypkg" / "core.py", "A = 1\n")
    write(source / "mypkg" / "__init__.py", "from .core import A\n")
    monkeypatch.setattr(sys, "path", [*sys.path, str(source)])
    assert_found_and_edit_changes("mypkg", tmp_path / "nb", core)


def assert_found_and_edit_changes(name: str, notebook: Path, module: Path) -> None:
    notebook.mkdir()
    first = hashes([name], notebook)
    assert set(first) == {name}
    module.write_text(module.read_text() + "# edited\n")
    assert hashes([name], notebook) != first


def test_an_editable_install_through_a_finder_is_hashed_by_content(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # new style (setuptools' __editable___*_finder): a meta path finder maps the name
    import importlib.util

    package = tmp_path / "elsewhere" / "finderpkg"
    write(package / "__init__.py", "from .impl import B\n")
    impl = write(package / "impl.py", "B = 1\n")

    class EditableFinder:
        @staticmethod
        def find_spec(name: str, path: object = None, target: object = None) -> object:
            if name != "finderpkg":
                return None
            return importlib.util.spec_from_file_location(
                name, package / "__init__.py", submodule_search_locations=[str(package)]
            )

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, EditableFinder])
    assert_found_and_edit_changes("finderpkg", tmp_path / "nb", impl)


def test_installed_and_standard_modules_are_not_local_even_under_the_notebook_folder(
    site: Path, tmp_path: Path
) -> None:
    write(site / "installed_mod.py", "X = 1\n")  # in a site-packages folder inside tmp_path
    (tmp_path / "email").mkdir()  # a folder named like a standard package is not `import email`
    write(tmp_path / "email" / "notes.py", "")
    assert hashes(["installed_mod", "email", "json", "os", "sys"], tmp_path) == {}


def test_the_version_of_a_package_a_local_module_imports_is_in_the_hash(
    site: Path, tmp_path: Path
) -> None:
    write(tmp_path / "helpers.py", "import fancylib\n")
    dist_info(site, "fancylib-1.0", top_level="fancylib")
    first = hashes(["helpers"], tmp_path, tmp_path / "cache")
    (site / "fancylib-1.0.dist-info").rename(site / "fancylib-2.0.dist-info")
    assert hashes(["helpers"], tmp_path, tmp_path / "cache") != first


def test_an_unchanged_tree_costs_stats_not_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    helpers = write(tmp_path / "helpers.py", "import deep\n")
    deep = write(tmp_path / "deep.py", "VALUE = 1\n")
    past = time.time() - 100  # written long ago: not racily clean
    for path in (helpers, deep):
        os.utime(path, (past, past))
    first = hashes(["helpers"], tmp_path, cache)
    assert (cache / "modules.json").is_file()

    def no_reads(*args: object, **kwargs: object) -> None:
        raise AssertionError("an unchanged module was read again")

    with monkeypatch.context() as patched:
        patched.setattr(environment, "_imports_of", no_reads)
        patched.setattr(environment, "open", no_reads, raising=False)
        assert hashes(["helpers"], tmp_path, cache) == first

    # an edit that puts the old mtime back still moves ctime: read again
    deep.write_text("VALUE = 2\n")
    os.utime(deep, (past, past))
    assert hashes(["helpers"], tmp_path, cache) != first


def test_a_module_edited_within_the_racy_window_is_read_again(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    module = write(tmp_path / "quick.py", "A = 1\n")
    first = hashes(["quick"], tmp_path, cache)
    stat = module.stat()
    module.write_text("A = 2\n")  # same size, maybe the same mtime tick
    os.utime(module, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert hashes(["quick"], tmp_path, cache) != first


def test_past_the_file_bound_a_module_never_hashes_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(environment, "MAX_MODULE_FILES", 2)
    for name in ("__init__", "a", "b"):
        write(tmp_path / "big" / f"{name}.py", "")
    write(tmp_path / "small.py", "")
    first, second = hashes(["big", "small"], tmp_path), hashes(["big", "small"], tmp_path)
    assert first["big"] != second["big"]  # not cached, rather than possibly stale
    assert first["small"] == second["small"]
