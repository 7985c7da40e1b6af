"""Turn a failed stage execution into a message that points at the SOURCE notebook's cell."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


def _executed_cell(executed: Path, exec_count: int) -> dict[str, Any] | None:
    """The failing cell, by execution count: papermill adds an error banner cell on top of the
    executed notebook, so positions shift but execution counts do not."""
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return next((c for c in cells if c.get("execution_count") == exec_count), None)


def _running_cell(executed: Path) -> dict[str, Any] | None:
    """The cell that was executing when a stage stopped without a cell error (timeout, kernel
    death): the last one papermill started, in the executed notebook it saves after each cell."""
    try:
        cells = json.loads(executed.read_text())["cells"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    started = [c for c in cells if c.get("metadata", {}).get("papermill", {}).get("start_time")]
    return started[-1] if started else None


def _where_it_stopped(notebook: str, executed: Path) -> str:
    origin = ((_running_cell(executed) or {}).get("metadata", {}).get("mlops", {})).get(
        "source_cell"
    )
    return f" at {notebook} cell {origin['index']} (id {origin['id']})" if origin else ""


def describe_stop(stage: str, notebook: str, executed: Path, exc: BaseException) -> str:
    """``stage 'fit' failed at model.ipynb cell 4 (id x): CellTimeoutError: ...`` for a stage
    that stopped without a cell error of its own."""
    where = _where_it_stopped(notebook, executed)
    lines = strip_ansi(str(exc)).strip().splitlines()
    reason = f"{type(exc).__name__}: {lines[0] if lines else ''}"
    if type(exc).__name__ == "DeadKernelError":  # os._exit, a crash, the OOM killer
        return (
            f"stage '{stage}' stopped before its last cell{where}: its kernel exited ({reason}; "
            "os._exit, a crash or running out of memory)."
        )
    return f"stage '{stage}' failed{where}: {reason}"


def describe_early_exit(stage: str, notebook: str, executed: Path) -> str:
    """A stage whose execution reported no error but whose last cell (the one that hands its
    values on) never ran: papermill stops quietly at ``sys.exit(0)`` / ``raise SystemExit``."""
    return (
        f"stage '{stage}' stopped before its last cell{_where_it_stopped(notebook, executed)} "
        "(sys.exit or SystemExit), so it is not a result: remove the exit, or put what follows "
        "it under an if."
    )


_REPORTED = re.compile(r"^(UsageError): (.+)$", re.MULTILINE)
_MAGIC_NAME = re.compile(r"`%{1,2}(\w+)`")


def _source_lines(cell: dict[str, Any]) -> list[str]:
    source = cell.get("source", "")
    return ("".join(source) if isinstance(source, list) else str(source)).splitlines()


def _reported_error(cell: dict[str, Any]) -> tuple[str, str, int | None] | None:
    """``(name, message, line)`` of the error a cell printed instead of raising, with the line
    of the magic it came from when the message names it or the cell has only one."""
    printed = "".join(
        "".join(o["text"]) if isinstance(o.get("text"), list) else str(o.get("text", ""))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "stream" and o.get("name") == "stderr"
    )
    found = _REPORTED.findall(strip_ansi(printed))
    if not found:
        return None
    name, message = found[-1]
    lines = _source_lines(cell)
    magics = [i for i, text in enumerate(lines) if text.lstrip().startswith("%")]
    named = _MAGIC_NAME.search(message)
    if named:
        word = re.compile(rf"%{{1,2}}{re.escape(named.group(1))}\b")
        magics = [i for i in magics if word.match(lines[i].lstrip())] or magics
    if len(magics) != 1:
        return name, message.strip(), None
    line = lines[magics[0]].strip()
    line = line if len(line) <= 80 else line[:77] + "..."
    return name, f"{message.strip()} (in {line})", magics[0] + 1


def describe(
    stage: str,
    notebook: str,
    executed: Path,
    exec_count: int | None,
    ename: str,
    evalue: str,
    traceback: list[str] | None,
) -> str:
    """``stage 'train' failed at iris.ipynb cell 7 (id ab12), line 3: ValueError: ...``"""
    where = ""
    cell = _executed_cell(executed, exec_count) if exec_count is not None else None
    meta = (cell or {}).get("metadata", {}).get("mlops", {})
    origin = meta.get("source_cell")
    line: int | None = None
    if ename == "CellExecutionError" and not evalue and cell is not None:
        # papermill's name for a cell that failed without raising: IPython reports a line
        # magic's UsageError on stderr only, so the cell's own output says what failed
        found = _reported_error(cell)
        if found:
            ename, evalue, line = found
        else:
            evalue = (
                "the cell failed without raising an exception (its output in the executed "
                "notebook says why)"
            )
    if origin:
        where = f" at {notebook} cell {origin['index']} (id {origin['id']})"
        text = strip_ansi("\n".join(traceback or []))
        match = _CELL_LINE.search(text)
        if match:
            line = int(match.group(1))
        if line is not None:
            where += f", line {line + int(origin.get('line_offset', 0))}"
    elif meta.get("role") == "outputs":
        where = " while handing its values on"
    elif meta.get("role") == "inputs":
        where = " while loading its inputs"
    evalue = strip_ansi(evalue).strip()
    return (
        f"stage '{stage}' failed{where}: {ename}: {evalue}"
        if evalue
        else f"stage '{stage}' failed{where}: {ename}"
    )


def check_failure(stage: str, error: str) -> str:
    """A check stage's failure, said as one: ``check 'validate' failed at ...: CheckFailed: ...``
    (the faces and ``mlops model promote`` tell check failures from others by these words)."""
    own = f"stage '{stage}' "
    return (
        f"check '{stage}' {error[len(own) :]}"
        if error.startswith(own)
        else (f"check '{stage}' failed: {error}")
    )
