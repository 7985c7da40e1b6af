"""Drift: the tests Evidently picks by default, each statistic checked against scipy's own
function on known samples; sketches that let old versions be compared; ``mlops data drift``."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from mlops_jupyter.store.db import Store
from mlops_jupyter.tracking import datasets, drift

np = pytest.importorskip("numpy")
pd = pytest.importorskip("pandas")
stats = pytest.importorskip("scipy.stats")
from scipy.spatial import distance  # noqa: E402


def _frames(
    n: int, *, shift: float = 0.0, weights: tuple[float, ...] = (0.5, 0.3, 0.2), seed: int = 0
) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "income": rng.normal(50 + shift, 10, n),
            "age": rng.integers(18, 90, n),
            "city": rng.choice(["rome", "oslo", "lima"], n, p=list(weights)),
            "score": rng.uniform(0, 1, n),
        }
    )


# -- each statistic is scipy's


def test_small_reference_uses_ks_and_chi_square_as_scipy_computes_them() -> None:
    ref, cur = _frames(800, seed=1), _frames(700, shift=3, weights=(0.2, 0.3, 0.5), seed=2)
    found = drift.drift(ref, cur)["columns"]
    ks = stats.ks_2samp(ref["income"], cur["income"])
    assert found["income"]["test"] == "ks"
    assert math.isclose(found["income"]["statistic"], ks.statistic)
    assert math.isclose(found["income"]["p_value"], ks.pvalue, rel_tol=1e-9, abs_tol=1e-300)
    counts_ref, counts_cur = ref["city"].value_counts(), cur["city"].value_counts()
    keys = sorted(counts_ref.index)
    table = [[counts_ref[k] for k in keys], [counts_cur[k] for k in keys]]
    chi = stats.chi2_contingency(table, correction=False)
    assert found["city"]["test"] == "chisquare"
    assert math.isclose(found["city"]["statistic"], chi.statistic)
    assert math.isclose(found["city"]["p_value"], chi.pvalue, rel_tol=1e-9, abs_tol=1e-300)
    assert found["city"]["threshold"] == found["income"]["threshold"] == 0.05


def test_large_reference_uses_normed_wasserstein_and_jensen_shannon_as_scipy_computes_them() -> (
    None
):
    ref, cur = _frames(5000, seed=3), _frames(4000, shift=2, weights=(0.4, 0.3, 0.3), seed=4)
    found = drift.drift(ref, cur)["columns"]
    wd = stats.wasserstein_distance(ref["income"], cur["income"]) / np.std(ref["income"])
    assert found["income"]["test"] == "wasserstein_normed" and found["income"]["p_value"] is None
    assert math.isclose(found["income"]["statistic"], wd)
    keys = sorted(set(ref["city"]))
    p = np.array([(ref["city"] == k).mean() for k in keys])
    q = np.array([(cur["city"] == k).mean() for k in keys])
    assert found["city"]["test"] == "jensenshannon"
    assert math.isclose(found["city"]["statistic"], distance.jensenshannon(p, q))
    assert found["city"]["threshold"] == found["income"]["threshold"] == 0.1


def test_shifted_and_reweighted_columns_drift_and_only_they() -> None:
    for n in (600, 5000):  # both families of tests
        ref = _frames(n, seed=10)
        cur = _frames(n, shift=6, weights=(0.15, 0.25, 0.6), seed=11)
        found = drift.drift(ref, cur)
        drifted = {name for name, c in found["columns"].items() if c["drift"]}
        assert drifted == {"income", "city"}, (n, found["columns"])
        assert found["share"] == 0.5 and found["drift"] is True  # at least half: data set drift
        same = drift.drift(ref, _frames(n, seed=14))
        assert not any(c["drift"] for c in same["columns"].values()), same["columns"]
        assert same["drift"] is False


def test_a_numeric_column_with_few_values_is_tested_as_categories() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"rating": rng.integers(1, 6, 500)})
    cur = pd.DataFrame({"rating": rng.integers(1, 6, 500)})
    assert drift.drift(ref, cur)["columns"]["rating"]["test"] == "chisquare"


def test_a_value_the_reference_never_had_is_named_and_drifts_when_it_is_common() -> None:
    ref = pd.DataFrame({"c": ["a", "b"] * 200})
    rare = drift.drift(ref, pd.DataFrame({"c": ["a", "b"] * 199 + ["zzz", "zzz"]}))["columns"]
    assert "'zzz'" in rare["c"]["note"] and not rare["c"]["drift"]  # 2 rows in 400: noise
    common = drift.drift(ref, pd.DataFrame({"c": ["a", "b"] * 180 + ["zzz"] * 40}))["columns"]
    assert common["c"]["drift"] and "'zzz'" in common["c"]["note"]


def test_equal_samples_from_one_distribution_raise_the_false_alarms_the_threshold_says() -> None:
    # two-sample chi-squared: about 5 in 100 when nothing changed (Evidently's goodness-of-fit
    # variant, which takes the reference's shares as exact, gives about 22 in 100 here)
    alarms = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        ref = pd.DataFrame({"c": rng.choice(list("abc"), 600, p=[0.5, 0.3, 0.2])})
        cur = pd.DataFrame({"c": rng.choice(list("abc"), 600, p=[0.5, 0.3, 0.2])})
        alarms += drift.drift(ref, cur)["columns"]["c"]["drift"]
    assert 2 <= alarms <= 20, alarms  # 10 expected; a binomial(200, 0.05) is inside 99.9 %


def test_columns_on_one_side_and_empty_columns_are_noted_not_counted() -> None:
    ref = pd.DataFrame({"a": np.arange(100.0), "gone": np.arange(100.0), "empty": [None] * 100})
    cur = pd.DataFrame({"a": np.arange(100.0), "new": np.arange(100.0), "empty": [None] * 100})
    found = drift.drift(ref, cur)
    assert found["columns"]["gone"]["note"] == "not in the current data"
    assert found["columns"]["new"]["note"] == "not in the reference data"
    assert found["columns"]["empty"]["test"] is None
    assert found["share"] == 0.0 and not found["drift"]


def test_drift_refuses_what_is_not_a_frame() -> None:
    with pytest.raises(TypeError, match="takes a pandas DataFrame"):
        drift.drift([1, 2], pd.DataFrame({"a": [1]}))


# -- sketches


def test_a_sketch_built_in_chunks_counts_exactly_and_samples_deterministically() -> None:
    frame = _frames(25_000, seed=7)
    whole = drift.sketch_frame(frame, cap=drift.SAMPLE_CAP)
    builder = drift.SketchBuilder()
    for start in range(0, len(frame), 6_000):
        builder.add(frame.iloc[start : start + 6_000])
    chunked = builder.result()
    assert chunked.rows == 25_000
    assert chunked.columns["city"].counts == frame["city"].value_counts().to_dict()
    assert chunked.columns["income"].counts is None  # continuous: too many distinct values
    sample = chunked.columns["income"].values
    assert len(sample) == drift.SAMPLE_CAP and set(sample) <= set(frame["income"])
    again = drift.SketchBuilder()
    for start in range(0, len(frame), 6_000):
        again.add(frame.iloc[start : start + 6_000])
    assert np.array_equal(again.result().columns["income"].values, sample)
    # a sample of 10,000 is close to the whole: its mean within a few standard errors
    assert abs(sample.mean() - frame["income"].mean()) < 4 * 10 / math.sqrt(drift.SAMPLE_CAP)
    assert len(whole.columns["income"].values) == drift.SAMPLE_CAP


def test_small_tables_keep_every_value_and_bytes_round_trip_without_pickle() -> None:
    frame = _frames(300, seed=8)
    sketch = drift.sketch_frame(frame, cap=drift.SAMPLE_CAP)
    back = drift.from_bytes(drift.to_bytes(sketch))
    assert back.rows == 300
    assert np.array_equal(np.sort(back.columns["income"].values), np.sort(frame["income"]))
    assert back.columns["city"].counts == sketch.columns["city"].counts
    # versions compare the same as frames when every value is kept
    assert drift.compare(back, back)["columns"] == drift.drift(frame, frame)["columns"]


# -- versions: mlops data drift


def test_tracked_versions_keep_sketches_and_data_drift_compares_the_last_two(
    tmp_path: Path, home: Path
) -> None:
    path = tmp_path / "customers.csv"
    with Store(home) as store:
        _frames(700, seed=20).to_csv(path, index=False)
        datasets.track(store, path, run_id=None, stage=None)
        _frames(700, seed=21).to_csv(path, index=False)
        datasets.track(store, path, run_id=None, stage=None)
        _frames(700, shift=6, weights=(0.1, 0.2, 0.7), seed=22).to_csv(path, index=False)
        datasets.track(store, path, run_id=None, stage=None)
        versions = store.data_versions([str(path)])
    assert all(v["sketch"] for v in versions)

    def data_drift(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "mlops_jupyter", "data", "drift", str(path), *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=120,
        )

    latest = json.loads(data_drift("--json").stdout)
    assert set(latest) == {"path", "from", "to", "drift", "share", "columns"}
    assert (latest["from"]["hash"], latest["to"]["hash"]) == (
        versions[1]["hash"],
        versions[0]["hash"],
    )
    assert {n for n, c in latest["columns"].items() if c["drift"]} == {"income", "city"}
    for column in latest["columns"].values():
        assert set(column) >= {"test", "statistic", "p_value", "threshold", "drift"}
    older = json.loads(
        data_drift(
            "--from", versions[2]["hash"][:8], "--to", versions[1]["hash"][:8], "--json"
        ).stdout
    )
    assert not any(c["drift"] for c in older["columns"].values())
    text = data_drift().stdout
    assert "DRIFT" in text and "2 of 4 columns drifted" in text
    unknown = data_drift("--from", "ffffffff")
    assert unknown.returncode == 2 and "has no version 'ffffffff'" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    # the data views show each version's drift against the one before
    listed = subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", "data", str(path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    ).stdout  # fmt: skip
    assert f"{versions[0]['hash'][:12]}: drift: some columns drifted (income, city)" in listed or (
        f"{versions[0]['hash'][:12]}: drift: data set drifted (income, city)" in listed
    )
    assert f"{versions[1]['hash'][:12]}: drift: none against the version before" in listed


def test_an_unchanged_file_reuses_its_sketch(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "t.csv"
    _frames(50).to_csv(path, index=False)
    with Store(home) as store:
        first = datasets.track(store, path, run_id=None, stage=None)
        again = datasets.track(store, path, run_id=None, stage=None)
    assert first.sketch and again.sketch == first.sketch
