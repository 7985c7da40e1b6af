"""What a run depends on outside its code: git state, Python, package versions, local modules."""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import subprocess
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
