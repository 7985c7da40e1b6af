"""Reading cells' code: parsing and data-flow analysis as compile errors, and the special cells.

The parameters cell declares the pipeline's parameters (literals only); the metrics cell names
the values to record. Both are read here, pure, from their source.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from ..errors import shown
from .analysis import Flow, TooDeep, analyze
from .model import PARAMETER_TYPES, Parameter
from .notebook import Cell, Notebook, encodable
from .stages import cell_error
from .syntax import parse_source


def parse_cell(nb: Notebook, cell: Cell, source: str) -> ast.Module:
    """``source`` (the cell's, maybe with its magic blanked) parsed, or a compile error."""
    try:
        return parse_source(source)
    except SyntaxError as exc:
        raise cell_error(
            nb,
            cell,
            f"has a syntax error: {exc.msg}.",
            "Fix it, or tag the cell 'skip' to leave it out of the pipeline.",
            line=exc.lineno,
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:
        reason = (
            "is nested too deeply"
            if isinstance(exc, RecursionError)
            else f"cannot be parsed ({exc})"
        )
        raise cell_error(nb, cell, f"{reason}.", "Tag the cell 'skip' to leave it out.") from None


def analyze_cells(
    nb: Notebook, trees: list[tuple[int, ast.Module]], modules: set[str] | None = None
) -> Flow:
    """:func:`~.analysis.analyze`, with a tree too deep to walk as a compile error."""
    try:
        return analyze(trees, modules)
    except TooDeep as exc:
        cell = next(c for c in nb.cells if c.index == exc.cell)
        raise cell_error(
            nb, cell, "is nested too deeply to analyse.", "Split the expression up."
        ) from None


def literal_problem(value: Any) -> str | None:
    """What keeps ``value`` out of the parameter types (``"a tuple"``, ``"a set"``, ``"a key that
    is not a string (1)"``...), or None when it fits: int, float, str, bool, None, and lists and
    dicts of those with string keys. The rule for a parameters cell and for ``-p`` alike."""
    kind = PARAMETER_TYPES.get(type(value))
    if kind is None:
        return f"a {type(value).__name__}"
    if kind == "str" and not encodable(value):
        return f"text that is not valid Unicode ({shown(value)}: bytes of another encoding?)"
    if kind == "list":
        return next((p for p in map(literal_problem, value) if p), None)
    if kind == "dict":
        for key, item in value.items():
            problem = (
                literal_problem(key)
                if isinstance(key, str)
                else f"a key that is not a string ({shown(key)})"
            )
            problem = problem or literal_problem(item)
            if problem:
                return problem
    if kind == "float" and not math.isfinite(value):
        return f"a number that is not finite ({value!r})"
    return None


def read_parameters(nb: Notebook, cell: Cell, found: dict[str, Parameter]) -> None:
    """Add the parameters ``cell`` assigns to ``found``; a name assigned again is redefined."""
    tree = parse_cell(nb, cell, cell.source)
    for stmt in tree.body:
        if isinstance(stmt, ast.Pass) or (
            isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
        ):
            continue
        target = None
        value_node: ast.expr | None = None
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1:
            target, value_node = stmt.targets[0], stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            target, value_node = stmt.target, stmt.value
        if not isinstance(target, ast.Name) or value_node is None:
            raise cell_error(
                nb,
                cell,
                "a parameters cell may only assign literal values to names (like 'n = 100').",
                "Move other code to a setup cell or a stage.",
                line=stmt.lineno,
            )
        name = target.id
        try:
            value = ast.literal_eval(value_node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            raise cell_error(
                nb,
                cell,
                f"parameter '{name}' is not a literal: parameters are passed as values, never as code.",
                f"Write a literal such as '{name} = 100', or compute it in a stage from a literal parameter.",
                line=stmt.lineno,
            ) from None
        problem = literal_problem(value)
        if problem:
            kind = PARAMETER_TYPES.get(type(value))
            what = (
                f"a {type(value).__name__}"
                if kind is None
                else f"a {kind} that holds {problem}"
                if kind in ("list", "dict")
                else problem
            )
            raise cell_error(
                nb,
                cell,
                f"parameter '{name}' is {what}; parameters are int, float, str, "
                "bool, list, dict or None (lists and dicts of those, dict keys strings).",
                "Use a list instead of a tuple or set, and finite numbers.",
                line=stmt.lineno,
            )
        found[name] = Parameter(
            name, value, PARAMETER_TYPES[type(value)], cell.index, cell.id, stmt.lineno
        )


def metric_names(nb: Notebook, cell: Cell) -> list[tuple[str, int]]:
    """The names a metrics cell lists, each with its line, in order."""
    tree = parse_cell(nb, cell, cell.source)
    names: list[tuple[str, int]] = []

    def take(expr: ast.expr, line: int) -> None:
        if isinstance(expr, ast.Name):
            names.append((expr.id, line))
        elif isinstance(expr, ast.Tuple):
            for elt in expr.elts:
                take(elt, line)
        elif (
            isinstance(expr, ast.Call)
            and isinstance(expr.func, ast.Name)
            and expr.func.id in ("print", "display")
            and not expr.keywords
        ):
            for arg in expr.args:
                take(arg, line)
        else:
            raise cell_error(
                nb,
                cell,
                "a metrics cell lists the names to record, as bare names or print(name).",
                "Compute the metric in a stage and list only its name here.",
                line=line,
            )

    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            # no expression to take apart: the same error, at the statement's line
            take(ast.Constant(None), stmt.lineno)
        else:
            take(stmt.value, stmt.lineno)
    return names
