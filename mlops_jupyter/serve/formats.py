"""What a request to a served model says, read into the rows the model predicts on, and back.

Two wire formats, both pure functions here so they are tested without a server:

* MLflow's scoring server (``POST /invocations``): ``{"dataframe_split": {"columns", "data"}}``,
  ``{"dataframe_records": [{col: value}]}``, ``{"instances": [...]}`` (TF Serving's: rows, or
  a dict of columns) and ``{"inputs": [...] | {col: [...]}}``; also ``text/csv``. The answer is
  ``{"predictions": [...]}``.
* KServe's Open Inference Protocol v2 (``POST /v2/models/{name}/infer``): ``{"inputs": [{"name",
  "shape", "datatype", "data"}]}``, one input per column of a table (or one tensor), the answer
  ``{"model_name", "model_version", "outputs": [{"name", "shape", "datatype", "data"}]}``.

Rows are checked against the model's input signature (``tracking/models.py``): a column the
model needs and the request lacks, or a value of the wrong type, is an :class:`InputError`
naming the column (and the row), which the server answers with 400 — never a 500 from deep
inside the model. Columns the model does not know are dropped, as MLflow drops them. pandas and
numpy are imported when a request is read, never by importing this module.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
# OIP v2 datatypes <-> numpy dtype kinds
OIP_TYPES = {
    "BOOL": "bool",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}


class InputError(ValueError):
    """A request the model cannot be asked: the message names the column (or the field)."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.column = column


# -- the signature's view of the input


def input_columns(signature: Mapping[str, Any] | None) -> list[tuple[str, str]] | None:
    """``[(column, dtype)]`` of a table input, or None when the model takes a tensor or its
    signature is unknown."""
    inputs = (signature or {}).get("inputs") or {}
    if inputs.get("type") != "dataframe":
        return None
    return [(str(c["name"]), str(c["dtype"])) for c in inputs.get("columns", [])]


def _kind(dtype: str) -> str:
    """``"f"`` float, ``"i"`` integer, ``"u"`` unsigned, ``"b"`` bool, ``"O"`` anything else."""
    if dtype.startswith("float"):
        return "f"
    if dtype.startswith("uint"):
        return "u"
    if dtype.startswith("int") or dtype.startswith("Int"):
        return "i"
    if dtype in ("bool", "boolean"):
        return "b"
    return "O"


def _check_value(column: str, dtype: str, row: int, value: Any) -> Any:
    kind = _kind(dtype)
    missing = value is None or (isinstance(value, float) and math.isnan(value))
    if kind == "f":
        if missing:
            return math.nan
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise InputError(
                f"column '{column}' takes numbers ({dtype}); row {row} has {value!r:.40}.", column
            )
        return float(value)
    if kind in ("i", "u"):
        if missing:
            raise InputError(f"column '{column}' ({dtype}) has no value in row {row}.", column)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or (kind == "u" and value < 0):
            raise InputError(
                f"column '{column}' takes whole numbers ({dtype}); row {row} has {value!r:.40}.",
                column,
            )
        return value
    if kind == "b":
        if not isinstance(value, bool):
            raise InputError(
                f"column '{column}' takes true or false; row {row} has {value!r:.40}.", column
            )
        return value
    if missing:
        return None
    if dtype in ("object", "string", "str", "category") and not isinstance(value, str):
        raise InputError(f"column '{column}' takes text; row {row} has {value!r:.40}.", column)
    return value


