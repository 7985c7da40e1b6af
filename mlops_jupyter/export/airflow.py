"""``mlops export airflow``: an Airflow 3 DAG file whose tasks run each stage through our runner.

The DAG is text we generate; nothing here imports Airflow. Each task is a ``BashOperator`` that
runs ``python -m mlops_jupyter run FOLDER --stages NAME`` into the pipeline's own store, so the
upstream values come from that store's cache (the DAG runs upstreams first), and every run is
recorded as ``mlops run`` records it. Airflow owns the retries (``MLOPS_NO_RETRIES``).

Nothing from the plan is written into the file as code, nor into shell text: paths, names and
defaults are Python literals (``repr``), wrapped in ``literal()`` where Airflow would render them
as Jinja; parameter values reach the command through the task's environment, rendered from the
DAG's typed params (parameter names, checked to be identifiers, are the only plan text inside a
Jinja template), and the bash command itself holds only variable names.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError
from . import MARKER, ExportResult, write_generated

if TYPE_CHECKING:
    from ..runner.plan import Plan

# Airflow's KEY_REGEX (dag and task ids), kept ASCII so the file name is portable.
_ID_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
_ID = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,249}\Z")

# JSON-schema types of our parameter types; "none" (a None default) takes any value.
PARAM_TYPES = {
    "int": "integer",
    "float": "number",
    "bool": "boolean",
    "str": "string",
    "list": "array",
    "dict": "object",
}
# How a param reaches `-p`: text our coercion reads back as the type. Jinja prints True/False
# (read as bool), ints and floats as Python does; lists, dicts and the untyped "none" go as JSON,
# which `_literal` reads exactly (Python's repr of a nested True/None would need literal_eval).
_AS_JSON = ("list", "dict", "none")

# Our runner enforces a stage's timeout itself and records the failure with its reason; Airflow's
# execution_timeout covers the whole process (interpreter, kernel start, cache checks, recording),
# so it is the backstop, this much later.
TIMEOUT_GRACE_S = 60

COMMAND = 'exec "$MLOPS_PYTHON" -m mlops_jupyter run "$MLOPS_PIPELINE" --stages "$MLOPS_STAGE"'


def dag_id(name: str) -> str:
    """A valid Airflow dag id from a pipeline name (ours are already ``[a-z0-9_-]``)."""
    found = _ID_CHARS.sub("_", name).lstrip(".")[:250]  # a leading dot: a hidden file
    return found or "pipeline"


def export(plan: Plan, output: Path, options: dict[str, Any]) -> ExportResult:
    """Write ``OUTPUT/<dag_id>.py``; ``options``: ``force``, and ``schedule`` (the ``mlops
    schedule show --json`` object) for a DAG that fires on that schedule's cron."""
    from ..runner.run import compiled_home

    for stage in plan.stages:
        if not _ID.match(stage.name):
            raise MlopsError(
                f"stage {stage.name!r} is not a valid Airflow task id.",
                hint="Compile the notebook again (stage names are [a-z][a-z0-9_-]*).",
            )
    for name in plan.parameters:
        if not name.isidentifier():
            raise MlopsError(
                f"parameter {name!r} is not a Python name.", hint="Compile the notebook again."
            )
    schedule = options.get("schedule")
    defaults = {name: spec["default"] for name, spec in plan.parameters.items()}
    timetable = None
    notes: list[str] = []
    if schedule:
        timetable = (airflow_cron(schedule), schedule["tz"])
        defaults.update(_schedule_parameters(plan, schedule))
        notes.append(
            f"The DAG fires on schedule '{schedule['name']}': {timetable[0]} in {timetable[1]}, "
            "with its parameters as the defaults; catch-up off, one run at a time."
        )
        if _has_dst(schedule["tz"]):
            notes.append(
                f"{schedule['tz']} changes clocks: a time the change skips Airflow fires an hour "
                "on (02:30 at 03:30), `mlops scheduler` at the end of the gap (03:00); a time "
                "that occurs twice Airflow fires at its second occurrence, ours at the first."
            )
        if not schedule.get("enabled", True):
            notes.append(
                f"Schedule '{schedule['name']}' is paused here; the DAG is not (Airflow pauses "
                "new DAGs unless dags_are_paused_at_creation is off)."
            )
    home, home_notes = compiled_home(plan.folder, plan)
    notes.extend(home_notes)
    ident = dag_id(plan.name)
    path = output / f"{ident}.py"
    text = render(plan, ident, home=home, defaults=defaults, timetable=timetable)
    write_generated(path, text, force=bool(options.get("force")))
    notes.append(
        f"Its tasks run stages with {Path(sys.executable).absolute()} from {plan.folder}, recording into {home}: "
        "Airflow's workers must share this machine's filesystem (LocalExecutor, airflow "
        "standalone)."
    )
    return ExportResult(kind="airflow", output=path, files=[path], notes=notes)


