"""Cron expressions and time zones: checking them, and the fire times they give.

``cronsim`` computes the times: it has no dependencies (croniter brings python-dateutil and
pytz), takes 6 fields with seconds first, and walks local wall time in a ``zoneinfo`` zone the
way cron does across DST (a time skipped by spring-forward fires at the first minute after the
gap; a time that occurs twice at fall-back fires once, at the first occurrence).
"""

from __future__ import annotations

import os
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from ..errors import MlopsError

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
EXAMPLE = (
    "Write 5 fields (minute hour day month weekday), e.g. '30 2 * * *' for 02:30 every "
    "day, 6 with seconds first ('*/10 * * * * *': every 10 s), or an alias: "
    + ", ".join(a for a in ALIASES if a not in ("@annually", "@midnight"))
    + "."
)


def expand(expr: str) -> str:
    """The expression cronsim reads: aliases spelled out, spaces normalised."""
    text = " ".join(expr.split())
    return ALIASES.get(text.lower(), text)


def check_cron(expr: Any) -> str:
    """``expr`` as stored (whitespace normalised), or an MlopsError saying what is right."""
    from cronsim import CronSim, CronSimError

    if not isinstance(expr, str) or not expr.strip():
        raise MlopsError("the cron expression is empty.", hint=EXAMPLE)
    text = " ".join(expr.split())
    if text.startswith("@") and text.lower() not in ALIASES:
        raise MlopsError(f"unknown cron alias '{text}'.", hint=EXAMPLE)
    fields = expand(text).split(" ")
    if len(fields) not in (5, 6):
        raise MlopsError(
            f"the cron expression '{text}' has {len(fields)} fields; it needs 5 or 6.",
            hint=EXAMPLE,
        )
    try:
        CronSim(expand(text), datetime.now().astimezone())
    except (CronSimError, ValueError) as exc:
        raise MlopsError(
            f"the cron expression '{text}' is not valid ({exc}).", hint=EXAMPLE
        ) from None
    return text


def machine_zone() -> str:
    """The machine's IANA zone name: ``$TZ``, else what ``/etc/localtime`` links to, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        return name
    try:
        target = Path("/etc/localtime").resolve()
    except OSError:
        return "UTC"
    parts = target.parts
    if "zoneinfo" in parts:
        name = "/".join(parts[parts.index("zoneinfo") + 1 :])
        if name.startswith(("posix/", "right/")):
            name = name.split("/", 1)[1]
        return {"Etc/UTC": "UTC", "Etc/GMT": "UTC", "Etc/Universal": "UTC"}.get(name, name)
    return "UTC"


def zone(name: str | None) -> tzinfo:
    """The ``zoneinfo`` zone ``name`` (default the machine's), or an MlopsError."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = name or machine_zone()
    try:
        if not name or name.startswith(("/", ".")) or ".." in name:
            raise ValueError(name)
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise MlopsError(
            f"unknown time zone '{name}'.",
            hint="Give an IANA zone name, e.g. Europe/Berlin, America/New_York or UTC.",
        ) from None


def check_zone(name: str | None) -> str:
    """The zone's name as stored (the machine's when none is given)."""
    name = name or machine_zone()
    zone(name)
    return name


def next_after(expr: str, tz: str, after: float) -> float:
    """The first fire time strictly after ``after`` (epoch seconds), as epoch seconds."""
    from cronsim import CronSim

    start = datetime.fromtimestamp(int(after), zone(tz))  # cron times fall on whole seconds
    return next(CronSim(expand(expr), start)).timestamp()


def times_between(expr: str, tz: str, after: float, until: float, limit: int) -> list[float]:
    """Fire times in ``(after, until]``, the latest ``limit`` of them, oldest first. Walked
    backwards from ``until``, so a per-second schedule stopped for a week costs ``limit`` steps."""
    from cronsim import CronSim

    # reverse iteration yields times strictly before its start: start one second past `until`
    start = datetime.fromtimestamp(int(until) + 1, zone(tz))
    found: list[float] = []
    for moment in CronSim(expand(expr), start, reverse=True):
        stamp = moment.timestamp()
        if stamp <= after or len(found) >= limit:
            break
        found.append(stamp)
    return found[::-1]


def iso(stamp: float | None, tz: str) -> str | None:
    """ISO-8601 in the schedule's own zone, with its offset (``2026-03-30T02:30:00+02:00``)."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, zone(tz)).isoformat()
