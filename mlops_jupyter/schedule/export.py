"""``mlops schedule export NAME --crontab|--systemd``: the machine's own scheduler as the clock.

Both call ``mlops scheduler --once`` on the schedule's store at the schedule's times. That process
makes the same decisions a running scheduler does (claims, catch-up, overlap), so a machine may
mix exported triggers and running schedulers on one store without a fire doubling. The trigger
must come at the cron times themselves, not merely often: a fire claimed more than ``GRACE_S``
late counts as a catch-up, which the ``skip`` policy drops. Hence the expression is translated
exactly (systemd: ``AccuracySec=1s``), and one that cannot be is refused rather than approximated.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Any

from ..errors import MlopsError
from . import cron

KINDS = ("crontab", "systemd")
WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")
FULL = {  # field -> every value it can take (cronsim's day-of-week: 0 and 7 are Sunday)
    "second": set(range(60)),
    "minute": set(range(60)),
    "hour": set(range(24)),
    "day": set(range(1, 32)),
    "month": set(range(1, 13)),
    "weekday": set(range(7)),
}


def command() -> list[str]:
    """What both triggers run: this interpreter's ``mlops scheduler --once`` on the store."""
    return [sys.executable, "-m", "mlops_jupyter", "scheduler", "--once"]


def export(row: dict[str, Any], kind: str, home: Path) -> str:
    """The text for ``kind`` (``crontab`` or ``systemd``) for schedule ``row`` in ``home``."""
    if kind not in KINDS:
        raise MlopsError(f"unknown export {kind!r}.", hint="Use --crontab or --systemd.")
    fields = _fields(row)
    return _crontab(row, fields, home) if kind == "crontab" else _systemd(row, fields, home)


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    """The expression's fields as value sets (``None``: every value), read by cronsim itself so
    the export fires when the scheduler would."""
    from datetime import datetime

    from cronsim import CronSim

    text = cron.expand(row["cron"])
    parts = text.upper().split()
    day, weekday = parts[-3], parts[-1]  # names (WED, JUL) hold these letters too: not checked
    special = [p for p, marks in ((day, "LW"), (weekday, "L#")) if any(c in p for c in marks)]
    if special:
        raise MlopsError(
            f"schedule '{row['name']}': the cron field '{special[0]}' (last day, nearest "
            "weekday, n-th weekday) has no crontab or systemd spelling.",
            hint="Keep firing it with a running `mlops scheduler`, or write the times with plain "
            "numbers, ranges and steps.",
        )
    sim = CronSim(text, datetime.now(cron.zone(row["tz"])))
    written = text.split()  # as the user wrote it (cron reads names in either case)
    found: dict[str, Any] = {
        "seconds": len(parts) == 6,
        "day_and": sim.day_and,
        "parts": written if len(written) == 6 else ["0", *written],
    }
    for name, values in (
        ("second", sim.seconds),
        ("minute", sim.minutes),
        ("hour", sim.hours),
        ("day", sim.days),
        ("month", sim.months),
        ("weekday", {v % 7 for v in sim.weekdays if isinstance(v, int)}),
    ):
        found[name] = None if set(values) >= FULL[name] else sorted(values)
    return found


def _header(row: dict[str, Any], home: Path) -> list[str]:
    return [
        f"# mlops schedule '{row['name']}': {row['cron']} ({row['tz']}), store {home}",
        "# It runs `mlops scheduler --once`, which fires every schedule of that store due then, "
        "each once,",
        "# with the schedule's catch-up and overlap policies (also beside a running `mlops "
        "scheduler`).",
    ]


# -- crontab


