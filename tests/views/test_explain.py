"""``mlops explain``'s text: cells by their numbers, as users count them (ids on request), what
each stage reads and hands on, in columns that stay aligned whatever the names."""

from __future__ import annotations

import re

from mlops_jupyter.views.explain import explain_text

CELLS = [
    (["parameters"], "n = 3"),
    (["setup"], "import math"),
    {"id": "load-data", "tags": ["stage:load"], "source": "data = list(range(n))"},
    {"id": "fit", "tags": ["stage:a_stage_with_a_rather_long_name"], "source": "w = data"},
    "a_value_with_a_very_long_name = 1",
    (["skip"], "print(w)"),
    (["stage:report"], "print(w, data, a_value_with_a_very_long_name)"),
]


def test_cells_are_shown_by_number(build_nb) -> None:
    text = explain_text(build_nb(CELLS).to_dict())
    assert "  load  (cell 3)\n" in text
    assert "  a_stage_with_a_rather_long_name  (cells 4, 5)  after load\n" in text
    assert "Setup, run before every stage: cell 2\n" in text
    assert "load-data" not in text and "(id " not in text


def test_ids_are_shown_beside_the_numbers_on_request(build_nb) -> None:
    text = explain_text(build_nb(CELLS).to_dict(), ids=True)
    assert "  load  (cell 3 (id load-data))\n" in text
    assert "(cells 4 (id fit), 5 (id c5))" in text
    assert "Setup, run before every stage: cell 2 (id c2)\n" in text
    assert "n: int = 3   (cell 1 (id c1), line 1)" in text
    assert "assigned in cell 3 (id load-data), line 1" in text
    assert "cell 6 (id c6): tagged skip" in text


def test_the_json_keeps_ids_and_numbers(build_nb) -> None:
    data = build_nb(CELLS).to_dict()
    load = data["stages"][0]
    assert (load["cells"], load["cell_numbers"]) == (["load-data"], [3])
    assert data["setup_cell_ids"] == ["c2"]


def test_columns_stay_aligned_with_long_names(build_nb) -> None:
    text = explain_text(build_nb(CELLS).to_dict())
    rows = [line for line in text.splitlines() if re.match(r"    (in|out) ", line)]
    assert len(rows) >= 4
    arrows = {line.index("<-" if " <- " in line else "->") for line in rows}
    assert len(arrows) == 1, "\n".join(rows)
    hows = {line.index(" read in" if " read in" in line else " assigned in") for line in rows}
    assert len(hows) == 1, "\n".join(rows)


def test_a_long_default_is_shown_cut_short(build_nb) -> None:
    text = explain_text(
        build_nb([(["parameters"], f"text = {'x' * 5000!r}"), "y = text"]).to_dict()
    )
    (line,) = [line for line in text.splitlines() if line.startswith("  text: str = ")]
    assert len(line) < 120
    assert "(5,002 characters)" in line
