"""Drift between two data sets, column by column, with the tests Evidently chooses by default.

**The tests.** With at most :data:`SMALL` reference rows, statistical tests: two-sample
Kolmogorov–Smirnov for a numeric column (``p < 0.05`` is drift), chi-squared for a categorical
one. With more, distances: Wasserstein distance normed by the reference's standard deviation for
a numeric column, Jensen–Shannon distance for a categorical one (``>= 0.1`` is drift). A numeric
column with at most :data:`FEW_VALUES` distinct values counts as categorical. The data set
drifts when at least half the columns tested drift. All on scipy, whose own functions compute
every statistic.

**Where this departs from Evidently, and why.** Evidently's chi-squared is a goodness-of-fit
test of the current counts against the reference's *shares*, taken as exact: it ignores that
the reference is a sample too. With two samples of 600 rows from one distribution it reports
drift about one time in five, not one in twenty; a reference that happened to be drawn a little
off reports drift against nearly every later sample. Here chi-squared is Pearson's test of
homogeneity on the 2 × k table of both samples' counts (``scipy.stats.chi2_contingency``, no
continuity correction), whose 0.05 is the false-alarm rate it says. (KS, which Evidently uses
for numbers, is already a two-sample test.) Evidently's proportions Z-test for binary columns is
not used: chi-squared on a 2 × 2 table is the same test (its statistic is the Z-test's square).

**Sketches, so old versions can be compared.** A data version's bytes are not kept: a tracked
file is overwritten by its next version. So when a table is tracked, a :class:`Sketch` of it is
kept beside the version (in the object store): every column's non-null count, its distinct
values with their counts (up to :data:`COUNT_CAP` of them), and for numeric columns a uniform
sample of up to :data:`SAMPLE_CAP` values (all of them for smaller tables), drawn by priority
sampling over the chunks the table is read in, so a table larger than memory is sketched in one
pass and the same table always gives the same sample. Counts are exact, so chi-squared and
Jensen–Shannon on versions are exact; KS is exact up to 10,000 rows, and Wasserstein on a larger
table is computed on its sample (its error is well under the 0.1 threshold). ``mlops.drift`` on
two DataFrames uses every value.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

SAMPLE_CAP = 10_000
COUNT_CAP = 1_000
SMALL = 1_000
FEW_VALUES = 5
P_VALUE = 0.05
DISTANCE = 0.1
DATASET_SHARE = 0.5
SKETCH_VERSION = 1


@dataclass
class ColumnSketch:
    """One column: ``numeric`` (a number dtype, bools aside), ``n`` non-null values, their
    distinct values and counts (None past :data:`COUNT_CAP`), and for a numeric column a
    sample of its values (every value when ``cap`` allowed)."""

    numeric: bool
    n: int = 0
    counts: dict[Any, int] | None = field(default_factory=dict)
    values: Any = None  # numpy float64 array
    mixed: bool = False  # numbers in some chunks, text in others: not tested
    _keys: Any = None  # the sample's priority keys while it is built


@dataclass
class Sketch:
    rows: int = 0
    columns: dict[str, ColumnSketch] = field(default_factory=dict)


def _key(value: Any, numeric: bool) -> Any:
    """A distinct value as JSON keeps it: numbers as float, bools as bool, the rest as text."""
    if numeric:
        return float(value)
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    return str(value)


def is_numeric(dtype: Any) -> bool:
    kind = getattr(dtype, "kind", "O")
    return kind in "iuf"


class SketchBuilder:
    """A :class:`Sketch` built chunk by chunk (``cap=None`` keeps every numeric value)."""

    def __init__(self, cap: int | None = SAMPLE_CAP, seed: int = 0) -> None:
        import numpy as np

        self.cap = cap
        self.sketch = Sketch()
        self._rng = np.random.default_rng(seed)

    def add(self, frame: Any) -> None:
        import numpy as np

        self.sketch.rows += len(frame)
        for name, series in frame.items():
            column = self.sketch.columns.get(str(name))
            numeric = is_numeric(series.dtype)
            if column is None:
                column = self.sketch.columns[str(name)] = ColumnSketch(numeric)
            elif column.numeric != numeric:  # chunks of a CSV read one column two ways
                column.mixed = True
            if column.mixed:
                column.numeric, column.counts, column.values, column._keys = False, None, None, None
                continue
            if numeric:
                values = series.to_numpy(dtype="float64", na_value=np.nan)
                values = values[np.isfinite(values)]
            else:
                values = series.dropna().to_numpy()
            column.n += len(values)
            if column.counts is not None and len(values):
                found = series.dropna().value_counts(sort=False) if not numeric else None
                if numeric:
                    uniques, tallies = np.unique(values, return_counts=True)
                    pairs: Iterable[tuple[Any, Any]] = zip(
                        uniques.tolist(), tallies.tolist(), strict=True
                    )
                else:
                    assert found is not None
                    pairs = found.items()
                for value, count in pairs:
                    key = _key(value, numeric)
                    column.counts[key] = column.counts.get(key, 0) + int(count)
                if len(column.counts) > COUNT_CAP:
                    column.counts = None
            if column.numeric and len(values):
                self._sample(column, values)

    def _sample(self, column: ColumnSketch, values: Any) -> None:
        import numpy as np

        keys = self._rng.random(len(values))
        if column.values is not None:
            values = np.concatenate([column.values, values])
            keys = np.concatenate([column._keys, keys])
        if self.cap is not None and len(values) > self.cap:
            keep = np.argpartition(keys, self.cap)[: self.cap]
            keep.sort()
            values, keys = values[keep], keys[keep]
        column.values, column._keys = values, keys

    def result(self) -> Sketch:
        for column in self.sketch.columns.values():
            column._keys = None
        return self.sketch


def sketch_frame(frame: Any, cap: int | None = None) -> Sketch:
    """Every value of a DataFrame (``cap=None``), or a sample as a tracked version keeps."""
    builder = SketchBuilder(cap)
    builder.add(frame)
    return builder.result()


# -- bytes: one .npz, arrays by position and the rest as JSON (never pickle)


def to_bytes(sketch: Sketch) -> bytes:
    import numpy as np

    meta: dict[str, Any] = {"version": SKETCH_VERSION, "rows": sketch.rows, "columns": []}
    arrays: dict[str, Any] = {}
    for index, (name, column) in enumerate(sketch.columns.items()):
        counts = None if column.counts is None else [[k, v] for k, v in column.counts.items()]
        meta["columns"].append(
            {
                "name": name,
                "numeric": column.numeric,
                "n": column.n,
                "counts": counts,
                "mixed": column.mixed,
            }
        )
        if column.values is not None:
            arrays[f"v{index}"] = np.asarray(column.values, dtype="float64")
    arrays["meta"] = np.frombuffer(json.dumps(meta, allow_nan=False).encode(), dtype="uint8")
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def from_bytes(data: bytes) -> Sketch:
    import numpy as np

    with np.load(io.BytesIO(data), allow_pickle=False) as found:
        meta = json.loads(found["meta"].tobytes().decode())
        sketch = Sketch(rows=int(meta["rows"]))
        for index, entry in enumerate(meta["columns"]):
            counts = entry["counts"]
            column = ColumnSketch(
                bool(entry["numeric"]),
                int(entry["n"]),
                None if counts is None else {k: int(v) for k, v in counts},
                found[f"v{index}"] if f"v{index}" in found.files else None,
                bool(entry.get("mixed", False)),
            )
            sketch.columns[str(entry["name"])] = column
    return sketch


# -- the tests


def _result(test: str, statistic: float, p_value: float | None, threshold: float) -> dict:
    drift = p_value < threshold if p_value is not None else statistic >= threshold
    return {
        "test": test,
        "statistic": _finite(statistic),
        "p_value": None if p_value is None else _finite(p_value),
        "threshold": threshold,
        "drift": bool(drift),
    }


def _finite(value: float) -> float | None:
    value = float(value)
    return value if math.isfinite(value) else None


def _untested(note: str) -> dict[str, Any]:
    return {
        "test": None,
        "statistic": None,
        "p_value": None,
        "threshold": None,
        "drift": False,
        "note": note,
    }


def _union(reference: Mapping[Any, int], current: Mapping[Any, int]) -> list[Any]:
    keys = list(dict.fromkeys([*reference, *current]))
    return sorted(keys, key=lambda k: (type(k).__name__, k))


def chi_square(reference: Mapping[Any, int], current: Mapping[Any, int]) -> dict[str, Any]:
    """Pearson's chi-squared test of homogeneity on the 2 × k table of counts (both samples'
    noise counted; see the module's note on Evidently's variant)."""
    from scipy import stats

    keys = _union(reference, current)
    table = [[reference.get(k, 0) for k in keys], [current.get(k, 0) for k in keys]]
    if len(keys) < 2:  # one value on both sides: nothing can have moved
        return _result("chisquare", 0.0, 1.0, P_VALUE)
    found = stats.chi2_contingency(table, correction=False)
    result = _result("chisquare", found.statistic, found.pvalue, P_VALUE)
    unseen = [k for k in keys if reference.get(k, 0) == 0]
    if unseen:
        shown = ", ".join(repr(k) for k in unseen[:3]) + (" ..." if len(unseen) > 3 else "")
        result["note"] = f"values the reference never had: {shown}"
    return result


def jensen_shannon(reference: Mapping[Any, int], current: Mapping[Any, int]) -> dict[str, Any]:
    """Evidently's Jensen–Shannon distance of the two distributions over the values of both,
    zero shares replaced by a small one as Evidently does."""
    import numpy as np
    from scipy.spatial import distance

    keys = _union(reference, current)
    n_ref, n_cur = sum(reference.values()), sum(current.values())
    ref = np.array([reference.get(k, 0) / n_ref for k in keys], dtype="float64")
    cur = np.array([current.get(k, 0) / n_cur for k in keys], dtype="float64")
    for shares in (ref, cur):
        nonzero = shares[shares != 0]
        smallest = nonzero.min() if len(nonzero) else 1.0
        np.place(shares, shares == 0, smallest / 10**6 if smallest <= 0.0001 else 0.0001)
    return _result("jensenshannon", distance.jensenshannon(ref, cur), None, DISTANCE)


def kolmogorov_smirnov(reference: Any, current: Any) -> dict[str, Any]:
    import warnings

    from scipy import stats

    with warnings.catch_warnings():  # "exact calculation unsuccessful": it falls back, says so
        warnings.simplefilter("ignore", RuntimeWarning)
        found = stats.ks_2samp(reference, current)
    return _result("ks", found.statistic, found.pvalue, P_VALUE)


def wasserstein_normed(reference: Any, current: Any) -> dict[str, Any]:
    """Evidently's normed Wasserstein distance: in units of the reference's standard deviation
    (at least 0.001, so a constant reference does not divide by zero)."""
    import numpy as np
    from scipy import stats

    norm = max(float(np.std(reference)), 0.001)
    return _result(
        "wasserstein_normed", stats.wasserstein_distance(reference, current) / norm, None, DISTANCE
    )


def column_drift(reference: ColumnSketch, current: ColumnSketch, small: bool) -> dict[str, Any]:
    if reference.mixed or current.mixed:
        return _untested("numbers in some rows and text in others")
    if reference.n == 0 or current.n == 0:
        return _untested(
            "no values on "
            + (
                "either side"
                if reference.n == current.n
                else "the reference side"
                if reference.n == 0
                else "the current side"
            )
        )
    few = reference.counts is not None and len(reference.counts) <= FEW_VALUES
    if reference.numeric and current.numeric and not few:
        if reference.values is None or current.values is None:
            return _untested("no sample of its values")
        test = kolmogorov_smirnov if small else wasserstein_normed
        return test(reference.values, current.values)
    if reference.counts is None or current.counts is None:
        return _untested(f"more than {COUNT_CAP} distinct values: not tested as categories")
    if reference.numeric != current.numeric:
        return _untested("numbers on one side, text on the other (the schema check says so)")
    return (chi_square if small else jensen_shannon)(reference.counts, current.counts)


def compare(reference: Sketch, current: Sketch) -> dict[str, Any]:
    """``{"drift", "share", "columns": {COL: {"test", "statistic", "p_value", "threshold",
    "drift"}}}``; columns on one side only, or that cannot be tested, carry a ``note`` and do
    not count in the share."""
    small = reference.rows <= SMALL
    columns: dict[str, Any] = {}
    for name, ref in reference.columns.items():
        cur = current.columns.get(name)
        columns[name] = (
            _untested("not in the current data") if cur is None else (column_drift(ref, cur, small))
        )
    for name in current.columns:
        if name not in reference.columns:
            columns[name] = _untested("not in the reference data")
    tested = [c for c in columns.values() if c["test"] is not None]
    share = sum(c["drift"] for c in tested) / len(tested) if tested else 0.0
    return {"drift": bool(tested) and share >= DATASET_SHARE, "share": share, "columns": columns}


def drift(reference: Any, current: Any) -> dict[str, Any]:
    """``mlops.drift(reference, current)``: two DataFrames (every value used) or sketches."""
    sketches = [
        side if isinstance(side, Sketch) else sketch_frame(_frame(side, label))
        for side, label in ((reference, "reference"), (current, "current"))
    ]
    return compare(*sketches)


def _frame(value: Any, label: str) -> Any:
    if type(value).__name__ == "DataFrame" and hasattr(value, "items"):
        return value
    if type(value).__name__ == "Series" and hasattr(value, "to_frame"):
        return value.to_frame()
    raise TypeError(
        f"mlops.drift({label}=...) takes a pandas DataFrame or Series, not "
        f"{type(value).__module__}.{type(value).__qualname__}."
    )