def _crontab(row: dict[str, Any], fields: dict[str, Any], home: Path) -> str:
    if fields["seconds"] and fields["parts"][0] not in ("0", "00"):
        raise MlopsError(
            f"schedule '{row['name']}' fires by the second ({row['cron']}); cron fires at most "
            "once a minute.",
            hint=f"Use mlops schedule export {row['name']} --systemd, or a running "
            "`mlops scheduler`.",
        )
    expr = " ".join(fields["parts"][1:])
    log = home / "scheduler.log"
    run = " ".join(shlex.quote(w) for w in command())
    line = (
        f"{expr} cd {shlex.quote(str(home.parent))} && MLOPS_HOME={shlex.quote(str(home))} "
        f"{run} >> {shlex.quote(str(log))} 2>&1"
    )
    lines = _header(row, home)
    if row["tz"] != cron.machine_zone():
        # cronie and others read CRON_TZ; it holds for the lines after it, so it is reset after
        lines += [
            "# The schedule's zone is not the machine's: CRON_TZ (cronie, busybox, systemd-cron)",
            "# applies it; a cron without CRON_TZ fires in the machine's zone instead.",
            f"CRON_TZ={row['tz']}",
        ]
    lines.append(line.replace("%", "\\%"))  # cron turns a bare % into a newline
    if row["tz"] != cron.machine_zone():
        lines.append(f"CRON_TZ={cron.machine_zone()}")
    return "\n".join(lines) + "\n"


# -- systemd


def _numbers(values: list[int] | None, width: int = 2) -> str:
    return "*" if values is None else ",".join(f"{v:0{width}d}" for v in values)


def _calendar(fields: dict[str, Any], tz: str, *, day: bool, weekday: bool) -> str:
    """One ``OnCalendar=`` value; ``day``/``weekday`` say which day fields constrain it."""
    date = f"*-{_numbers(fields['month'])}-{_numbers(fields['day'] if day else None)}"
    clock = ":".join(_numbers(fields[f]) for f in ("hour", "minute", "second"))
    spec = f"{date} {clock} {tz}"
    days = fields["weekday"] if weekday else None
    return spec if days is None else f"{','.join(WEEKDAYS[d] for d in days)} {spec}"


def _quote(word: str) -> str:
    """A word of a systemd unit line: specifiers (%) and variables ($) doubled, quoted when it
    holds space or quotes."""
    text = word.replace("%", "%%").replace("$", "$$")
    if any(c in text for c in " \t\"'\\"):
        text = '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return text


def _systemd(row: dict[str, Any], fields: dict[str, Any], home: Path) -> str:
    name, tz = row["name"], row["tz"]
    if fields["day_and"] or fields["day"] is None or fields["weekday"] is None:
        calendars = [_calendar(fields, tz, day=True, weekday=True)]
    else:  # both day fields restricted: cron fires when either matches, systemd needs both
        calendars = [
            _calendar(fields, tz, day=True, weekday=False),
            _calendar(fields, tz, day=False, weekday=True),
        ]
    unit = f"mlops-{name}"
    lines = [
        *_header(row, home),
        f"# Save the two units below as ~/.config/systemd/user/{unit}.service and {unit}.timer,",
        f"# then: systemctl --user daemon-reload && systemctl --user enable --now {unit}.timer",
        "",
        f"# --- {unit}.service",
        "[Unit]",
        f"Description=mlops schedule {name}",
        "",
        "[Service]",
        "Type=oneshot",
        # a path setting takes the rest of the line as it is: specifiers escaped, never quoted
        f"WorkingDirectory={str(home.parent).replace('%', '%%')}",
        f"Environment={_quote('MLOPS_HOME=' + str(home))}",
        "ExecStart=" + " ".join(_quote(w) for w in command()),
        "",
        f"# --- {unit}.timer",
        "[Unit]",
        f"Description=mlops schedule {name}: {row['cron']}",
        "",
        "[Timer]",
        *(f"OnCalendar={c}" for c in calendars),
        "AccuracySec=1s",  # the default (1 min) would make an on-time fire a catch-up
        "Persistent=true",  # a time missed while the machine was off: the catch-up policy decides
        "",
        "[Install]",
        "WantedBy=timers.target",
    ]
    return "\n".join(lines) + "\n"
