"""Optional: mirror runs, parameters and metrics to MLflow when ``MLFLOW_TRACKING_URI`` is set
and mlflow is installed. Best effort by design: MLflow is never required, and a failure there
never fails the user's code — it is reported once on stderr and mirroring stops.

Each mlops run maps to one MLflow run tagged ``mlops.run_id`` (stages of one pipeline run, which
are separate kernel processes, find it by that tag), in the experiment named by
``MLFLOW_EXPERIMENT_NAME`` or MLflow's default. Calls come from the tracking flush thread.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Sequence
from typing import Any

TAG = "mlops.run_id"


class Mirror:
    def __init__(self, client: Any, mlflow_run_id: str, stage: str | None) -> None:
        self.client = client
        self.run = mlflow_run_id
        self.stage = stage
        self.broken = False

    def _guard(self, what: str, call: Any, *args: Any) -> None:
        if self.broken:
            return
        try:
            call(*args)
        except Exception as exc:
            self.broken = True
            print(f"mlops: mirroring to MLflow stopped ({what}: {exc})", file=sys.stderr)

    def metrics(self, rows: Sequence[tuple[Any, ...]]) -> None:
        from mlflow.entities import Metric

        def send() -> None:
            batch = [
                Metric(key, value, int(when * 1000), step or 0)
                for _run, _stage, key, step, value, when in rows
            ]
            for start in range(0, len(batch), 1000):  # MLflow's log_batch limit
                self.client.log_batch(self.run, metrics=batch[start : start + 1000])

        self._guard("metrics", send)

    def param(self, key: str, value: Any) -> None:
        self._guard("param", self.client.log_param, self.run, key, str(value))

    def finish(self, status: str) -> None:
        if self.stage is None:  # an interactive run ends here; a pipeline run by the runner
            state = "FINISHED" if status == "succeeded" else "FAILED"
            self._guard("finish", self.client.set_terminated, self.run, state)


def open_mirror(run_id: str, stage: str | None) -> Mirror | None:
    """A mirror for this run, or None when mlflow is missing or unreachable."""
    if importlib.util.find_spec("mlflow") is None:
        return None
    try:
        import os

        from mlflow.tracking import MlflowClient

        client = MlflowClient()
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME")
        experiment = client.get_experiment_by_name(name) if name else None
        experiment_id = (
            experiment.experiment_id
            if experiment
            else (client.create_experiment(name) if name else "0")
        )
        found = client.search_runs([experiment_id], filter_string=f"tags.`{TAG}` = '{run_id}'")
        if found:
            mlflow_run = found[0].info.run_id
        else:
            mlflow_run = client.create_run(
                experiment_id, tags={TAG: run_id}, run_name=run_id
            ).info.run_id
        return Mirror(client, mlflow_run, stage)
    except Exception as exc:
        print(f"mlops: not mirroring to MLflow ({type(exc).__name__}: {exc})", file=sys.stderr)
        return None
