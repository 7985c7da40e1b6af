"""The tag language, specified by the shared table ``tests/cases/tags.json``.

The JupyterLab extension's TypeScript parser runs the same table, so a case added here is a case
both implementations must agree on.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlops_jupyter.compiler.tags import CellTags, TagError, check_stage_name, parse_cell_tags

TABLE = Path(__file__).parents[1] / "cases" / "tags.json"
CASES = json.loads(TABLE.read_text(encoding="utf-8"))["cases"]
FIELDS = {
    "role", "stage", "dialect", "after", "cache", "retries", "timeout", "resources", "check",
    "magic", "injected",
}  # fmt: skip


def as_dict(parsed: CellTags) -> dict[str, object]:
    return {
        "role": parsed.role,
        "stage": parsed.stage,
        "dialect": parsed.dialect,
        "after": list(parsed.after),
        "cache": parsed.cache,
        "retries": parsed.retries,
        "timeout": parsed.timeout,
        "resources": None if parsed.resources is None else dict(parsed.resources),
        "check": parsed.check,
        "magic": parsed.magic,
        "injected": parsed.injected,
    }


def test_the_table_is_well_formed() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names)), "case names are unique (they are test ids)"
    for case in CASES:
        assert set(case) in (
            {"name", "tags", "source", "expect"},
            {"name", "tags", "source", "error"},
        )
        assert isinstance(case["tags"], list)
        assert all(isinstance(tag, str) for tag in case["tags"])
        assert isinstance(case["source"], str)
        if "expect" in case:
            assert set(case["expect"]) == FIELDS, case["name"]
        else:
            assert case["error"], case["name"]


def test_the_table_covers_every_tag_form() -> None:
    tags = {
        tag.split(":")[0] + (":" if ":" in tag else "") for case in CASES for tag in case["tags"]
    }
    vocabulary = {
        "stage:", "after:", "parameters", "setup", "skip", "metrics", "cache:", "retries:",
        "timeout:", "resources:", "block:", "step:", "prev:", "imports", "functions", "pipeline-parameters",
        "pipeline-metrics", "injected-parameters", "check",
    }  # fmt: skip
    assert vocabulary <= tags
    assert any(case["source"].lstrip("\n").startswith("%%mlops stage") for case in CASES)
    assert sum("error" in case for case in CASES) >= 30


@pytest.mark.parametrize(
    "case", [c for c in CASES if "expect" in c], ids=[c["name"] for c in CASES if "expect" in c]
)
def test_parses(case: dict) -> None:
    assert as_dict(parse_cell_tags(case["tags"], case["source"])) == case["expect"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if "error" in c], ids=[c["name"] for c in CASES if "error" in c]
)
def test_rejects(case: dict) -> None:
    with pytest.raises(TagError) as caught:
        parse_cell_tags(case["tags"], case["source"])
    assert case["error"] in caught.value.message
    assert str(caught.value) == caught.value.message


def test_source_defaults_to_empty() -> None:
    assert parse_cell_tags(["stage:a"]) == parse_cell_tags(["stage:a"], "")
    assert not parse_cell_tags(["stage:a"]).magic


def test_options_holds_only_the_options_set() -> None:
    assert parse_cell_tags([]).options() == {}
    assert parse_cell_tags(["cache:on"]).options() == {"cache": True}
    parsed = parse_cell_tags(["retries:0", "timeout:5", "cache:off"])
    assert parsed.options() == {"cache": False, "retries": 0, "timeout": 5.0}


def test_retries_is_an_int_and_timeout_a_float() -> None:
    parsed = parse_cell_tags(["retries:7", "timeout:60"])
    assert type(parsed.retries) is int
    assert type(parsed.timeout) is float


def test_bad_stage_names_come_with_a_hint_showing_the_rule() -> None:
    with pytest.raises(TagError) as caught:
        check_stage_name("Train")
    assert caught.value.hint is not None
    assert "lowercase letter" in caught.value.hint
    assert check_stage_name("load-data") == "load-data"


@pytest.mark.parametrize(
    ("tags", "hinted"),
    [
        (["stage:a", "stage:b"], "one stage tag per cell"),
        (["parameters", "setup"], "parameters, setup, metrics"),
        (["setup", "stage:a"], "remove the 'setup' tag"),
    ],
    ids=["two stages", "two roles", "role with stage"],
)
def test_conflicts_say_how_to_fix_them(tags: list[str], hinted: str) -> None:
    with pytest.raises(TagError) as caught:
        parse_cell_tags(tags)
    assert hinted in (caught.value.hint or "")


def test_tag_error_is_a_value_error() -> None:
    # callers that only know ValueError still see a tag problem as bad input
    assert issubclass(TagError, ValueError)


@pytest.mark.parametrize(
    ("tags", "source", "tagged", "kale"),
    [
        pytest.param([], "", False, False, id="no tags"),
        pytest.param(["hide-input", "Stage:x"], "", False, False, id="only unknown tags"),
        pytest.param(["block:"], "", False, True, id="empty Kale block"),
        pytest.param(["stage:a"], "", True, False, id="stage"),
        pytest.param(["after:a"], "", True, False, id="after"),
        pytest.param(["cache:off"], "", True, False, id="option"),
        pytest.param(["setup"], "", True, False, id="our role"),
        pytest.param(["skip"], "", True, False, id="skip is shared"),
        pytest.param(["parameters"], "", True, False, id="papermill's parameters"),
        pytest.param([], "%%mlops stage a", True, False, id="stage line"),
        pytest.param(["block:a"], "", True, True, id="Kale block"),
        pytest.param(["step:a"], "", True, True, id="Kale step"),
        pytest.param(["prev:a"], "", True, True, id="Kale prev"),
        pytest.param(["imports"], "", True, True, id="Kale imports"),
        pytest.param(["functions"], "", True, True, id="Kale functions"),
        pytest.param(["pipeline-parameters"], "", True, True, id="Kale parameters"),
        pytest.param(["pipeline-metrics"], "", True, True, id="Kale metrics"),
    ],
)
def test_a_cell_knows_if_it_is_tagged_and_if_the_tags_are_kales(
    tags: list[str], source: str, tagged: bool, kale: bool
) -> None:
    """An untagged cell continues the cell above; Kale's tags switch on Kale's continuation rule."""
    parsed = parse_cell_tags(tags, source)
    assert (parsed.tagged, parsed.kale) == (tagged, kale)
