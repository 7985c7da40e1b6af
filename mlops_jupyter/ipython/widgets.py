"""Inline views for the notebook: ``show_run``, ``show_metrics``, ``show_data`` (ipywidgets 8).

Each returns an ipywidgets widget whose mime bundle also carries ``text/html`` and
``text/plain``: JupyterLab draws the live widget; nbconvert, GitHub or a kernel-less reopen fall
back to the same picture (or a plain table). The markup comes from ``views/`` (pure, tested
without a kernel); this module only wires it to ipywidgets and to ``api``.

Imported lazily (``mlops_jupyter.show_run`` etc. go through the package's ``__getattr__``), so
``import mlops_jupyter`` never pays for ipywidgets.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from html import escape
from pathlib import Path
from typing import Any

try:
    import ipywidgets as W
except ImportError as exc:  # a dependency, but an environment can lose it: say how to get it back
    from ..errors import MlopsError

    raise MlopsError(
        "the inline views need ipywidgets 8, which this environment lacks.",
        hint="Install it with: pip install 'ipywidgets>=8'.",
    ) from exc

from .. import api
from ..session import current_notebook, install_error_display, ipython_shell
from ..views import charts, tables
from ..views.graph import FONT, run_html, run_text
from ..views.runstate import RunState

__all__ = [
    "DataView",
    "MetricsView",
    "ModelsView",
    "MonitorView",
    "RunView",
    "show_data",
    "show_metrics",
    "show_models",
    "show_monitor",
    "show_run",
]

# MlopsError from a widget call in a notebook reads as one paragraph, not a traceback
install_error_display(ipython_shell())


def _where(where: str | Path | None) -> str | Path | None:
    """The store to read: explicit, else the one serving this notebook, else the cwd's."""
    return where or current_notebook(ipython_shell())


# ipywidgets gives an HTML widget a narrow default width: the tables and charts need the cell's
_FULL_WIDTH = {"width": "100%"}


def _refresh_button() -> Any:
    return W.Button(
        description="Refresh",
        icon="refresh",
        tooltip="read the store again",
        layout={"width": "auto", "align_self": "flex-start"},
    )


class _View(W.VBox):
    """A VBox that also renders as text/html and text/plain outside a live frontend."""

    def html(self) -> str:
        raise NotImplementedError

    def text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data = dict(super()._repr_mimebundle_(**kwargs) or {})
        data["text/plain"] = self.text()
        data["text/html"] = self.html()
        return data


class _Refreshable(_View):
    """A view of the store with a Refresh button over its body."""

    def __init__(self) -> None:
        self._body = W.HTML(layout=_FULL_WIDTH)
        refresh = _refresh_button()
        refresh.on_click(lambda _: self.refresh())
        super().__init__(children=[refresh, self._body])
        self.refresh()

    def refresh(self) -> None:
        raise NotImplementedError


# -- runs


