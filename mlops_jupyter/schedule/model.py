"""What a schedule is: a checked row for the store, and the JSON object every face shows.

Everything is checked before anything is written: the name, the cron expression, the zone, the
policies, and the parameters against the pipeline's declared ones with the rule ``mlops run -p``
uses (``runner.params.coerce``), so a schedule never fires into a parameter error at 2 a.m.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from . import cron

NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}")
CATCH_UP = ("skip", "latest", "all")
OVERLAP = ("skip", "queue")


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise MlopsError(
            f"{name!r} is not a schedule name.",
            hint="A name is a lowercase letter, then up to 62 lowercase letters, digits, '-' or "
            "'_', e.g. nightly-train.",
        )
    return name


def _choice(value: Any, allowed: tuple[str, ...], option: str) -> str:
    if value not in allowed:
        raise MlopsError(
            f"{option} {value!r} is not one of {', '.join(allowed)}.",
            hint=f"For example {option} {allowed[-1]}.",
        )
    return str(value)


def declared_parameters(target: Path) -> dict[str, dict[str, Any]]:
    """The pipeline's parameters ``{name: {"type", "default"}}``, read without writing."""
    if target.is_dir():
        from ..runner.plan import load_plan

        return load_plan(target).parameters
    if not target.is_file():
        raise MlopsError(
            f"{target}: no such notebook or compiled pipeline folder.",
            hint="Give the path of a .ipynb notebook or of a folder `mlops compile` wrote.",
        )
    from ..compiler.output import load_pipeline

    return load_pipeline(target).parameters_json()


def new_schedule(
    name: str,
    target: str | Path,
    *,
    cron_expr: str,
    parameters: dict[str, Any] | None = None,
    tz: str | None = None,
    catch_up: str = "latest",
    max_catch_up: int = 10,
    overlap: str = "skip",
    pin: bool = False,
    on_failure: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A schedule row, every field checked; raises MlopsError naming the first bad one."""
    from ..runner.params import coerce

    check_name(name)
    expr = cron.check_cron(cron_expr)
    zone = cron.check_zone(tz)
    _choice(catch_up, CATCH_UP, "--catch-up")
    _choice(overlap, OVERLAP, "--overlap")
    if isinstance(max_catch_up, bool) or not isinstance(max_catch_up, int) or max_catch_up < 1:
        raise MlopsError(
            f"--max-catch-up {max_catch_up!r} must be a whole number of at least 1.",
            hint="For example --max-catch-up 10.",
        )
    path = Path(target).resolve()
    spec = declared_parameters(path)
    given = dict(parameters or {})
    try:
        values = coerce(spec, given)
    except MlopsError as exc:
        exc.notebook = exc.notebook or str(path)
        raise
    now = time.time() if now is None else now
    return {
        "name": name,
        "target": str(path),
        "compiled": str(path) if path.is_dir() else None,
        "cron": expr,
        "tz": zone,
        "parameters": {k: values[k] for k in given},  # typed; the rest follow the notebook
        "catch_up": catch_up,
        "max_catch_up": max_catch_up,
        "overlap": overlap,
        "pin": bool(pin) or path.is_dir(),
        "on_failure": on_failure or None,
        "next_fire": cron.next_after(expr, zone, now),
        "created_at": now,
    }


def to_json(row: dict[str, Any]) -> dict[str, Any]:
    """The object ``mlops schedule add/show/list --json`` prints."""
    return {
        "name": row["name"],
        "target": row["target"],
        "compiled": row["compiled"],
        "cron": row["cron"],
        "tz": row["tz"],
        "parameters": row["parameters"],
        "enabled": row["enabled"],
        "catch_up": row["catch_up"],
        "max_catch_up": row["max_catch_up"],
        "overlap": row["overlap"],
        "pin": row["pin"],
        "on_failure": row["on_failure"],
        "next_fire": cron.iso(row["next_fire"], row["tz"]) if row["enabled"] else None,
        "last_fire": cron.iso(row["last_fire"], row["tz"]),
    }


def fire_json(fire: dict[str, Any], tz: str) -> dict[str, Any]:
    """One line of ``mlops schedule history --json``."""
    return {
        "scheduled_for": cron.iso(fire["scheduled_for"], tz),
        "fired_at": cron.iso(fire["fired_at"], tz),
        "run_id": fire["run_id"],
        "status": fire["status"],
        "reason": fire["reason"],
        "attempts": fire["attempts"],
        "previous_run_id": fire["previous_run_id"],
    }


def add(home: Path, name: str, target: str | Path, **options: Any) -> dict[str, Any]:
    """Check a schedule, then record it in the store at ``home`` (a ``pin``ned notebook is
    compiled now, and every fire runs that version)."""
    from ..store import schedules as table
    from ..store.db import Store

    row = new_schedule(name, target, **options)
    with Store(home) as store:
        if store.db.execute("SELECT 1 FROM schedules WHERE name = ?", (name,)).fetchone():
            table.add_schedule(store, row)  # says the name is taken, before anything is compiled
        if row["pin"] and not row["compiled"]:
            from ..compiler.output import compile_notebook

            row["compiled"] = str(compile_notebook(row["target"]).output)
        table.add_schedule(store, row)
        return to_json(table.get_schedule(store, name))


def set_enabled(home: Path, name: str, enabled: bool, now: float | None = None) -> dict[str, Any]:
    """Pause, or resume from the next time after now (what was missed while paused is not
    caught up: pausing said not to run then)."""
    from ..store import schedules as table
    from ..store.db import Store

    with Store(home) as store:
        row = table.get_schedule(store, name)
        when = time.time() if now is None else now
        next_fire = cron.next_after(row["cron"], row["tz"], when) if enabled else None
        table.set_enabled(store, name, enabled, next_fire)
        return to_json(table.get_schedule(store, name))
