"""Run by tests/export/test_airflow.py with the Airflow venv's Python (never the project's):
``airflow_probe.py DAGS_DIR OUT.json [--fires N] [--conf JSON]``.

Loads DAGS_DIR with Airflow's own DagBag and prints one JSON object: import errors, and for each
DAG its tasks (upstreams, retries, execution_timeout, the env Airflow renders for the task), its
params (schema and default), its timetable (summary and the next N fire times from Airflow's own
scheduling code), after serializing it as the DAG processor stores it. The JSON goes to a file:
Airflow logs to stdout.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime, timezone
from typing import Any


def rendered_env(task: Any, conf: dict[str, Any]) -> dict[str, str]:
    """The task's env as Airflow's templater renders it, for the params ``conf`` gives."""
    params = {name: conf.get(name, param.value) for name, param in task.dag.params.items()}
    env = task.get_template_env()
    return task.render_template(task.env, {"params": params}, env)


def timetable(dag: Any, fires: int) -> dict[str, Any]:
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import DataInterval, TimeRestriction

    table = coerce_to_core_timetable(dag.timetable)
    found: dict[str, Any] = {"summary": table.summary, "class": type(table).__name__, "fires": []}
    last: DataInterval | None = None
    start = datetime(2026, 3, 1, tzinfo=timezone.utc)  # spans a DST change in Europe
    for _ in range(fires):
        info = table.next_dagrun_info(
            last_automated_data_interval=last,
            restriction=TimeRestriction(earliest=start, latest=None, catchup=True),
        )
        if info is None:
            break
        found["fires"].append(info.run_after.isoformat())
        last = info.data_interval
    return found


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("dags")
    parser.add_argument("out")
    parser.add_argument("--fires", type=int, default=0)
    parser.add_argument("--conf", default="{}", help="params to render the env with (JSON)")
    args = parser.parse_args()
    conf = json.loads(args.conf)

    import inspect

    from airflow.dag_processing.dagbag import DagBag
    from airflow.serialization.serialized_objects import DagSerialization

    # Airflow 3.3 dropped include_examples (examples are a bundle, off unless configured)
    extra = {"include_examples": False}
    if "include_examples" not in inspect.signature(DagBag).parameters:
        extra = {}
    bag = DagBag(dag_folder=args.dags, **extra)
    out: dict[str, Any] = {
        "import_errors": {str(k): str(v) for k, v in bag.import_errors.items()},
        "dags": {},
    }
    for dag_id, dag in sorted(bag.dags.items()):
        DagSerialization.to_dict(dag)  # raises if the DAG processor could not store it
        out["dags"][dag_id] = {
            "fileloc": dag.fileloc,
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "params": {
                name: {"schema": param.schema, "default": param.value}
                for name, param in dag.params.items()
            },
            "timetable": timetable(dag, args.fires),
            "tasks": {
                task.task_id: {
                    "type": type(task).__name__,
                    "upstream": sorted(task.upstream_task_ids),
                    "retries": task.retries,
                    "execution_timeout": (
                        task.execution_timeout.total_seconds() if task.execution_timeout else None
                    ),
                    "bash_command": task.bash_command,
                    "append_env": task.append_env,
                    "env": rendered_env(task, conf),
                }
                for task in dag.tasks
            },
        }
    with open(args.out, "w", encoding="utf-8") as handle:
        json.dump(out, handle)


if __name__ == "__main__":
    main()
