"""Request paths -> files inside the root: the refusals, without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops_jupyter.server.paths import (
    PathError,
    inside,
    relative,
    resolve,
    store_home,
    writable_store,
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "root" / "sub").mkdir(parents=True)
    (tmp_path / "root" / "sub" / "nb.ipynb").write_text("{}")
    (tmp_path / "root-other").mkdir()  # shares a prefix with the root: still outside it
    (tmp_path / "root-other" / "x.ipynb").write_text("{}")
    return tmp_path / "root"


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (None, 400),
        ("", 400),
        ("  ", 400),
        (3, 400),
        ("sub/\0.ipynb", 400),
        ("/etc/passwd", 403),
        ("../root-other/x.ipynb", 403),
        ("sub/../sub/nb.ipynb", 403),  # any '..' is refused, even one that stays inside
        ("sub/missing.ipynb", 404),
    ],
)
def test_refusals(root: Path, path: object, status: int) -> None:
    with pytest.raises(PathError) as caught:
        resolve(root, path)
    assert caught.value.status == status


def test_a_symlinked_root_and_prefix_siblings(root: Path, tmp_path: Path) -> None:
    link = tmp_path / "link-to-root"
    link.symlink_to(root)
    found = resolve(link, "sub/nb.ipynb")  # the root itself may be reached through a link
    assert found.real == (root / "sub" / "nb.ipynb").resolve()
    assert found.api_path == "sub/nb.ipynb"
    (root / "escape").symlink_to(tmp_path / "root-other")
    with pytest.raises(PathError) as caught:
        resolve(root, "escape/x.ipynb")
    assert caught.value.status == 403


def test_hidden_paths_follow_allow_hidden(root: Path) -> None:
    (root / ".secret").mkdir()
    (root / ".secret" / "nb.ipynb").write_text("{}")
    (root / "visible.ipynb").symlink_to(root / ".secret" / "nb.ipynb")
    for path in (".secret/nb.ipynb", "./.secret/nb.ipynb", "visible.ipynb"):
        with pytest.raises(PathError):
            resolve(root, path, allow_hidden=False)
        assert resolve(root, path, allow_hidden=True).real.name == "nb.ipynb"
    assert resolve(root, "./sub/nb.ipynb", allow_hidden=False).api_path == "./sub/nb.ipynb"


def test_relative_and_inside(root: Path, tmp_path: Path) -> None:
    assert relative(root, root / "sub" / "nb.ipynb") == "sub/nb.ipynb"
    assert relative(root, tmp_path / "root-other" / "x.ipynb") is None
    assert relative(root, root) is None
    assert relative(root, None) is None
    assert inside(root, root / "sub")
    assert not inside(root, tmp_path / "root-other")


def test_the_store_is_found_inside_the_root_only(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    nb = root / "sub" / "nb.ipynb"
    (tmp_path / ".mlops").mkdir()  # the root's parent's: what `mlops` under the root would use
    assert store_home(root, nb) is None
    made = writable_store(root, nb)  # the root's own, which `mlops` then finds as well
    assert made == root / ".mlops" and made.is_dir()
    assert store_home(root, nb) == made
    (root / "sub" / ".mlops").mkdir()  # a nearer one inside the root serves its notebooks
    assert store_home(root, nb) == root / "sub" / ".mlops"


def test_a_store_linked_outside_the_root_is_not_served(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    (tmp_path / "elsewhere").mkdir()
    (root / ".mlops").symlink_to(tmp_path / "elsewhere")
    assert store_home(root, root / "sub" / "nb.ipynb") is None
    with pytest.raises(PathError) as caught:
        writable_store(root, root / "sub" / "nb.ipynb")
    assert caught.value.status == 403


def test_mlops_home_counts_only_inside_the_root(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MLOPS_HOME", str(root / "store"))
    assert store_home(root, root / "sub") == root / "store"
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "store"))
    for find in (store_home, writable_store):
        with pytest.raises(PathError) as caught:
            find(root, root / "sub")
        assert caught.value.status == 403
        assert "MLOPS_HOME" in caught.value.message
    assert not (tmp_path / "store").exists()


def test_a_store_with_entries_linked_out_of_it_is_refused(
    root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MLOPS_HOME", raising=False)
    store = root / ".mlops"
    (store / "objects").mkdir(parents=True)
    (store / "also-objects").symlink_to(store / "objects")  # a link within the store is fine
    assert store_home(root, root / "sub") == store
    (tmp_path / "elsewhere").mkdir()
    (store / "runs").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(PathError) as caught:
        store_home(root, root / "sub")
    assert caught.value.status == 403
    assert "runs" in caught.value.message and "also-objects" not in caught.value.message