def airflow_cron(schedule: dict[str, Any]) -> str:
    """The schedule's cron as Airflow reads it (5 fields), or an MlopsError: Airflow fires at most
    once a minute, and croniter reads a sixth field as seconds *last*, where ours come first."""
    from ..schedule.cron import expand

    text = expand(schedule["cron"])
    parts = text.split()
    if len(parts) == 6:
        if parts[0] not in ("0", "00"):
            raise MlopsError(
                f"schedule '{schedule['name']}' fires by the second ({schedule['cron']}); an "
                "Airflow schedule fires at most once a minute.",
                hint=f"Export without --schedule, or fire it with `mlops scheduler` (or `mlops "
                f"schedule export {schedule['name']} --systemd`).",
            )
        parts = parts[1:]
    # Checked against croniter: L (last day) and 5#2 (n-th weekday) fire as ours do; LW (last
    # weekday) and 5L (last Friday) it refuses. Names (JUL, WED) hold these letters harmlessly.
    day, weekday = parts[2].upper(), parts[4].upper()
    special = next((p for p, mark in ((day, "W"), (weekday, "L")) if mark in p), None)
    if special:
        raise MlopsError(
            f"schedule '{schedule['name']}': Airflow's cron reader (croniter) does not take the "
            f"field '{special}' (last weekday of the month, last given weekday).",
            hint="Write the times with plain numbers, ranges and steps (L alone and n-th "
            "weekdays such as 5#2 work), or keep firing it with `mlops scheduler`.",
        )
    if _day_and(text, schedule["tz"]):
        raise MlopsError(
            f"schedule '{schedule['name']}' ({schedule['cron']}) restricts both the day of the "
            "month and the weekday with a field starting with '*': cron fires when both match, "
            "Airflow (croniter) when either does.",
            hint="Write the day field without '*' (e.g. 1-31/2 for */2), which cron and Airflow "
            "both read as either, or keep firing it with `mlops scheduler`.",
        )
    return " ".join(parts)


def _day_and(text: str, tz: str) -> bool:
    """Whether cron (and our scheduler, cronsim) ANDs the day and weekday fields here while
    croniter ORs them: both restricted, and one spelled from ``*`` (``*/2``)."""
    from datetime import datetime

    from cronsim import CronSim

    from ..schedule.cron import zone

    sim = CronSim(text, datetime.now(zone(tz)))
    days = set(sim.days) < set(range(1, 32))
    weekdays = {v % 7 for v in sim.weekdays if isinstance(v, int)} < set(range(7))
    return bool(sim.day_and and days and weekdays)


def _has_dst(tz: str) -> bool:
    from datetime import datetime

    from ..schedule.cron import zone

    found = zone(tz)
    return (
        datetime(2026, 1, 1, tzinfo=found).utcoffset()
        != datetime(2026, 7, 1, tzinfo=found).utcoffset()
    )


def _schedule_parameters(plan: Plan, schedule: dict[str, Any]) -> dict[str, Any]:
    from ..runner.params import coerce

    given = schedule.get("parameters") or {}
    try:
        values = coerce(plan.parameters, given)
    except MlopsError as exc:
        raise MlopsError(
            f"schedule '{schedule['name']}' (of {schedule.get('target')}) does not fit pipeline "
            f"'{plan.name}': {exc.message}",
            hint="Export the notebook the schedule runs, or another schedule.",
        ) from None
    return {name: values[name] for name in given}