def frame(
    records: Sequence[Mapping[str, Any]] | None = None,
    *,
    columns: Sequence[str] | None = None,
    data: Sequence[Sequence[Any]] | None = None,
    signature: Mapping[str, Any] | None = None,
) -> Any:
    """A pandas DataFrame of the rows, in the signature's columns and dtypes (when it has them)."""
    import pandas as pd

    if records is None:
        if columns is None or data is None:
            raise InputError("a table needs 'columns' and 'data'.")
        names = [str(c) for c in columns]
        if len(set(names)) != len(names):
            raise InputError("the request names a column twice.")
        rows = []
        for index, cells in enumerate(data):
            if not isinstance(cells, (list, tuple)) or len(cells) != len(names):
                raise InputError(
                    f"row {index} has {len(cells) if isinstance(cells, (list, tuple)) else 'no'} "
                    f"values for {len(names)} columns."
                )
            rows.append(dict(zip(names, cells, strict=True)))
        records = rows
    for index, row in enumerate(records):
        if not isinstance(row, Mapping):
            raise InputError(f"row {index} is not an object of column: value.")
    wanted = input_columns(signature)
    if wanted is None:
        return pd.DataFrame.from_records(list(records))
    table: dict[str, list[Any]] = {}
    for name, dtype in wanted:
        values = []
        for index, row in enumerate(records):
            if name not in row:
                raise InputError(f"missing column '{name}' (row {index}).", name)
            values.append(_check_value(name, dtype, index, row[name]))
        table[name] = values
    import numpy as np

    arrays: dict[str, Any] = {}
    for name, dtype in wanted:
        numeric = _kind(dtype) != "O"
        try:  # numpy arrays, not Series: a quarter of the time for a one-row request
            arrays[name] = np.asarray(table[name], dtype=dtype if numeric else object)
        except (OverflowError, ValueError, TypeError) as exc:
            raise InputError(
                f"column '{name}' has a value {dtype} cannot hold ({exc}).", name
            ) from None
    return pd.DataFrame(arrays)


def _tensor(value: Any, signature: Mapping[str, Any] | None) -> Any:
    import numpy as np

    inputs = (signature or {}).get("inputs") or {}
    dtype = inputs.get("dtype") if inputs.get("type") == "ndarray" else None
    try:
        array = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as exc:
        raise InputError(f"the input is not an array of {dtype or 'numbers'}: {exc}") from None
    shape = inputs.get("shape") if inputs.get("type") == "ndarray" else None
    if shape and (
        array.ndim != len(shape)
        or any(
            want not in (-1, None) and want != got
            for want, got in zip(shape[1:], array.shape[1:], strict=False)
        )
    ):
        raise InputError(
            f"the input has shape {list(array.shape)}; the model takes "
            f"{['n' if s in (-1, None) else s for s in shape]}."
        )
    return array


def read_invocation(body: Any, signature: Mapping[str, Any] | None) -> Any:
    """The rows of an MLflow ``/invocations`` JSON body."""
    if not isinstance(body, Mapping):
        raise InputError("the body is one JSON object with one of " + ", ".join(MLFLOW_KEYS) + ".")
    found = [k for k in MLFLOW_KEYS if k in body]
    extra = sorted(set(body) - set(MLFLOW_KEYS) - {"params"})
    if len(found) != 1 or extra:
        raise InputError(
            "the body needs exactly one of "
            + ", ".join(MLFLOW_KEYS)
            + (f" (it has {', '.join(found + extra)})." if found or extra else ".")
        )
    key = found[0]
    value = body[key]
    if key == "dataframe_split":
        if not isinstance(value, Mapping):
            raise InputError("dataframe_split is an object with 'columns' and 'data'.")
        return frame(columns=value.get("columns"), data=value.get("data"), signature=signature)
    if key == "dataframe_records":
        if not isinstance(value, list):
            raise InputError("dataframe_records is a list of rows.")
        return frame(value, signature=signature)
    # instances / inputs: rows as objects, a dict of columns, or a tensor
    if isinstance(value, Mapping):
        lengths = {len(v) if isinstance(v, list) else -1 for v in value.values()}
        if len(lengths) != 1 or -1 in lengths:
            raise InputError(f"{key} as an object maps each column to a list of equal length.")
        (count,) = lengths
        rows = [{c: value[c][i] for c in value} for i in range(count)]
        return frame(rows, signature=signature)
    if not isinstance(value, list):
        raise InputError(f"{key} is a list of rows or an object of columns.")
    if value and all(isinstance(v, Mapping) for v in value):
        return frame(value, signature=signature)
    wanted = input_columns(signature)
    if wanted is not None:  # rows as lists, in the signature's column order
        return frame(columns=[n for n, _ in wanted], data=value, signature=signature)
    return _tensor(value, signature)


def read_csv(text: str, signature: Mapping[str, Any] | None) -> Any:
    import io

    import pandas as pd

    try:
        table = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"the CSV body does not parse: {exc}") from None
    records = table.astype(object).where(table.notna(), None).to_dict("records")
    return frame(records, signature=signature)


