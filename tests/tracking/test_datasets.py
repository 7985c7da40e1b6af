"""Data versions: tables described over all rows, change and schema diffs, DataFrames."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlops_jupyter.store.db import Store
from mlops_jupyter.tracking import datasets

pd = pytest.importorskip("pandas")


@pytest.fixture
def store(tmp_path: Path) -> Store:
    with Store(tmp_path / ".mlops") as opened:
        yield opened


def track(store: Store, source: object, **kw: object) -> datasets.DataVersion:
    return datasets.track(store, source, run_id=None, stage=None, **kw)  # type: ignore[arg-type]


def test_csv_version_describes_every_row(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "big.csv"
    n = 25_000  # more than MLflow's 10,000-row digest, and than one chunk below
    frame = pd.DataFrame({"a": range(n), "b": [0.5] * (n - 1) + [None], "c": ["x"] * n})
    frame.to_csv(path, index=False)
    first = track(store, path)
    assert (first.kind, first.rows, first.columns) == ("file", n, ["a", "b", "c"])
    assert first.dtypes == {"a": "int64", "b": "float64", "c": first.dtypes["c"]}
    assert first.profile["a"] == {"nulls": 0, "min": 0, "max": n - 1, "mean": (n - 1) / 2}
    assert first.profile["b"]["nulls"] == 1
    assert first.profile["c"] == {"nulls": 0}
    assert not first.changed and first.previous is None

    frame.loc[n - 1, "a"] = -7  # a change past row 10,000
    frame.to_csv(path, index=False)
    second = track(store, path)
    assert second.changed and second.previous == first.hash
    assert second.profile["a"]["min"] == -7
    assert second.schema_diff is None  # same columns, same types, same row count


def test_chunks_agree_with_one_read(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    frame = pd.DataFrame({"a": list(range(10)) + [None] * 3 + [100], "b": list("abcdefghijklmn")})
    frame.to_csv(path, index=False)
    whole = track(store, path)
    monkeypatch.setattr(datasets, "CHUNK_ROWS", 4)  # first chunks all ints, later ones floats
    path.write_text(path.read_text() + "")
    chunked = datasets.describe_table(str(path), "csv")
    assert chunked["profile"] == whole.profile
    assert chunked["dtypes"]["a"] == "float64"


def test_schema_diff_against_the_previous_version(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "t.parquet"
    pd.DataFrame({"a": [1, 2], "b": [1.0, 2.0], "c": ["x", "y"]}).to_parquet(path)
    track(store, path)
    pd.DataFrame({"a": [1.5, 2.0, 3.0], "c": ["x", "y", "z"], "d": [True, False, True]}).to_parquet(
        path
    )
    version = track(store, path)
    assert version.changed
    assert version.schema_diff == {
        "added": ["d"],
        "removed": ["b"],
        "dtypes": {"a": ["int64", "float64"]},
        "rows": [2, 3],
    }
    assert version.rows == 3


def test_unchanged_file_reuses_its_description(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a\n1\n2\n")
    past = time.time_ns() - 10**12
    os.utime(path, ns=(past, past))
    first = track(store, path)

    def no_reading(*args: object) -> None:
        raise AssertionError("an unchanged table must not be read again")

    monkeypatch.setattr(datasets, "describe_table", no_reading)
    again = track(store, path)
    assert (again.hash, again.rows, again.profile, again.changed) == (
        first.hash,
        2,
        first.profile,
        False,
    )


def test_dataframe_hash_covers_all_rows(store: Store) -> None:
    frame = pd.DataFrame({"a": range(20_000), "b": ["x"] * 20_000})
    first = track(store, frame, name="train")
    assert (first.kind, first.path, first.rows) == ("dataframe", "train", 20_000)
    assert not first.changed
    same = track(store, frame.copy(), name="train")
    assert same.hash == first.hash and not same.changed
    edited = frame.copy()
    edited.loc[15_000, "b"] = "y"
    changed = track(store, edited, name="train")
    assert changed.changed and changed.previous == first.hash
    renamed = frame.rename(columns={"b": "c"})
    assert track(store, renamed, name="train").schema_diff == {
        "added": ["c"],
        "removed": ["b"],
        "dtypes": {},
    }


def test_unhashable_cells_still_version(store: Store) -> None:
    frame = pd.DataFrame({"a": [[1, 2], [3]]})
    assert len(track(store, frame, name="lists").hash) == 64


def test_not_a_table_is_still_a_file(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    version = track(store, path)
    assert (version.kind, version.rows, version.columns) == ("file", None, None)
    broken = tmp_path / "broken.parquet"
    broken.write_text("not parquet")
    assert track(store, broken).rows is None


def test_bad_sources_are_type_errors(tmp_path: Path, store: Store) -> None:
    with pytest.raises(
        TypeError, match=r"takes a file or folder path or a pandas DataFrame, not int \(3\)"
    ):
        track(store, 3)
    with pytest.raises(TypeError, match="name is for DataFrames"):
        track(store, tmp_path, name="x")
    with pytest.raises(FileNotFoundError):
        track(store, tmp_path / "missing.csv")


def test_versions_are_recorded_newest_first(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "d.csv"
    path.write_text("a\n1\n")
    track(store, path)
    path.write_text("a\n1\n2\n")
    track(store, path)
    rows = store.data_versions([str(path)])
    assert [r["rows"] for r in rows] == [2, 1]
    assert [r["changed"] for r in rows] == [True, False]
    assert rows[0]["schema_diff"] == {"added": [], "removed": [], "dtypes": {}, "rows": [1, 2]}
    assert repr(datasets.DataVersion(str(path), "ab" * 32, 4, False, "file")).startswith(
        "DataVersion(path="
    )


def test_track_data_and_mlops_data_use_one_word_for_each_version(
    tmp_path: Path, store: Store
) -> None:
    """A path's first version is new (nothing to have changed from), then unchanged or changed:
    what track_data returns, what it records, and what `mlops data` prints all say the same."""
    import subprocess
    import sys

    path = tmp_path / "d.csv"
    path.write_text("a\n1\n")
    first = track(store, path)
    second = track(store, path, verify=True)
    path.write_text("a\n2\n")
    third = track(store, path)
    said = [(v.new, v.changed) for v in (first, second, third)]
    assert said == [(True, False), (False, False), (False, True)]
    assert "new=True" in repr(first) and "new=True" not in repr(second)
    recorded = store.data_versions([str(path)])[::-1]
    assert [(r["new"], r["changed"]) for r in recorded] == said

    table = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", "data", str(path)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MLOPS_HOME": str(store.home)},
        timeout=60,
    )
    assert table.returncode == 0, table.stderr
    rows = [line for line in table.stdout.splitlines()[1:] if not line.startswith("  ")]
    printed = [line.split()[-2] for line in rows]  # newest first (notes below are indented)
    assert printed == ["changed", "1x1", "new"]  # the unchanged version has no word