class RunView(_View):
    """The stage graph of one run. Live: pass ``listener`` to ``api.run``; the graph redraws on
    every event, and ``tick()`` advances the running stages' clocks between events."""

    def __init__(self, state: RunState | None = None, **kwargs: Any) -> None:
        self.state = state or RunState()
        self._lock = threading.Lock()  # events arrive on the run's thread, ticks on the kernel's
        self.cancel = threading.Event()  # set it (or click Stop) to stop the run as Ctrl-C would
        self._graph = W.HTML(value=run_html(self.state), layout=_FULL_WIDTH)
        self._stop = W.Button(
            description="Stop run", icon="stop", button_style="danger", layout={"display": "none"}
        )
        self._stop.on_click(lambda _: self.cancel.set())
        super().__init__(children=[self._graph, self._stop], **kwargs)

    def listener(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.state.apply(event)
            self._redraw()

    def tick(self) -> None:
        if not self.state.finished:
            with self._lock:
                self._redraw()

    def show_stop(self, shown: bool) -> None:
        """A Stop button only helps while the kernel is idle (a background run): a busy kernel
        reads button clicks only after the cell ends."""
        self._stop.layout.display = None if shown and not self.state.finished else "none"

    def set_note(self, note: str) -> None:
        with self._lock:
            self.state.note = note
            self._redraw()

    def finish(self, record: dict[str, Any] | None = None, message: str | None = None) -> None:
        """Settle on the stored record (exact durations, metrics, parameters)."""
        with self._lock:
            if record is not None:
                after = {n: s.after for n, s in self.state.stages.items()}
                note, self.state = self.state.note, RunState.from_record(record, after)
                self.state.note = note
            if message:
                self.state.message = message
            self._redraw()
        self.show_stop(False)

    def _redraw(self) -> None:
        self._graph.value = run_html(self.state)

    def html(self) -> str:
        return run_html(self.state)

    def text(self) -> str:
        return run_text(self.state)

    def follow(self, where: str | Path | None, every: float = 1.0) -> None:
        """Poll the store until the run ends: a run going on in another process (the CLI, the
        scheduler) has no listener here."""

        def poll() -> None:
            while not self.state.finished and self.comm is not None:
                time.sleep(every)
                try:
                    record = api.run_graph(self.state.run_id or "latest", where)
                except Exception:  # the store is busy or gone: keep the last picture
                    continue
                after = {s["name"]: s["after"] for s in record["stages"]}
                with self._lock:
                    self.state = RunState.from_record(record, after)
                    self._redraw()

        threading.Thread(target=poll, name="mlops-follow-run", daemon=True).start()


_live: list[RunView] = []  # views of runs going on in this process, newest last


def track_live(view: RunView) -> None:
    """Let ``show_run()`` find a run this process is running (e.g. ``%mlops run --background``)."""
    _live[:] = [v for v in _live if not v.state.finished]
    _live.append(view)


def show_run(run_id: str | None = None, *, where: str | Path | None = None) -> RunView:
    """The stage graph of a run (default: the newest), coloured by status, with durations.

    Live while the run goes: a run of this kernel updates through its listener, a run in another
    process through polling the store. A finished run is drawn once.
    """
    if run_id is None:
        for view in reversed(_live):
            if not view.state.finished:
                return view  # the same widget again: both displays stay in sync
    where = _where(where)
    record = api.run_graph(run_id or "latest", where)
    view = RunView(RunState.from_record(record, {s["name"]: s["after"] for s in record["stages"]}))
    if not view.state.finished:
        view.follow(where)
    return view


# -- metrics


class MetricsView(_Refreshable):
    """Runs × metrics (best per metric highlighted) and one chart per metric."""

    def __init__(
        self,
        keys: list[str] | None,
        runs: int,
        *,
        minimize: Iterable[str] | None = None,
        where: str | Path | None = None,
        max_points: int | None = None,
    ) -> None:
        self.metric_keys, self.runs, self.where = keys, runs, where
        self.minimize = list(minimize) if minimize is not None else None
        self.max_points = max_points
        self.rows: list[dict[str, Any]] = []
        self.shown_keys: list[str] = []
        self.series: dict[str, dict[str, Any]] = {}
        super().__init__()

    def refresh(self) -> None:
        self.rows = api.metrics_over_runs(self.metric_keys, runs=self.runs, where=self.where)
        self.shown_keys = tables.metric_keys(self.rows, self.metric_keys)
        self.series = self._series()
        self._body.value = self.html()

    def _series(self) -> dict[str, dict[str, Any]]:
        """Per key: the newest run's steps when it logged more than one value, else the key's
        last value over the shown runs (oldest first)."""
        found: dict[str, dict[str, Any]] = {}
        newest = next((r for r in self.rows if r["metrics"]), None)
        steps = api.metric_steps(newest["run_id"], self.shown_keys, self.where) if newest else {}
        oldest_first = list(reversed(self.rows))
        for key in self.shown_keys:
            series = steps.get(key)
            if series and len(series["values"]) > 1:
                found[key] = {
                    "xs": [float(i if s is None else s) for i, s in enumerate(series["steps"])],
                    "ys": [float(v) for v in series["values"]],
                    "caption": f"{len(series['values']):,} steps · run …"
                    f"{newest['run_id'][-6:] if newest else ''}",
                    "labels": None,
                }
                continue
            runs = [r for r in oldest_first if tables.number(r["metrics"].get(key)) is not None]
            found[key] = {
                "xs": [float(i) for i in range(len(runs))],
                "ys": [float(r["metrics"][key]) for r in runs],
                "caption": f"last {len(runs)} run{'s' if len(runs) != 1 else ''}",
                "labels": (runs[0]["run_id"][-6:], runs[-1]["run_id"][-6:]) if runs else None,
            }
        return found

    def charts_html(self) -> str:
        svgs = [
            charts.line_chart_svg(
                key,
                s["xs"],
                s["ys"],
                lower_is_better=tables.lower_is_better(key, self.minimize),
                x_labels=s["labels"],
                caption=s["caption"],
                max_points=self.max_points,
            )
            for key, s in self.series.items()
        ]
        return f'<div style="display:flex;flex-wrap:wrap;gap:10px;margin-top:10px">{"".join(svgs)}</div>'

    def html(self) -> str:
        table = tables.metrics_table_html(self.rows, self.shown_keys, self.minimize)
        return f'<div class="mlops-metrics-view" style="{FONT}">{table}{self.charts_html()}</div>'

    def text(self) -> str:
        return tables.metrics_table_text(self.rows, self.shown_keys, self.minimize)


def show_metrics(
    keys: str | list[str] | None = None,
    runs: int = 20,
    *,
    minimize: Iterable[str] | None = None,
    where: str | Path | None = None,
    max_points: int | None = None,
) -> MetricsView:
    """The last ``runs`` runs × their metrics, best value per metric highlighted (highest, or
    lowest for keys named like loss/error/rmse or listed in ``minimize``), and a chart per metric:
    over steps when the newest run logged several, else over the runs. Long series are
    downsampled (min/max buckets) to ``max_points`` (default: twice the chart's width)."""
    if runs < 1:
        from ..errors import MlopsError

        raise MlopsError(f"runs={runs}: show at least 1 run.")
    wanted = [keys] if isinstance(keys, str) else (list(keys) if keys else None)
    return MetricsView(wanted, runs, minimize=minimize, where=_where(where), max_points=max_points)


# -- data versions


class DataView(_Refreshable):
    """Data versions, newest first: short hash, size, rows × columns, changed badge, schema diff."""

    def __init__(self, path: str | None, *, where: str | Path | None, limit: int) -> None:
        self.path, self.where, self.limit = path, where, limit
        self.versions: list[dict[str, Any]] = []
        super().__init__()

    def refresh(self) -> None:
        self.versions = api.data(self.path, self.where, limit=self.limit, drift=True)
        self._body.value = self.html()

    def html(self) -> str:
        title = f"data versions of {escape(self.path)}" if self.path else "data versions"
        return (
            f'<div class="mlops-data-view" style="{FONT}"><div style="font-size:12px;'
            f'color:#607d8b;margin-bottom:4px">{title}</div>'
            f"{tables.data_table_html(self.versions)}</div>"
        )

    def text(self) -> str:
        return tables.data_table_text(self.versions)


def show_data(
    path: str | None = None, *, where: str | Path | None = None, limit: int = 50
) -> DataView:
    """Versions of tracked data (all paths, or one), newest first, with what changed."""
    return DataView(path, where=_where(where), limit=limit)


# -- models


class ModelsView(_Refreshable):
    """The model registry: each model's versions × metrics, with its aliases. ``name``: one
    model; else the models this notebook's runs logged (all the store's when it logged none)."""

    def __init__(self, name: str | None, *, where: str | Path | None) -> None:
        self.name, self.where = name, where
        self.models: list[dict[str, Any]] = []
        super().__init__()

    def refresh(self) -> None:
        if self.name is not None:
            names = [self.name]
        else:
            notebook = current_notebook(ipython_shell())
            listed = api.models(self.where, notebook=notebook) if notebook else []
            names = [m["name"] for m in listed or api.models(self.where)]
        self.models = [api.model(n, self.where) for n in names]
        self._body.value = self.html()

    def html(self) -> str:
        from ..views.models import versions_html

        if not self.models:
            return (
                f'<div style="{FONT};color:#607d8b">no models yet: a stage logs one with '
                "<code>mlops.log_model(model, 'NAME', example=X[:5])</code></div>"
            )
        body = "".join(versions_html(m) for m in self.models)
        return f'<div class="mlops-models-view" style="{FONT}">{body}</div>'

    def text(self) -> str:
        from ..views.models import versions_text

        if not self.models:
            return "no models yet"
        return "\n\n".join(versions_text(m) for m in self.models)


def show_models(name: str | None = None, *, where: str | Path | None = None) -> ModelsView:
    """Logged models: versions × metrics and aliases (one model, or this notebook's)."""
    return ModelsView(name, where=_where(where))


# -- a served model's monitor


class MonitorView(_Refreshable):
    """``mlops monitor`` of a served model: requests, errors, latency, input drift against the
    training data (per column), prediction shift. Refresh reads the store again."""

    def __init__(self, ref: str, *, window: str, where: str | Path | None) -> None:
        self.ref, self.window, self.where = ref, window, where
        self.report: dict[str, Any] = {}
        super().__init__()

    def refresh(self) -> None:
        self.report = api.monitor(self.ref, window=self.window, where=self.where)
        self._body.value = self.html()

    def html(self) -> str:
        from ..views.serving import monitor_html

        return monitor_html(self.report)

    def text(self) -> str:
        from ..views.serving import monitor_text

        return monitor_text(self.report)


def show_monitor(ref: str, *, window: str = "1h", where: str | Path | None = None) -> MonitorView:
    """How the served model ``ref`` did over the last ``window`` (``"1h"``, ``"30m"``)."""
    return MonitorView(ref, window=window, where=_where(where))
