"""The Jupyter Server extension: its whole REST surface in one route table.

Routes are relative to the server's ``base_url`` (ExtensionApp prefixes it); the request and
response of each is in docs/rest-api.md. Shared state (the server root, the runs this server
started) is made once here and reaches the handlers through the tornado settings.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp

from .handlers import (
    API_PREFIX,
    STATE_KEY,
    CancelHandler,
    CompileHandler,
    DiffHandler,
    MetricsHandler,
    PipelineHandler,
    RunHandler,
    RunsHandler,
    ServerState,
    StageNotebookHandler,
)
from .runs import RunRegistry

RUN_ID = r"(?P<run_id>[A-Za-z0-9_.-]+)"
STAGE = r"(?P<stage>[A-Za-z0-9_.-]+)"
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
    ]

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

    def _state(self) -> ServerState | None:
        return self.settings.get(STATE_KEY)

    def current_activity(self) -> bool:
        # a running pipeline is activity: an idle-culling server must not stop under it
        state = self._state()
        return bool(state and state.runs.active())

    async def stop_extension(self) -> None:
        # runs are threads of this process: cancel them so the store records them 'interrupted'
        # (and their kernels stop) rather than leaving them for the reaper
        state = self._state()
        if state is not None:
            await asyncio.to_thread(state.runs.shutdown, SHUTDOWN_GRACE_S)
