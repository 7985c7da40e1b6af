"""``-p name=value``: read each value as the parameter's declared type, or refuse with a reason.

papermill only warns about an unknown or mistyped parameter and runs anyway; a pipeline that
silently runs with the wrong value is worse than one that does not start.
"""

from __future__ import annotations

import ast
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import SHOWN_CHARS, MlopsError, shown

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def split_assignments(items: Iterable[str]) -> dict[str, str]:
    """``-p`` words (``NAME=VALUE``) by name; text from argv that is not UTF-8 is refused here,
    naming the parameter, rather than when the store or the kernel fails to carry it."""
    found: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise MlopsError(
                f"-p {_argv_text(item)} is not NAME=VALUE.", hint="Write e.g. -p n=100 or -p n 100."
            )
        name = name.strip()
        if not _is_utf8(name):
            raise MlopsError(
                f"-p {_argv_text(item)}: the parameter name is not UTF-8 text.", hint=_UTF8_HINT
            )
        if not _is_utf8(value):
            raise MlopsError(
                f"parameter '{name}' (-p): its value {_argv_text(value)} is not UTF-8 text, "
                "which no notebook, store or kernel message can carry.",
                hint=_UTF8_HINT,
            )
        found[name] = value
    return found


_UTF8_HINT = (
    "Pass it as UTF-8: run in a UTF-8 locale (e.g. LANG=C.UTF-8) or convert the script or file "
    "the value came from (iconv -t UTF-8)."
)


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _argv_text(text: str) -> str:
    """Text from argv as the user typed it: undecodable bytes (which Python keeps as lone
    surrogates) shown as the bytes they were."""
    if _is_utf8(text):
        return shown(text)
    try:
        return shown(text.encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:  # a surrogate no byte decodes to (from JSON, not argv)
        return shown(text.encode("utf-8", "backslashreplace"))


def _literal(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return ast.literal_eval(text)


def _fail(name: str, kind: str, default: Any, value: Any, why: str = "") -> MlopsError:
    return MlopsError(
        f"parameter '{name}' expects {'an' if kind == 'int' else 'a'} {kind} (default "
        f"{shown(default)}), got {shown(value)}{why}.",
        hint=_example(name, kind, default),
    )


def _example(name: str, kind: str, default: Any) -> str:
    example = json.dumps(default) if kind in ("list", "dict") else repr(default)
    if len(example) > SHOWN_CHARS:  # a default too long to echo: an example of its type
        example = {"list": "[1, 2]", "dict": '{"a": 1}', "str": "text"}.get(kind, "...")
    return f"Pass e.g. -p {name}={example}."


def coerce_value(name: str, spec: Mapping[str, Any], value: Any) -> Any:
    """One value (text from the command line, or a JSON value from the REST API)."""
    kind, default = spec["type"], spec["default"]
    if isinstance(value, str) and kind != "str":
        text = value.strip()
        try:
            if kind == "int":
                value = int(text.replace("_", ""), 10)
            elif kind == "float":
                value = float(text)
            elif kind == "bool":
                if text.lower() not in _TRUE | _FALSE:
                    raise ValueError
                value = text.lower() in _TRUE
            elif kind in ("list", "dict"):
                value = _literal(text)
            elif kind == "none":
                try:
                    value = None if text in ("None", "null") else _literal(text)
                except (ValueError, SyntaxError):
                    value = text  # a None default takes any value; plain text stays text
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise _fail(name, kind, default, value) from None
    expected: dict[str, Any] = {
        "int": int,
        "float": (int, float),
        "str": str,
        "bool": bool,
        "list": list,
        "dict": dict,
    }
    if kind in expected:
        ok = isinstance(value, expected[kind]) and not (
            kind in ("int", "float") and isinstance(value, bool)
        )
        if not ok:
            raise _fail(name, kind, default, value)
        if kind == "float":
            value = float(value)
            if not math.isfinite(value):
                raise _fail(name, kind, default, value, " (not a finite number)")
    from ..compiler.cells import literal_problem

    try:
        problem = literal_problem(value)
    except RecursionError:
        problem = "lists or dicts nested too deeply"
    if problem:
        # a tuple would reach the kernel as its text, and share a cache entry with a list
        raise MlopsError(
            f"parameter '{name}' expects {'an' if kind == 'int' else 'a'} {kind} (default "
            f"{shown(default)}), got {shown(value)} (not plain data: it holds {problem}); parameters are "
            "int, float, str, bool, list, dict or None (lists and dicts of those, dict keys "
            "strings).",
            hint=_write_instead(name, value, kind, default),
        )
    return value


def _write_instead(name: str, value: Any, kind: str, default: Any) -> str:
    """``Write it as -p items=[1, [2, 3]] ...``: tuples and sets as lists, keys as strings."""

    def as_list(item: Any) -> Any:
        if isinstance(item, (set, frozenset)):
            return sorted(item)
        raise TypeError

    try:
        plain = json.dumps(value, allow_nan=False, default=as_list)
    except (TypeError, ValueError, RecursionError):
        return _example(name, kind, default)
    if (
        isinstance(value, str) or len(plain) > SHOWN_CHARS
    ):  # nothing to rewrite, or too long to echo
        return _example(name, kind, default)
    return f"Write it as -p {name}={plain} (lists in [], dict keys in quotes)."


def coerce(spec: Mapping[str, Mapping[str, Any]], given: Mapping[str, Any]) -> dict[str, Any]:
    """Every parameter's value for a run: defaults, overridden by ``given`` (checked)."""
    unknown = [n for n in given if n not in spec]
    if unknown:
        known = ", ".join(f"{n} ({s['type']})" for n, s in spec.items()) or "none"
        raise MlopsError(
            f"unknown parameter '{unknown[0]}'.",
            hint=f"This pipeline's parameters: {known}.",
        )
    values = {name: s["default"] for name, s in spec.items()}
    for name, value in given.items():
        values[name] = coerce_value(name, spec[name], value)
    return values
