"""The run request: the limits every face holds a run to, named as that face's user wrote them."""

from __future__ import annotations

import argparse

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.request import (
    MAX_STAGE_NAMES,
    MAX_VALUE_BYTES,
    add_run_options,
    from_args,
    from_json,
)


def parsed(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_options(parser)
    return parser.parse_args(argv)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("1" * MAX_VALUE_BYTES, True),
        ("1" * (MAX_VALUE_BYTES + 1), False),
        ("é" * (MAX_VALUE_BYTES // 2 + 1), False),  # bytes, not characters
        (["x" * 100] * 700, False),  # a JSON value counts as its JSON
        ({"k": "x" * MAX_VALUE_BYTES}, False),
    ],
)
def test_a_parameter_value_is_at_most_64_kib(value: object, ok: bool) -> None:
    if ok:
        assert from_json({"parameters": {"n": value}}).parameters == {"n": value}
        return
    with pytest.raises(MlopsError) as caught:
        from_json({"parameters": {"n": value}})
    text = str(caught.value)
    assert "'n'" in text and "'parameters'" in text and "64 KiB" in text
    assert len(text) < 300, "the value is not echoed"


def test_argv_names_the_option() -> None:
    with pytest.raises(MlopsError) as caught:
        from_args(parsed("-p", "n=" + "1" * (MAX_VALUE_BYTES + 1)))
    assert "'n' (-p)" in str(caught.value)
    with pytest.raises(MlopsError) as caught:
        from_args(parsed("--stages", ",".join(f"s{i}" for i in range(MAX_STAGE_NAMES + 1))))
    assert str(caught.value).startswith("--stages names 1,001 stages; at most 1,000")


@pytest.mark.parametrize("key", ["stages", "force"])
def test_at_most_1000_stage_names(key: str) -> None:
    names = [f"s{i}" for i in range(MAX_STAGE_NAMES)]
    assert getattr(from_json({key: names}), key) == names
    with pytest.raises(MlopsError) as caught:
        from_json({key: [*names, "one-more"]})
    assert f"'{key}' names 1,001 stages" in str(caught.value)
