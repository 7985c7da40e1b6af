"""``-p name=value``: each value is read as the parameter's declared type, or refused with a reason."""

from __future__ import annotations

import math

import pytest

from mlops_jupyter.errors import MlopsError
from mlops_jupyter.runner.params import coerce, coerce_value, split_assignments

SPEC = {
    "n": {"default": 3, "type": "int"},
    "lr": {"default": 0.1, "type": "float"},
    "name": {"default": "run", "type": "str"},
    "flag": {"default": False, "type": "bool"},
    "sizes": {"default": [1, 2], "type": "list"},
    "opts": {"default": {"a": 1}, "type": "dict"},
    "anything": {"default": None, "type": "none"},
}


def test_split_assignments_keeps_everything_after_the_first_equals_sign() -> None:
    assert split_assignments(["n=5", "expr=a=b", " name =x", "empty="]) == {
        "n": "5",
        "expr": "a=b",
        "name": "x",
        "empty": "",
    }


@pytest.mark.parametrize("item", ["n", "=5", " =5", ""])
def test_an_assignment_without_a_name_or_equals_sign_is_refused(item: str) -> None:
    with pytest.raises(MlopsError, match="NAME=VALUE"):
        split_assignments([item])


def test_the_last_of_repeated_assignments_wins() -> None:
    assert split_assignments(["n=1", "n=2"]) == {"n": "2"}


def test_defaults_fill_what_is_not_given() -> None:
    assert coerce(SPEC, {}) == {name: spec["default"] for name, spec in SPEC.items()}


def test_given_text_is_read_as_each_declared_type() -> None:
    values = coerce(
        SPEC,
        {
            "n": "1_000",
            "lr": "1e-3",
            "name": "42",
            "flag": "yes",
            "sizes": "[3, 4, 5]",
            "opts": '{"b": [1, 2]}',
        },
    )
    assert values["n"] == 1000 and type(values["n"]) is int
    assert values["lr"] == 0.001 and type(values["lr"]) is float
    assert values["name"] == "42"  # a str parameter keeps digits as text
    assert values["flag"] is True
    assert values["sizes"] == [3, 4, 5]
    assert values["opts"] == {"b": [1, 2]}
    assert values["anything"] is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [("true", True), ("True", True), ("1", True), ("on", True), ("no", False), ("OFF", False)],
)
def test_bool_parameters_accept_the_usual_spellings(text: str, expected: bool) -> None:
    assert coerce_value("flag", SPEC["flag"], text) is expected


def test_an_int_given_for_a_float_becomes_a_float() -> None:
    value = coerce_value("lr", SPEC["lr"], "2")
    assert value == 2.0 and type(value) is float


def test_list_and_dict_parameters_take_python_literals_too() -> None:
    assert coerce_value("sizes", SPEC["sizes"], "[1, 'a', None, True]") == [1, "a", None, True]
    assert coerce_value("opts", SPEC["opts"], "{'k': 1.5}") == {"k": 1.5}


@pytest.mark.parametrize(
    ("text", "expected"),
    [("None", None), ("null", None), ("5", 5), ("[1]", [1]), ("plain text", "plain text")],
)
def test_a_none_default_takes_any_value(text: str, expected: object) -> None:
    assert coerce_value("anything", SPEC["anything"], text) == expected


@pytest.mark.parametrize(
    ("name", "text", "kind"),
    [
        ("n", "abc", "an int"),
        ("n", "1.5", "an int"),
        ("n", "", "an int"),
        ("lr", "fast", "a float"),
        ("flag", "maybe", "a bool"),
        ("sizes", "[1, 2", "a list"),
        ("sizes", "{1, 2}", "a list"),
        ("sizes", "3", "a list"),
        ("opts", "[1]", "a dict"),
    ],
)
def test_a_value_that_does_not_fit_names_the_parameter_and_its_type(
    name: str, text: str, kind: str
) -> None:
    with pytest.raises(MlopsError) as caught:
        coerce(SPEC, {name: text})
    message = str(caught.value)
    assert f"parameter '{name}' expects {kind}" in message
    assert text in message  # what was given
    assert f"-p {name}=" in message  # and an example that works


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1e400"])
def test_a_float_parameter_must_be_finite(text: str) -> None:
    with pytest.raises(MlopsError, match=r"parameter 'lr' expects a float.*not a finite number"):
        coerce_value("lr", SPEC["lr"], text)


def test_a_list_holding_nan_is_refused_as_not_plain_data() -> None:
    with pytest.raises(MlopsError, match=r"parameter 'sizes'.*not plain data"):
        coerce_value("sizes", SPEC["sizes"], "[NaN]")


def test_an_unknown_parameter_is_refused_listing_the_known_ones_with_types() -> None:
    with pytest.raises(MlopsError) as caught:
        coerce(SPEC, {"epochs": "3"})
    message = str(caught.value)
    assert "unknown parameter 'epochs'" in message
    assert "n (int)" in message and "lr (float)" in message and "flag (bool)" in message


