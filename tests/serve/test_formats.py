"""What a request to a served model says, read into the rows the model predicts on: every MLflow
and OIP v2 shape gives the same checked frame; what the model cannot be asked is an InputError
naming the column. Pure functions: no server."""

from __future__ import annotations

import math
from typing import Any

import pytest

from mlops_jupyter.serve import formats

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")

SIGNATURE = {
    "inputs": {
        "type": "dataframe",
        "columns": [
            {"name": "age", "dtype": "int64"},
            {"name": "income", "dtype": "float64"},
            {"name": "plan", "dtype": "object"},
            {"name": "active", "dtype": "bool"},
        ],
    }
}
ROWS = [
    {"age": 31, "income": 52.5, "plan": "pro", "active": True},
    {"age": 47, "income": None, "plan": "basic", "active": False},
]
EXPECTED = pd.DataFrame(
    {
        "age": np.array([31, 47], dtype="int64"),
        "income": np.array([52.5, math.nan]),
        "plan": np.array(["pro", "basic"], dtype=object),
        "active": np.array([True, False]),
    }
)
SPLIT = {"columns": list(ROWS[0]), "data": [list(r.values()) for r in ROWS]}


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": SPLIT},
        {"dataframe_records": ROWS},
        {"instances": ROWS},
        {"inputs": {k: [r[k] for r in ROWS] for k in ROWS[0]}},
        {"instances": SPLIT["data"]},  # rows as lists, in the signature's order
        {"dataframe_records": [{**r, "unknown": 1} for r in ROWS]},  # dropped, as MLflow does
    ],
    ids=["split", "records", "instances", "inputs (columns)", "rows as lists", "extra column"],
)
def test_every_mlflow_shape_reads_into_the_same_checked_frame(body: dict[str, Any]) -> None:
    pd.testing.assert_frame_equal(formats.read_invocation(body, SIGNATURE), EXPECTED)


def test_csv_reads_as_the_json_shapes_do() -> None:
    text = "age,income,plan,active\n31,52.5,pro,True\n47,,basic,False\n"
    pd.testing.assert_frame_equal(formats.read_csv(text, SIGNATURE), EXPECTED)


def test_oip_v2_columns_read_as_the_same_frame() -> None:
    body = {
        "inputs": [
            {"name": "age", "shape": [2], "datatype": "INT64", "data": [31, 47]},
            {"name": "income", "shape": [2], "datatype": "FP64", "data": [52.5, None]},
            {"name": "plan", "shape": [2], "datatype": "BYTES", "data": ["pro", "basic"]},
            {"name": "active", "shape": [2], "datatype": "BOOL", "data": [True, False]},
        ]
    }
    pd.testing.assert_frame_equal(formats.read_oip(body, SIGNATURE), EXPECTED)


@pytest.mark.parametrize(
    ("rows", "says", "column"),
    [
        ([{"income": 1.0, "plan": "a", "active": True}], "missing column 'age' (row 0)", "age"),
        ([{**ROWS[0], "age": "old"}], "column 'age' takes whole numbers (int64); row 0", "age"),
        ([{**ROWS[0], "age": 2.5}], "column 'age' takes whole numbers", "age"),
        ([{**ROWS[0], "age": None}], "column 'age' (int64) has no value in row 0", "age"),
        ([{**ROWS[0], "age": 2**70}], "column 'age' has a value int64 cannot hold", "age"),
        (
            [ROWS[0], {**ROWS[1], "income": "x"}],
            "column 'income' takes numbers (float64); row 1",
            "income",
        ),
        ([{**ROWS[0], "active": 1}], "column 'active' takes true or false", "active"),
        ([{**ROWS[0], "plan": 3}], "column 'plan' takes text", "plan"),
    ],
)
def test_what_the_model_cannot_be_asked_names_the_column(
    rows: list[dict[str, Any]], says: str, column: str
) -> None:
    with pytest.raises(formats.InputError) as raised:
        formats.read_invocation({"dataframe_records": rows}, SIGNATURE)
    assert says in raised.value.message and raised.value.column == column


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ([1, 2], "one JSON object"),
        ({}, "needs exactly one of"),
        ({"dataframe_split": SPLIT, "instances": ROWS}, "it has dataframe_split, instances"),
        ({"dataframe_split": {"columns": ["age"], "data": [[1, 2]]}}, "row 0 has 2 values for 1"),
        ({"dataframe_split": {"columns": ["a", "a"], "data": []}}, "names a column twice"),
        ({"inputs": {"age": [1], "income": [1.0, 2.0]}}, "a list of equal length"),
        ({"dataframe_records": {"age": 1}}, "is a list of rows"),
    ],
)
def test_malformed_bodies_say_what_is_wrong(body: Any, says: str) -> None:
    with pytest.raises(formats.InputError) as raised:
        formats.read_invocation(body, SIGNATURE)
    assert says in raised.value.message


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"inputs": []}, "non-empty 'inputs' list"),
        ({"inputs": [{"name": "age", "shape": [1]}]}, "needs name, shape, datatype and data"),
        (
            {"inputs": [{"name": "age", "shape": [1], "datatype": "INT128", "data": [1]}]},
            "datatype 'INT128'",
        ),
        (
            {"inputs": [{"name": "age", "shape": [3], "datatype": "INT64", "data": [1]}]},
            "1 values for shape [3]",
        ),
    ],
)
def test_malformed_oip_bodies_say_what_is_wrong(body: Any, says: str) -> None:
    with pytest.raises(formats.InputError) as raised:
        formats.read_oip(body, SIGNATURE)
    assert says in raised.value.message


def test_a_tensor_model_takes_arrays_of_its_shape() -> None:
    signature = {"inputs": {"type": "ndarray", "dtype": "float32", "shape": [None, 3]}}
    array = formats.read_invocation({"instances": [[1, 2, 3], [4, 5, 6]]}, signature)
    assert array.dtype == np.float32 and array.shape == (2, 3)
    with pytest.raises(formats.InputError, match=r"has shape \[1, 2\]; the model takes \['n', 3\]"):
        formats.read_invocation({"instances": [[1, 2]]}, signature)


def test_answers_are_plain_json_values() -> None:
    assert formats.plain(np.array([1, 2])) == [1, 2]
    assert formats.plain(np.array([0.5, np.nan])) == [0.5, None]
    assert formats.plain(pd.DataFrame({"p": [0.2]})) == [{"p": 0.2}]
    (output,) = formats.oip_outputs(np.array([0, 2, 1]))
    assert output == {"name": "predict", "shape": [3], "datatype": "INT64", "data": [0, 2, 1]}


def test_oip_metadata_comes_from_the_signature() -> None:
    meta = formats.oip_metadata("m", 3, {"signature": SIGNATURE, "flavor": "sklearn"})
    assert meta["versions"] == ["3"] and meta["platform"] == "mlops-jupyter/sklearn"
    assert [(i["name"], i["datatype"]) for i in meta["inputs"]] == [
        ("age", "INT64"),
        ("income", "FP64"),
        ("plan", "BYTES"),
        ("active", "BOOL"),
    ]
