"""``mlops monitor NAME[@ALIAS]``: how a served version is doing over a window of time.

From the requests ``mlops serve`` recorded (``traffic.py``): how many, how many failed, latency
p50/p99; the drift of the inputs it was sent against the data it was trained on; and the shift
of its predictions against the window before.

**The reference is the training data in the model's lineage.** A model version keeps the
newest version of each data set its run tracked, with that version's drift sketch
(``tracking/drift.py``). The reference is the one whose columns cover most of the model's input
columns (a training table usually also holds the target: only the columns the model is sent are
compared), and the tests are chosen by its row count, as ``mlops data drift`` chooses them. A
model whose run tracked no table has no reference: the report says so and finds no drift.

**Enough rows.** Fewer than :data:`MIN_ROWS` sampled rows in the window is too few to test; the
report says how many there were rather than guessing.

**Predictions** are compared with the predictions of the window just before this one, with the
same tests (a classifier's classes as categories, a regressor's values as numbers): a model
whose inputs look alike but whose answers moved is worth a look too. Served predictions are
the only record of what the model says in production, so that is the comparison there is.
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

from ..store.db import Store
from ..tracking import drift as drifts

MIN_ROWS = 30


def _percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (the value a request actually took)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return round(ordered[rank - 1], 3)


def _served_frame(rows: list[dict[str, Any]]) -> Any:
    """The sampled inputs of the window as one DataFrame (None when none were kept)."""
    import pandas as pd

    frames = []
    for row in rows:
        if not row["inputs"]:
            continue
        found = json.loads(row["inputs"])
        if "columns" in found:
            frames.append(pd.DataFrame(found["data"], columns=found["columns"]))
        else:
            data = found["data"]
            frames.append(pd.DataFrame(data if data and isinstance(data[0], list) else [data]))
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True)
    frame.columns = [str(c) for c in frame.columns]
    return frame


def _predictions(rows: list[dict[str, Any]]) -> Any:
    import pandas as pd

    values: list[Any] = []
    for row in rows:
        if row["predictions"]:
            values.extend(json.loads(row["predictions"]))
    flat = [v if not isinstance(v, (list, dict)) else json.dumps(v) for v in values]
    return pd.DataFrame({"prediction": flat})


def _reference(store: Store, record: dict[str, Any], columns: list[str]) -> tuple[Any, Any]:
    """``(data entry, sketch)`` of the lineage's table covering most of ``columns``."""
    from ..tracking.checks import load_sketch

    best: tuple[Any, Any] = (None, None)
    covered = -1
    for entry in record.get("data") or []:
        sketch = load_sketch(store, entry.get("sketch"))
        if sketch is None:
            continue
        count = sum(c in sketch.columns for c in columns) if columns else len(sketch.columns)
        if count > covered:
            best, covered = (entry, sketch), count
    return best


def _input_columns(record: dict[str, Any], served: Any) -> list[str]:
    inputs = ((record.get("signature") or {}).get("inputs")) or {}
    if inputs.get("type") == "dataframe":
        return [str(c["name"]) for c in inputs.get("columns", [])]
    return [] if served is None else [str(c) for c in served.columns]


def _distribution(frame: Any) -> dict[str, Any]:
    column = frame["prediction"]
    if len(column) == 0:
        return {"rows": 0}
    numeric = drifts.is_numeric(column.dtype)
    distinct = column.nunique()
    if not numeric or distinct <= 20:
        counts = {str(k): int(v) for k, v in column.value_counts().sort_index().items()}
        return {"rows": len(column), "kind": "classes", "counts": counts}
    described = column.astype(float).describe()
    return {
        "rows": len(column),
        "kind": "numbers",
        "mean": float(described["mean"]),
        "std": float(described["std"]),
        "min": float(described["min"]),
        "max": float(described["max"]),
    }


def report(store: Store, ref: str, *, window: float, now: float | None = None) -> dict[str, Any]:
    """The monitor's JSON object for the version ``ref`` names now."""
    from ..tracking import models

    name, version = models.resolve(store, ref)
    record = store.model_version(name, version)
    assert record is not None
    until = time.time() if now is None else now
    since = until - window
    rows = store.serving_rows(name, version, since, until)
    latencies = [r["latency_ms"] for r in rows]
    errors = sum(r["status"] >= 400 for r in rows)
    served = _served_frame(rows)
    columns = _input_columns(record, served)
    entry, sketch = _reference(store, record, columns)
    found: dict[str, Any] = {
        "model": name,
        "version": version,
        "ref": ref,
        "window": {
            "seconds": window,
            "since": _iso(since),
            "until": _iso(until),
        },
        "requests": len(rows),
        "errors": errors,
        "error_rate": errors / len(rows) if rows else 0.0,
        "latency_ms": {"p50": _percentile(latencies, 50), "p99": _percentile(latencies, 99)},
        "served_rows": 0 if served is None else len(served),
        "reference": None
        if entry is None
        else {"path": entry["path"], "hash": entry["hash"], "rows": sketch.rows},
        "drift": False,
        "share": 0.0,
        "columns": {},
        "note": None,
    }
    if entry is None:
        found["note"] = (
            "the model's run tracked no table: there is no training data to compare with"
        )
    elif served is None or len(served) < MIN_ROWS:
        found["note"] = (
            f"{found['served_rows']} sampled rows in the window; drift needs at least {MIN_ROWS}"
        )
    else:
        keep = [c for c in columns if c in served.columns]
        reference = drifts.Sketch(
            sketch.rows, {c: sketch.columns[c] for c in keep if c in sketch.columns}
        )
        current = drifts.sketch_frame(served[keep])
        found.update(drifts.compare(reference, current))
    found["predictions"] = _prediction_shift(store, name, version, since, until, rows)
    return found


def _prediction_shift(
    store: Store, name: str, version: int, since: float, until: float, rows: list[dict[str, Any]]
) -> dict[str, Any]:
    current = _predictions(rows)
    result: dict[str, Any] = {**_distribution(current), "shift": None}
    before = _predictions(store.serving_rows(name, version, since - (until - since), since))
    if len(current) >= MIN_ROWS and len(before) >= MIN_ROWS:
        compared = drifts.compare(drifts.sketch_frame(before), drifts.sketch_frame(current))
        result["shift"] = {"against": "the window before", **compared["columns"]["prediction"]}
    return result


def _iso(stamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))