def read_oip(body: Any, signature: Mapping[str, Any] | None) -> Any:
    """The rows of an OIP v2 inference request: one input per column, or one tensor."""
    if (
        not isinstance(body, Mapping)
        or not isinstance(body.get("inputs"), list)
        or not body["inputs"]
    ):
        raise InputError("the body is an object with a non-empty 'inputs' list.")
    tensors = {}
    for index, spec in enumerate(body["inputs"]):
        if not isinstance(spec, Mapping) or not {"name", "shape", "datatype", "data"} <= set(spec):
            raise InputError(f"inputs[{index}] needs name, shape, datatype and data.")
        name = str(spec["name"])
        if spec["datatype"] not in OIP_TYPES:
            raise InputError(
                f"input '{name}' has datatype {spec['datatype']!r:.30}; "
                f"known: {', '.join(OIP_TYPES)}.",
                name,
            )
        shape, data = spec["shape"], spec["data"]
        if not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape):
            raise InputError(f"input '{name}' has a shape that is not a list of sizes.", name)
        flat = _flatten(data)
        if math.prod(shape) != len(flat):
            raise InputError(f"input '{name}' has {len(flat)} values for shape {shape}.", name)
        tensors[name] = (shape, flat)
    wanted = input_columns(signature)
    if wanted is not None or len(tensors) > 1:
        count = {shape[0] if shape else 1 for shape, _ in tensors.values()}
        if len(count) != 1:
            raise InputError("every input (column) needs the same number of rows.")
        (rows,) = count
        records = [{name: flat[i] for name, (_, flat) in tensors.items()} for i in range(rows)]
        return frame(records, signature=signature)
    ((shape, flat),) = tensors.values()
    import numpy as np

    return _tensor(np.asarray(flat).reshape(shape).tolist(), signature)


def _flatten(data: Any) -> list[Any]:
    if not isinstance(data, list):
        return [data]
    found: list[Any] = []
    for item in data:
        found.extend(_flatten(item) if isinstance(item, list) else [item])
    return found


# -- answers


def plain(predictions: Any) -> list[Any]:
    """Predictions as JSON values: arrays as lists, frames as records, NaN as null."""
    if hasattr(predictions, "to_dict") and hasattr(predictions, "columns"):
        values = predictions.astype(object).where(predictions.notna(), None)
        return list(values.to_dict("records"))
    if hasattr(predictions, "tolist"):
        predictions = predictions.tolist()
    if not isinstance(predictions, list):
        predictions = [predictions]
    return [_plain_value(v) for v in predictions]


def _plain_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain_value(v) for v in value]
    if hasattr(value, "item"):
        return _plain_value(value.item())
    return value


def oip_outputs(predictions: Any) -> list[dict[str, Any]]:
    """The ``outputs`` of an OIP v2 answer: one tensor named ``predict``."""
    import numpy as np

    array = np.asarray(predictions)
    datatype = next(
        (t for t, d in OIP_TYPES.items() if d == str(array.dtype)),
        "BYTES",
    )
    data = _flatten(plain(array.reshape(-1) if array.ndim else array.reshape(1)))
    return [{"name": "predict", "shape": list(array.shape), "datatype": datatype, "data": data}]


def _oip_type(dtype: str | None) -> str:
    """An OIP v2 datatype for a numpy/pandas dtype name (text and the rest: BYTES)."""
    for oip, numpy_name in OIP_TYPES.items():
        if numpy_name == dtype and oip != "BYTES":
            return oip
    if dtype in ("Int64", "Float64"):
        return "INT64" if dtype == "Int64" else "FP64"
    return "BYTES"


def oip_metadata(name: str, version: int, record: Mapping[str, Any]) -> dict[str, Any]:
    """``GET /v2/models/{name}``: the model's inputs and outputs from its signature."""
    signature = record.get("signature") or {}
    found = signature.get("inputs") or {}
    if found.get("type") == "dataframe":
        inputs = [
            {"name": c["name"], "datatype": _oip_type(c["dtype"]), "shape": [-1]}
            for c in found.get("columns", [])
        ]
    elif found.get("type") == "ndarray":
        shape = [-1, *[-1 if s is None else s for s in found.get("shape", [None])[1:]]]
        inputs = [{"name": "input-0", "datatype": _oip_type(found.get("dtype")), "shape": shape}]
    else:
        inputs = []
    out = signature.get("outputs") or {}
    outputs = [{"name": "predict", "datatype": _oip_type(out.get("dtype")), "shape": [-1]}]
    return {
        "name": name,
        "versions": [str(version)],
        "platform": f"mlops-jupyter/{record.get('flavor', 'unknown')}",
        "inputs": inputs,
        "outputs": outputs,
    }