def test_a_pipeline_without_parameters_says_so() -> None:
    with pytest.raises(MlopsError, match="parameters: none"):
        coerce({}, {"n": "1"})


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("n", 7, True),
        ("n", True, False),  # a bool is not an int here
        ("n", 7.0, False),
        ("lr", 1, True),
        ("lr", False, False),
        ("name", 5, False),
        ("flag", 1, False),
        ("sizes", [1, "x"], True),
        ("sizes", {"a": 1}, False),
        ("opts", {"a": [1]}, True),
    ],
)
def test_json_values_from_the_api_are_checked_not_converted(
    name: str, value: object, ok: bool
) -> None:
    if ok:
        assert coerce_value(name, SPEC[name], value) == value
    else:
        with pytest.raises(MlopsError, match=f"parameter '{name}'"):
            coerce_value(name, SPEC[name], value)


def test_a_float_from_the_api_must_be_finite() -> None:
    with pytest.raises(MlopsError, match="not a finite number"):
        coerce_value("lr", SPEC["lr"], math.inf)


# A value the declared types cannot carry (issue 9): a tuple inside a list reached the kernel as
# the text '(2, 3)' and shared a cache entry with [2, 3]. Refused, naming the parameter and what
# to write instead.
@pytest.mark.parametrize(
    ("name", "text", "what", "write"),
    [
        ("sizes", "[1, (2,3)]", "a tuple", "-p sizes=[1, [2, 3]]"),
        ("sizes", "[1, {2, 3}]", "a set", "-p sizes=[1, [2, 3]]"),
        ("sizes", "[1, b'x']", "a bytes", None),
        ("sizes", "[1, 2j]", "a complex", None),
        ("opts", "{1: 'a'}", "a key that is not a string", '-p opts={"1": "a"}'),
        ("opts", "{'a': (1, 2)}", "a tuple", '-p opts={"a": [1, 2]}'),
        ("anything", "(1, 2)", "a tuple", "-p anything=[1, 2]"),
        ("anything", "{1, 2}", "a set", "-p anything=[1, 2]"),
    ],
)
def test_a_literal_the_declared_types_cannot_carry_is_refused(
    name: str, text: str, what: str, write: str | None
) -> None:
    with pytest.raises(MlopsError) as caught:
        coerce(SPEC, {name: text})
    message = str(caught.value) + " " + (caught.value.hint or "")
    assert f"parameter '{name}'" in message
    assert what in message
    assert "int, float, str, bool, list, dict or None" in message
    if write:
        assert write in message


def test_a_tuple_is_never_the_same_parameter_as_a_list() -> None:
    assert coerce_value("sizes", SPEC["sizes"], "[1, [2, 3]]") == [1, [2, 3]]
    with pytest.raises(MlopsError):
        coerce_value("sizes", SPEC["sizes"], "[1, (2, 3)]")
    with pytest.raises(MlopsError):  # from the API too: a Python caller may pass a tuple
        coerce_value("sizes", SPEC["sizes"], [1, (2, 3)])
    with pytest.raises(MlopsError):
        coerce_value("opts", SPEC["opts"], {"a": {1: 2}})


@pytest.mark.parametrize(
    ("name", "text"),
    [("n", "1" * 5000), ("n", "x" * 5000), ("sizes", "[" + "1, " * 3000 + "(2, 3)]")],
)
def test_a_long_refused_value_is_echoed_cut_short(name: str, text: str) -> None:
    with pytest.raises(MlopsError) as caught:
        coerce(SPEC, {name: text})
    message = str(caught.value)
    assert f"parameter '{name}'" in message
    assert text[:20] in message  # recognisable
    assert len(message) < 600
    assert "characters)" in message  # and says how long it was


def test_text_that_is_not_valid_unicode_is_refused_naming_the_parameter() -> None:
    # bytes of another encoding on the command line reach Python as lone surrogates
    undecodable = b"caf\xe9".decode("utf-8", "surrogateescape")
    with pytest.raises(MlopsError, match=r"parameter 'name'.*not valid Unicode"):
        coerce(SPEC, {"name": undecodable})


@pytest.mark.parametrize(
    ("word", "needle"),
    [
        (b"name=caf\xe9", "parameter 'name' (-p): its value b'caf\\xe9' is not UTF-8 text"),
        (b"caf\xe9=1", "-p b'caf\\xe9=1': the parameter name is not UTF-8 text"),
    ],
)
def test_argv_bytes_that_are_not_utf8_are_refused_as_they_are_split(
    word: bytes, needle: str
) -> None:
    # how Python hands such bytes over in sys.argv (PEP 383)
    with pytest.raises(MlopsError) as caught:
        split_assignments([word.decode("utf-8", "surrogateescape")])
    assert needle in str(caught.value)
    assert "UTF-8 locale" in str(caught.value)
