"""Data checks: ``mlops.check_data`` holds new data to the schema of the version before it
(inferred from what that version recorded) or to a given pandera schema; one error lists every
failure; the outcome is recorded on the data version. Real stores, real pandera; the pipeline
case is a real run beside the notebook run top to bottom."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import write_notebook

from mlops_jupyter import api
from mlops_jupyter.store.db import Store
from mlops_jupyter.tracking import checks, datasets, journal

pd = pytest.importorskip("pandas")
np = pytest.importorskip("numpy")
pa = pytest.importorskip("pandera.pandas")


def _customers(n: int = 200, seed: int = 0) -> Any:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "id": np.arange(n),
            "age": rng.integers(18, 90, n),
            "income": rng.normal(50.0, 10.0, n).round(2),
            "plan": rng.choice(["basic", "pro", "team"], n),
            "note": [f"free text {i}" for i in range(n)],
        }
    )


@pytest.fixture
def store(home: Path) -> Store:
    with Store(home) as opened:
        yield opened


def check(store: Store, source: Any, **kw: Any) -> datasets.DataVersion:
    return checks.check(store, source, run_id=None, stage=None, **kw)


def test_a_dropped_column_a_new_category_and_out_of_range_values_are_all_listed(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "customers.csv"
    _customers().to_csv(path, index=False)
    first = check(store, path)
    assert first.check == {"passed": True, "against": None, "failures": []}
    assert first.schema and "isin" in first.schema  # `plan` is categorical, `note` is not

    bad = _customers(seed=1).drop(columns=["income"])
    bad.loc[7, "plan"] = "enterprise"
    bad.loc[[3, 9], "age"] = [150, -4]
    bad.to_csv(path, index=False)
    with pytest.raises(checks.DataCheckFailed) as raised:
        check(store, path)
    message = str(raised.value)
    assert "column 'income' is missing" in message
    assert (
        "column 'plan': isin(['basic', 'pro', 'team']) failed for 1 row ('enterprise' at row 7)"
        in (message.replace("(e.g. ", "("))
    )
    # the range seen (18-89), widened by a tenth of its span each way
    assert "column 'age': in_range(10, 97) failed for 2 rows" in message
    assert "150 at row 3" in message and "-4 at row 9" in message
    assert isinstance(raised.value, AssertionError)  # in a check stage: a check failure
    assert {(f["column"], f["check"].split("(")[0]) for f in raised.value.failures} == {
        ("income", "column_in_dataframe"),
        ("plan", "isin"),
        ("age", "in_range"),
    }
    # recorded on the data version, failures and all
    recorded = store.last_data_version(str(path))
    assert recorded is not None and recorded["check"]["passed"] is False
    assert recorded["check"]["against"] == first.hash
    assert len(recorded["check"]["failures"]) == 3


def test_a_failed_version_is_not_the_next_ones_standard(tmp_path: Path, store: Store) -> None:
    path = tmp_path / "t.csv"
    _customers().to_csv(path, index=False)
    good = check(store, path)
    bad = _customers(seed=2)
    bad.loc[0, "plan"] = "enterprise"
    bad.to_csv(path, index=False)
    with pytest.raises(checks.DataCheckFailed):
        check(store, path)
    bad.to_csv(path, index=False)  # the same bad data again: still held to the good version
    with pytest.raises(checks.DataCheckFailed, match=f"against version {good.hash[:12]}"):
        check(store, path)
    _customers(seed=3).to_csv(path, index=False)
    assert check(store, path).check["against"] == good.hash  # type: ignore[index]


def test_values_within_the_rules_pass_and_float_columns_may_arrive_as_ints(
    tmp_path: Path, store: Store
) -> None:
    path = tmp_path / "t.csv"
    pd.DataFrame({"x": [0.5, 1.5, 2.0, 3.5], "n": [1, 2, 3, 4]}).to_csv(path, index=False)
    check(store, path)
    pd.DataFrame({"x": [1, 2, 3, 3], "n": [2, 3, 4, 4]}).to_csv(path, index=False)
    assert check(store, path).check["passed"]  # type: ignore[index]
    pd.DataFrame({"x": [1.0, 2.0, 3.0, 3.0], "n": [1.5, 2.0, 3.0, 4.0]}).to_csv(path, index=False)
    with pytest.raises(checks.DataCheckFailed, match="column 'n': dtype\\('int64'\\)"):
        check(store, path)


def test_nulls_where_there_were_none_fail(tmp_path: Path, store: Store) -> None:
    frame = _customers()
    check(store, frame, name="customers")
    frame.loc[4, "income"] = None
    with pytest.raises(checks.DataCheckFailed, match="column 'income': not_nullable failed"):
        check(store, frame, name="customers")


def test_a_table_read_in_chunks_is_checked_in_the_same_pass_with_row_numbers_of_the_file(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datasets, "CHUNK_ROWS", 50)
    path = tmp_path / "t.csv"
    _customers(500).to_csv(path, index=False)
    check(store, path)
    again = _customers(500, seed=4)
    again.loc[[10, 260, 499], "age"] = 500
    again.to_csv(path, index=False)
    with pytest.raises(checks.DataCheckFailed) as raised:
        check(store, path)
    (failure,) = raised.value.failures
    assert failure["count"] == 3
    assert [e["row"] for e in failure["examples"]] == [10, 260, 499]


def test_a_given_schema_object_yaml_text_or_file(tmp_path: Path, store: Store) -> None:
    schema = pa.DataFrameSchema({"age": pa.Column(int, pa.Check.le(65))})
    frame = _customers()
    with pytest.raises(checks.DataCheckFailed, match="against the given schema"):
        check(store, frame, schema=schema)
    (tmp_path / "s.yaml").write_text(schema.to_yaml())
    for given in (schema.to_yaml(), tmp_path / "s.yaml", str(tmp_path / "s.yaml")):
        with pytest.raises(checks.DataCheckFailed, match="column 'age': less_than_or_equal_to"):
            check(store, frame, schema=given)
    assert check(store, frame[frame.age <= 65], schema=schema).check["against"] == "schema"  # type: ignore[index]


@pytest.mark.parametrize(
    ("schema", "error", "words"),
    [
        ("columns: [", ValueError, "the schema text is not a pandera schema"),
        ("just: text\n", ValueError, "names no columns and no checks"),
        ("missing.yaml", ValueError, "cannot be read"),
        (42, TypeError, "takes a pandera DataFrameSchema"),
    ],
)
def test_a_schema_that_does_not_parse_is_refused_and_nothing_is_recorded(
    store: Store, schema: Any, error: type[Exception], words: str
) -> None:
    with pytest.raises(error, match=words):
        check(store, _customers(), schema=schema, name="c")
    assert store.data_versions() == []


def test_what_is_not_a_table_is_refused(tmp_path: Path, store: Store) -> None:
    (tmp_path / "a.json").write_text("{}")
    with pytest.raises(ValueError, match="checks tables"):
        check(store, tmp_path / "a.json")
    with pytest.raises(TypeError, match="takes a file or folder path or a pandas DataFrame"):
        check(store, [1, 2, 3])
    assert store.data_versions() == []


def test_a_remote_stage_checks_against_the_baselines_the_run_sent(
    tmp_path: Path, store: Store
) -> None:
    """On a Dask worker the kernel has no mlops.db: the journal answers from the baselines sent
    with the task, so the check fails there exactly as it fails locally."""
    path = tmp_path / "t.csv"
    _customers().to_csv(path, index=False)
    check(store, path)
    bad = _customers(seed=5)
    bad.loc[2, "plan"] = "gold"
    bad.to_csv(path, index=False)
    run_id, _ = store.start_run(
        pipeline="p", version="v", notebook=None, compiled="", parameters={}, stages=["s"],
        environment={},
    )  # fmt: skip
    file = tmp_path / "worker" / "journal.jsonl"
    file.parent.mkdir()
    file.with_name(file.name + journal.KNOWN_SUFFIX).write_text(
        json.dumps(journal.known(store, run_id, []))
    )
    remote = journal.Journal(file, str(store.objects))
    with pytest.raises(checks.DataCheckFailed) as on_worker:
        checks.check(remote, path, run_id=run_id, stage="s")  # type: ignore[arg-type]
    with pytest.raises(checks.DataCheckFailed) as here:
        check(store, path)
    assert on_worker.value.failures == here.value.failures
    journal.replay(store, run_id, "s", journal.read(file))
    replayed = store.data_versions(run_id=run_id)[0]
    assert replayed["check"]["passed"] is False and replayed["sketch"]


# -- in a pipeline: a check stage, against the notebook run top to bottom


def test_a_failed_data_check_in_a_check_stage_fails_the_run_where_the_notebook_stops(
    tmp_path: Path, home: Path
) -> None:
    import papermill

    path = tmp_path / "data.csv"
    _customers().to_csv(path, index=False)
    notebook = write_notebook(
        tmp_path / "nb.ipynb",
        [
            (["setup"], "import pandas as pd\nimport mlops_jupyter as mlops"),
            (["stage:load"], "frame = pd.read_csv('data.csv')"),
            (["stage:validate", "check"], "mlops.check_data('data.csv')"),
            (["stage:train"], "mean_age = float(frame.age.mean())"),
        ],
    )
    assert api.run(notebook)["status"] == "succeeded"
    bad = _customers(seed=6)
    bad.loc[0, "age"] = 999
    bad.to_csv(path, index=False)
    run = api.run(notebook)
    stages = {s["name"]: s for s in run["stages"]}
    assert run["status"] == "failed"
    assert stages["validate"]["status"] == "failed" and stages["train"]["status"] == "skipped"
    assert "check 'validate' failed" in stages["validate"]["error"]
    assert "column 'age': in_range(10, 97) failed for 1 row" in stages["validate"]["error"]
    # the notebook run top to bottom stops at the same cell with the same exception
    with pytest.raises(papermill.PapermillExecutionError) as raised:
        papermill.execute_notebook(
            str(notebook), str(tmp_path / "ref.ipynb"), progress_bar=False, cwd=str(tmp_path)
        )
    assert raised.value.ename == "DataCheckFailed"
    assert "column 'age': in_range(10, 97) failed for 1 row" in raised.value.evalue


# -- the shell: mlops data check


def _mlops(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlops_jupyter", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


def test_data_check_from_the_shell_reads_and_changes_nothing(tmp_path: Path, home: Path) -> None:
    path = tmp_path / "t.csv"
    _customers().to_csv(path, index=False)
    with Store(home) as store:
        first = check(store, path)
    db = home / "mlops.db"
    assert _mlops("data", "check", str(path), cwd=tmp_path).returncode == 0
    bad = _customers(seed=7).drop(columns=["plan"])
    bad.loc[1, "income"] = 1e6
    bad.to_csv(path, index=False)
    before = db.read_bytes()
    result = _mlops("data", "check", str(path), "--json", cwd=tmp_path)
    assert result.returncode == 1
    found = json.loads(result.stdout)
    assert found["passed"] is False and found["against"]["hash"] == first.hash
    assert [f["column"] for f in found["failures"]] == ["plan", "income"]
    text = _mlops("data", "check", str(path), "--against", first.hash[:10], cwd=tmp_path)
    assert text.returncode == 1 and "column 'plan' is missing" in text.stdout
    for args, words in (
        (("--against", "0000"), "has no version '0000'"),
        (("--schema", "nope.yaml"), "cannot be read"),
    ):
        bad_input = _mlops("data", "check", str(path), *args, cwd=tmp_path)
        assert bad_input.returncode == 2 and words in bad_input.stderr
        assert "Traceback" not in bad_input.stderr
    (tmp_path / "broken.yaml").write_text("columns: {age: {dtype: [")
    broken = _mlops("data", "check", str(path), "--schema", "broken.yaml", cwd=tmp_path)
    assert broken.returncode == 2 and "is not a pandera schema" in broken.stderr
    assert db.read_bytes() == before


def test_ranges_allow_a_tenth_of_the_span_past_the_extremes_and_no_negatives_where_none_were(
    store: Store,
) -> None:
    check(store, pd.DataFrame({"x": [0.0, 5.0, 10.0]}), name="f")
    assert check(store, pd.DataFrame({"x": [0.0, 10.9]}), name="f").check["passed"]  # type: ignore[index]
    with pytest.raises(checks.DataCheckFailed, match="in_range"):
        check(store, pd.DataFrame({"x": [13.0]}), name="f")  # the baseline is now 0-10.9
    with pytest.raises(checks.DataCheckFailed, match=r"-0.5 at row 0"):
        check(store, pd.DataFrame({"x": [-0.5]}), name="f")
