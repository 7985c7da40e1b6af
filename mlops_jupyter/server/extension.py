"""The Jupyter Server extension: its whole REST surface in one route table.

Routes are relative to the server's ``base_url`` (ExtensionApp prefixes it); the request and
response of each is in docs/rest-api.md. Shared state (the server root, the runs this server
started) is made once here and reaches the handlers through the tornado settings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_server.extension.application import ExtensionApp
from traitlets import Bool

from .handlers import (
    API_PREFIX,
    STATE_KEY,
    CancelHandler,
    CompileHandler,
    CronHandler,
    DiffHandler,
    MetricsHandler,
    ModelAliasesHandler,
    ModelHandler,
    ModelMonitorHandler,
    ModelsHandler,
    PipelineHandler,
    RunHandler,
    RunsHandler,
    ScheduleHandler,
    ScheduleHistoryHandler,
    SchedulesHandler,
    ScheduleStateHandler,
    ServerState,
    StageNotebookHandler,
)
from .runs import RunRegistry

if TYPE_CHECKING:
    from ..schedule.host import SchedulerHost

RUN_ID = r"(?P<run_id>[A-Za-z0-9_.-]+)"
STAGE = r"(?P<stage>[A-Za-z0-9_.-]+)"
SCHEDULE = r"(?P<name>[a-z][a-z0-9_-]{0,62})"  # schedule.model.NAME
MODEL = r"(?P<name>[A-Za-z0-9][A-Za-z0-9_.\-]{0,127})"  # tracking.models._NAME
SHUTDOWN_GRACE_S = 30.0  # how long a stopping server waits for cancelled runs to be recorded


class MlopsExtension(ExtensionApp):
    name = "mlops_jupyter"
    load_other_extensions = True

    handlers = [  # noqa: RUF012 (ExtensionApp declares this trait; a class-level list is its idiom)
        (rf"{API_PREFIX}/pipeline", PipelineHandler),
        (rf"{API_PREFIX}/compile", CompileHandler),
        (rf"{API_PREFIX}/runs", RunsHandler),
        (rf"{API_PREFIX}/runs/{RUN_ID}", RunHandler),
        (rf"{API_PREFIX}/runs/{RUN_ID}/cancel", CancelHandler),
        (rf"{API_PREFIX}/runs/{RUN_ID}/metrics", MetricsHandler),
        (rf"{API_PREFIX}/runs/{RUN_ID}/stages/{STAGE}/notebook", StageNotebookHandler),
        (rf"{API_PREFIX}/diff", DiffHandler),
        (rf"{API_PREFIX}/schedules", SchedulesHandler),
        (rf"{API_PREFIX}/schedules/{SCHEDULE}", ScheduleHandler),
        (rf"{API_PREFIX}/schedules/{SCHEDULE}/(?P<action>pause|resume)", ScheduleStateHandler),
        (rf"{API_PREFIX}/schedules/{SCHEDULE}/history", ScheduleHistoryHandler),
        (rf"{API_PREFIX}/cron", CronHandler),
        (rf"{API_PREFIX}/models", ModelsHandler),
        (rf"{API_PREFIX}/models/{MODEL}", ModelHandler),
        (rf"{API_PREFIX}/models/{MODEL}/aliases", ModelAliasesHandler),
        (rf"{API_PREFIX}/models/{MODEL}/monitor", ModelMonitorHandler),
    ]

    scheduler = Bool(
        True,
        config=True,
        help="Fire the cron schedules of the stores under the root while the server runs "
        "(`mlops scheduler` processes may fire them too: each fire happens once).",
    )

    def initialize_settings(self) -> None:
        assert self.serverapp is not None
        contents = self.serverapp.contents_manager
        # a file-backed contents manager may be rooted elsewhere than the server; a non-file one
        # (S3, a database) has no meaningful root_dir: then the server's root is the boundary
        from jupyter_server.services.contents.filemanager import FileManagerMixin

        root = contents.root_dir if isinstance(contents, FileManagerMixin) else None
        state = ServerState(
            root=Path(root or self.serverapp.root_dir).resolve(), runs=RunRegistry(self.log)
        )
        self.settings[STATE_KEY] = state
        self.log.info("mlops_jupyter: REST API at %smlops/api/", self.serverapp.base_url)
        if self.scheduler:
            state.schedules = self._host_schedules(state)

    def _host_schedules(self, state: ServerState) -> SchedulerHost:
        import os

        from ..home import find_home
        from ..schedule.host import SchedulerHost
        from .paths import PathError, store_home

        def servable(home: Path) -> bool:  # the rule every route follows for stores
            try:
                return store_home(state.root, home.parent) is not None
            except PathError:
                return False

        host = SchedulerHost(state.root, origin="jupyter", accept=servable, log=self.log)
        only = find_home(state.root) if os.environ.get("MLOPS_HOME") else None
        host.start(only)
        return host

    def _state(self) -> ServerState | None:
        return self.settings.get(STATE_KEY)

    def current_activity(self) -> bool:
        # a running pipeline is activity: an idle-culling server must not stop under it
        state = self._state()
        return bool(
            state and (state.runs.active() or (state.schedules and state.schedules.active()))
        )

    async def stop_extension(self) -> None:
        # runs are threads of this process: cancel them so the store records them 'interrupted'
        # (and their kernels stop) rather than leaving them for the reaper
        state = self._state()
        if state is not None:
            if state.schedules is not None:
                await asyncio.to_thread(state.schedules.stop, SHUTDOWN_GRACE_S)
            await asyncio.to_thread(state.runs.shutdown, SHUTDOWN_GRACE_S)