def render(
    plan: Plan,
    ident: str,
    *,
    home: Path,
    defaults: dict[str, Any],
    timetable: tuple[str, str] | None,
) -> str:
    """The DAG file's text. Deterministic: the same plan and options give the same bytes."""
    names = list(plan.parameters)
    command = COMMAND + "".join(f' -p "$MLOPS_P{i}"' for i in range(len(names)))
    lines = [
        _docstring(plan, ident, home),
        "",
        "from __future__ import annotations",
        "",
        "from datetime import timedelta",
        "",
        "from airflow.providers.standard.operators.bash import BashOperator",
        "from airflow.sdk import DAG, Param, literal",
    ]
    if timetable:
        lines += [
            "",
            "try:",
            "    from airflow.sdk import CronTriggerTimetable",
            "except ImportError:  # Airflow 3.0",
            "    from airflow.timetables.trigger import CronTriggerTimetable",
        ]
    lines += [
        "",
        "# This machine's paths: the workers must share its filesystem.",
        f"PYTHON = {str(Path(sys.executable).absolute())!r}",
        f"PIPELINE = {str(plan.folder)!r}",
        f"WORKDIR = {str(plan.workdir)!r}",
        f"MLOPS_HOME = {str(home)!r}",
        "",
        "# Only variable names: every value reaches the command through the task's environment.",
        f"COMMAND = {command!r}",
        "",
        "# Each -p NAME=VALUE, rendered from the DAG's typed params.",
        "PARAMETERS = {",
    ]
    for i, name in enumerate(names):
        kind = plan.parameters[name]["type"]
        value = f"params[{name!r}]" + (" | tojson" if kind in _AS_JSON else "")
        lines.append(f"    {f'MLOPS_P{i}'!r}: {name + '={{ ' + value + ' }}'!r},")
    lines += [
        "}",
        "",
        "",
        "def stage_env(stage: str) -> dict[str, object]:",
        '    """The environment of the task running ``stage`` (literal(): not Jinja)."""',
        "    return {",
        '        "MLOPS_PYTHON": literal(PYTHON),',
        '        "MLOPS_PIPELINE": literal(PIPELINE),',
        '        "MLOPS_STAGE": literal(stage),',
        '        "MLOPS_HOME": literal(MLOPS_HOME),',
        '        "MLOPS_NO_RETRIES": "1",  # Airflow retries the task',
        '        "MLOPS_ORIGIN": "airflow",  # what `mlops runs` says started the run',
        "        **PARAMETERS,",
        "    }",
        "",
        "",
        "with DAG(",
        f"    dag_id={ident!r},",
        f"    description={_description(plan)!r},",
    ]
    if timetable:
        cron, tz = timetable
        lines += [
            f"    schedule=CronTriggerTimetable({cron!r}, timezone={tz!r}),",
            "    max_active_runs=1,",
        ]
    else:
        lines.append("    schedule=None,")
    lines += ["    catchup=False,", '    tags=["mlops-jupyter"],', "    params={"]
    for name in names:
        lines.append(f"        {name!r}: {_param(plan.parameters[name], defaults[name])},")
    lines += ["    },", ") as dag:", "    task = {}"]
    for stage in plan.stages:
        lines += [
            f"    task[{stage.name!r}] = BashOperator(",
            f"        task_id={stage.name!r},",
            "        bash_command=COMMAND,",
            f"        env=stage_env({stage.name!r}),",
            "        append_env=True,",
            "        cwd=literal(WORKDIR),",
        ]
        retries = stage.options.get("retries")
        if retries is not None:
            lines.append(f"        retries={int(retries)!r},")
        timeout = stage.options.get("timeout")
        if timeout is not None:
            seconds = float(timeout) + TIMEOUT_GRACE_S
            lines.append(
                f"        execution_timeout=timedelta(seconds={seconds!r}),"
                f"  # timeout:{float(timeout):g} + {TIMEOUT_GRACE_S} s"
            )
        lines.append("    )")
    for stage in plan.stages:  # upstreams first: every name below is defined above
        if stage.after:
            ups = ", ".join(f"task[{up!r}]" for up in stage.after)
            lines.append(f"    [{ups}] >> task[{stage.name!r}]")
    return "\n".join(lines) + "\n"


def _param(spec: dict[str, Any], default: Any) -> str:
    kind = PARAM_TYPES.get(spec["type"])
    # repr of plain data (int, float, str, bool, None, lists and dicts of them) is its literal
    return f"Param({default!r}, type={kind!r})" if kind else f"Param({default!r})"


def _description(plan: Plan) -> str:
    return f"mlops-jupyter pipeline '{plan.name}' version {plan.version} ({plan.notebook})"


def _docstring(plan: Plan, ident: str, home: Path) -> str:
    # Every plan-derived text goes through repr, so no quote or newline in it ends the docstring.
    body = "\n".join(
        [
            f"Airflow 3 DAG {ident!r}: {_description(plan)!r}.",
            "",
            f"{MARKER} (mlops export airflow): export again rather than edit it; a file",
            "without that line is never overwritten.",
            "",
            "Each task runs one stage through mlops-jupyter's runner",
            "(python -m mlops_jupyter run PIPELINE --stages STAGE -p NAME=VALUE ...), recording",
            "into MLOPS_HOME as `mlops run` does; a task's upstream values come from that store's",
            "cache, filled by the upstream tasks (an upstream missing from it runs again inside",
            "the task). Airflow owns the retries: the runner's are off (MLOPS_NO_RETRIES).",
            "",
            "The paths below are the exporting machine's: the Python with mlops-jupyter, the",
            "compiled pipeline and the store. Airflow's workers must share this filesystem",
            "(LocalExecutor or airflow standalone on this machine, or the same paths mounted).",
        ]
    )
    return '"""' + body.replace("\\", "\\\\").replace('"""', '\\"""') + '\n"""'
