"""The REST handlers: parse the request, call ``mlops_jupyter.api`` off the event loop, reply JSON.

docs/rest-api.md is the contract these implement. Every handler is authenticated (token or
login cookie; XSRF for non-GET is Jupyter Server's own check) and authorized through the
server's Authorizer; every ``path`` goes through :func:`.paths.resolve` before it is used, and
every store through :func:`.paths.store_home`. Bodies over ``request.MAX_BODY_BYTES`` are refused
(413) from their ``Content-Length``, before they are read.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from dataclasses import dataclass
from http.client import responses
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join
from tornado import web

from .. import api
from ..errors import ConflictError, MlopsError, NotFoundError, RefusedError
from ..request import MAX_BODY_BYTES, from_json, model_alias_from_json, schedule_from_json
from ..status import FINAL, RunStatus
from ..views.text import strict_json
from .paths import PathError, Resolved, relative, resolve, store_home, writable_store
from .runs import RunRegistry

if TYPE_CHECKING:
    from ..schedule.host import SchedulerHost

STATE_KEY = "mlops_jupyter"  # the tornado settings key of the ServerState
API_PREFIX = "mlops/api"
DEFAULT_LIMIT, MAX_LIMIT = 20, 1000  # runs per page of `GET runs`
TOO_LARGE = (
    f"the request body is larger than the server accepts (1 MiB, {MAX_BODY_BYTES:,} bytes). "
    "Put large data in a file the notebook reads, and pass its path as a parameter."
)

T = TypeVar("T")


@dataclass
class ServerState:
    """What the handlers share, one per server (in the settings, never a module global)."""

    root: Path  # the server's root directory: no path outside it is served
    runs: RunRegistry
    schedules: SchedulerHost | None = None  # the hosted scheduler loops (None: turned off)


def error_body(message: str, **fields: Any) -> dict[str, Any]:
    """The one error shape (``MlopsError.to_dict()``'s keys), for errors that are not MlopsErrors."""
    body: dict[str, Any] = dict.fromkeys(("notebook", "cell", "cell_id", "line", "hint"))
    body.update(error=message, text=message, **fields)
    return body


class ApiError(web.HTTPError):
    """An HTTP error whose JSON body is given whole."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        # tornado logs log_message as a %-format string: escape what the message brings
        super().__init__(status, str(body.get("text", "")).replace("%", "%%"))
        self.body = body


@web.stream_request_body  # so a body is refused by its length before it is read
class MlopsHandler(APIHandler):
    """Shared parsing, error shaping and thread hand-off for every route."""

    auth_resource = "contents"

    async def prepare(self) -> None:  # type: ignore[override]  # APIHandler overrides it so too
        self._chunks: list[bytes] = []
        await super().prepare()
        length = self.request.headers.get("Content-Length")
        if length is not None and (not length.strip().isdigit() or int(length) > MAX_BODY_BYTES):
            raise ApiError(413, error_body(TOO_LARGE))
        # a body sent without a length (chunked) is cut off by tornado at the same size (or at
        # the server's own max_body_size, if that is smaller: this only ever lowers it)
        server_max = getattr(self.serverapp, "max_body_size", None) or MAX_BODY_BYTES
        connection: Any = self.request.connection
        connection.set_max_body_size(min(MAX_BODY_BYTES, server_max))

    def data_received(self, chunk: bytes) -> None:
        self._chunks.append(chunk)

    @property
    def state(self) -> ServerState:
        state: ServerState = self.settings[STATE_KEY]
        return state

    # -- replies

    def reply(self, data: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(strict_json(data, indent=None))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Every error is the same JSON shape, so the frontend has one way to show them."""
        exc = kwargs.get("exc_info", (None, None, None))[1]
        if isinstance(exc, ApiError):
            body = exc.body
        elif isinstance(exc, web.HTTPError):
            message = exc.reason or responses.get(status_code, "error")
            if exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
            elif status_code == 403:
                message = "forbidden: send the server's token (or login cookie and XSRF token)."
            body = error_body(message)
        elif exc is not None:  # a bug of ours: say what it was; the traceback is in the log
            body = error_body(f"internal error: {type(exc).__name__}: {exc}")
        else:
            body = error_body(responses.get(status_code, "error"))
        self.set_header("Content-Type", "application/json")
        self.finish(strict_json(body, indent=None))

    def mlops_error(self, exc: MlopsError, about: Resolved | None = None) -> ApiError:
        """400 (404 for a missing run) with the error's cell-pointing fields; the notebook is
        named by the client's own path, so it can find the cell in the document it has open."""
        if about is not None and exc.notebook and _same_file(exc.notebook, about.path):
            exc.notebook = about.api_path
        status = 400
        for kind, code in ((NotFoundError, 404), (RefusedError, 403), (ConflictError, 409)):
            if isinstance(exc, kind):
                status = code
        return ApiError(status, exc.to_dict())

    # -- input

    def notebook(self, api_path: object) -> Resolved:
        allow_hidden = bool(getattr(self.contents_manager, "allow_hidden", False))
        try:
            return resolve(self.state.root, api_path, allow_hidden=allow_hidden)
        except PathError as exc:
            raise ApiError(exc.status, error_body(exc.message)) from None

    def body(self) -> dict[str, Any]:
        self.request.body = b"".join(self._chunks)
        data = self.get_json_body()  # a 400 of Jupyter Server's own for invalid JSON
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ApiError(400, error_body("the request body must be a JSON object."))
        return data

    def store(self, where: Path, *, create: bool = False) -> Path | None:
        """The store serving ``where`` if it is inside the root (else None, or with ``create``
        the root's own, made): the server never reads or writes a store above its root."""
        try:
            if create:
                return writable_store(self.state.root, where)
            return store_home(self.state.root, where)
        except PathError as exc:
            raise ApiError(exc.status, error_body(exc.message)) from None

    def where(self, run_ref: str) -> Path:
        """Which store a run is read from: the ``path`` sent, else the store of a run this server
        started, else the store serving the root directory; a 404 when that store is outside
        the root (as for a root without runs: what is above the root is not this server's)."""
        sent = self.get_query_argument("path", None)
        if sent is not None:
            where = self.notebook(sent).path
        else:
            live = self.state.runs.get(run_ref)
            where = live.target if live else self.state.root
        if self.store(where) is None:
            raise ApiError(
                404, error_body(f"no run '{run_ref}': there is no store inside the server root.")
            )
        return where

    # -- work off the event loop

    async def blocking(
        self, fn: Callable[..., T], *args: Any, about: Resolved | None = None, **kwargs: Any
    ) -> T:
        """Compile, explain and store reads take milliseconds to seconds: never on the loop."""
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except MlopsError as exc:
            raise self.mlops_error(exc, about) from None
        except PathError as exc:
            raise ApiError(exc.status, error_body(exc.message)) from None

    def present(self, run: dict[str, Any]) -> dict[str, Any]:
        """The ``mlops show --json`` object plus root-relative paths and whether it is ours to
        cancel (docs/rest-api.md). Touches the file system: call it through :meth:`blocking`."""
        root = self.state.root
        shown = dict(run)
        shown["path"] = relative(root, run.get("notebook"))
        shown["stages"] = [
            {
                **stage,
                "path": relative(root, stage["notebook"])
                if stage.get("notebook") and os.path.exists(stage["notebook"])
                else None,
            }
            for stage in run.get("stages", [])
        ]
        live = self.state.runs.get(run["run_id"])
        shown["cancellable"] = bool(live and live.running and run["status"] == RunStatus.RUNNING)
        return shown


def _same_file(named: str, path: Path) -> bool:
    return os.path.isabs(named) and os.path.realpath(named) == os.path.realpath(path)


def _named_by_client(data: dict[str, Any], about: Resolved) -> dict[str, Any]:
    # the CLI's object names the notebook by file name; the client needs its own path back
    return {**data, "path": about.api_path}


def _int_argument(handler: MlopsHandler, name: str, default: int, low: int, high: int) -> int:
    text = handler.get_query_argument(name, None)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise ApiError(400, error_body(f"'{name}' must be a whole number from {low} to {high}."))
    return value


# -- the routes (the table is in extension.py)


class PipelineHandler(MlopsHandler):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self) -> None:
        notebook = self.notebook(self.get_query_argument("path", None))
        data = await self.blocking(api.explain, notebook.path, about=notebook)
        self.reply(_named_by_client(data, notebook))


class CompileHandler(MlopsHandler):
    @web.authenticated
    @authorized("write", "contents")
    async def post(self) -> None:
        notebook = self.notebook(self.body().get("path"))
        self.store(notebook.path, create=True)  # compiled into it: .mlops/pipelines/
        data = await self.blocking(api.compile, notebook.path, about=notebook)
        self.reply(_named_by_client(data, notebook))


class RunsHandler(MlopsHandler):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self) -> None:
        sent = self.get_query_argument("path", None)
        limit = _int_argument(self, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _int_argument(self, "offset", 0, 0, 2**62)
        notebook = self.notebook(sent) if sent is not None else None
        if self.store(notebook.path if notebook else self.state.root) is None:
            self.reply([])  # no store inside the root: no runs, as for a root never run in
            return

        def listed() -> list[dict[str, Any]]:
            if notebook is None:
                runs = api.runs(self.state.root, limit=limit, offset=offset)
            else:
                runs = api.runs(limit=limit, offset=offset, notebook=notebook.path)
            return [self.present(run) for run in runs]

        self.reply(await self.blocking(listed, about=notebook))

    @web.authenticated
    @authorized("execute", "kernels")  # a run executes the notebook's code
    async def post(self) -> None:
        body = self.body()
        try:
            request = from_json(body)
        except MlopsError as exc:
            raise self.mlops_error(exc) from None
        notebook = self.notebook(body.get("path"))
        options = request.options()
        parameters = options.pop("parameters")
        where = options["executor_options"]
        if "scheduler_file" in where:  # a file the server reads: inside its root, as any path
            where["scheduler_file"] = str(self.notebook(where["scheduler_file"]).path)
        # the store this server serves for the path, also for a compiled folder whose notebook's
        # folder (where its runs go from a terminal) may lie outside the root
        options["home"] = self.store(notebook.path, create=True)
        try:
            started = self.state.runs.start(notebook.path, parameters, options)
        except RuntimeError as exc:  # shutting down
            raise ApiError(503, error_body(str(exc))) from None
        try:
            # answered once the run is recorded, so the id can be polled at once; errors found
            # before that (compile errors, bad parameters) are this request's 400
            run_id = await asyncio.wrap_future(started)
        except MlopsError as exc:
            raise self.mlops_error(exc, notebook) from None
        self.set_header("Location", url_path_join(self.base_url, API_PREFIX, "runs", run_id))
        self.reply({"run_id": run_id}, status=202)


class RunHandler(MlopsHandler):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self, run_id: str) -> None:
        where = self.where(run_id)
        self.reply(await self.blocking(lambda: self.present(api.show(run_id, where))))


class CancelHandler(MlopsHandler):
    @web.authenticated
    @authorized("execute", "kernels")
    async def post(self, run_id: str) -> None:
        live = self.state.runs.get(run_id)
        if live is None:  # a prefix, 'latest', or a run this server did not start
            run = await self.blocking(api.show, run_id, self.where(run_id))
            run_id = run["run_id"]
            live = self.state.runs.get(run_id)
            if live is None:
                if run["status"] == RunStatus.RUNNING:
                    raise ApiError(
                        409,
                        error_body(
                            f"run {run_id} was started by another process "
                            f"(origin {run['origin']}); it can only be stopped there."
                        ),
                    )
                raise ApiError(409, error_body(f"run {run_id} is not running ({run['status']})."))
        if live.running and live.status not in FINAL:
            # the store records the run final before its thread has let go: what it says wins,
            # so a cancel after the run was seen to end is refused however the threads fall
            recorded = await self.blocking(api.show, run_id, self.where(run_id))
            if recorded["status"] in FINAL:
                live.status = recorded["status"]
        if not live.running or live.status in FINAL:
            raise ApiError(409, error_body(f"run {run_id} is not running ({live.status})."))
        live.cancel.set()  # the run loop notices within 0.2 s and stops its kernels
        self.reply({"run_id": run_id, "status": RunStatus.INTERRUPTING}, status=202)


class MetricsHandler(MlopsHandler):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self, run_id: str) -> None:
        keys = self.get_query_arguments("key") or None
        self.reply(await self.blocking(api.metrics, run_id, keys, self.where(run_id)))


class StageNotebookHandler(MlopsHandler):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self, run_id: str, stage: str) -> None:
        # where() vouches for the store (inside the root, no links out of it) and
        # api.stage_notebook for the file (its real path inside that store's runs/)
        where = self.where(run_id)

        def executed() -> str:
            return api.stage_notebook(run_id, stage, where).read_text(encoding="utf-8")

        text = await self.blocking(executed)
        self.finish(text)  # already nbformat JSON: no need to parse and re-encode


class DiffHandler(MlopsHandler):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self) -> None:
        a, b = self.get_query_argument("a", None), self.get_query_argument("b", None)
        if not a or not b:
            raise ApiError(400, error_body("give the two runs to compare as 'a' and 'b'."))
        self.reply(await self.blocking(api.diff, a, b, self.where(a)))


# -- schedules (docs/rest-api.md "Schedules")

MAX_CRON_TIMES = 50  # `GET cron?count=`


class ScheduleBase(MlopsHandler):
    def schedule_where(self) -> Path | None:
        """The notebook (``?path=``) or root whose store holds the schedules; None when that
        store is not inside the root (then there are none here)."""
        sent = self.get_query_argument("path", None)
        where = self.notebook(sent).path if sent is not None else self.state.root
        return where if self.store(where) is not None else None

    def named_where(self, name: str) -> Path:
        where = self.schedule_where()
        if where is None:
            raise ApiError(404, error_body(f"no schedule named '{name}' (no store here)."))
        return where

    def present_schedule(self, schedule: dict[str, Any]) -> dict[str, Any]:
        return {**schedule, "path": relative(self.state.root, schedule["target"])}

    def woken(self, where: Path) -> None:
        """A schedule was added or resumed: the hosted loop of its store looks now."""
        host, home = self.state.schedules, self.store(where)
        if host is not None and home is not None:
            host.add(home)


class SchedulesHandler(ScheduleBase):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self) -> None:
        where = self.schedule_where()
        found = [] if where is None else await self.blocking(api.schedules, where)
        self.reply([self.present_schedule(s) for s in found])

    @web.authenticated
    @authorized("execute", "kernels")  # its fires execute the notebook's code
    async def post(self) -> None:
        body = self.body()
        try:
            fields = schedule_from_json(body)
        except MlopsError as exc:
            raise self.mlops_error(exc) from None
        target = self.notebook(body.get("path"))
        home = self.store(target.path, create=True)
        made = await self.blocking(
            lambda: api.schedule_add(target=target.path, home=home, **fields), about=target
        )
        self.woken(target.path)
        self.set_header(
            "Location", url_path_join(self.base_url, API_PREFIX, "schedules", made["name"])
        )
        self.reply(self.present_schedule(made), status=201)


class ScheduleHandler(ScheduleBase):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self, name: str) -> None:
        where = self.named_where(name)
        self.reply(self.present_schedule(await self.blocking(api.schedule_show, name, where)))

    @web.authenticated
    @authorized("execute", "kernels")
    async def delete(self, name: str) -> None:
        where = self.named_where(name)
        self.reply(await self.blocking(api.schedule_remove, name, where))


class ScheduleStateHandler(ScheduleBase):
    @web.authenticated
    @authorized("execute", "kernels")
    async def post(self, name: str, action: str) -> None:
        where = self.named_where(name)
        changed = await self.blocking(api.schedule_enable, name, action == "resume", where)
        if action == "resume":
            self.woken(where)
        self.reply(self.present_schedule(changed))


class ScheduleHistoryHandler(ScheduleBase):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self, name: str) -> None:
        where = self.named_where(name)
        self.reply(await self.blocking(api.schedule_history, name, where))


class ModelsBase(MlopsHandler):
    def models_where(self) -> tuple[Path | None, Path | None]:
        """``(where, notebook)``: the store to read (None: none inside the root) and the
        notebook whose models are asked for (``?path=``), if one was sent."""
        sent = self.get_query_argument("path", None)
        notebook = self.notebook(sent).path if sent is not None else None
        where = notebook or self.state.root
        return (where if self.store(where) is not None else None), notebook

    def named_models_where(self, name: str) -> Path:
        where, _ = self.models_where()
        if where is None:
            raise ApiError(404, error_body(f"there is no model '{name}' (no store here)."))
        return where


class ModelsHandler(ModelsBase):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self) -> None:
        where, notebook = self.models_where()
        found = [] if where is None else await self.blocking(api.models, where, notebook=notebook)
        self.reply(found)


class ModelHandler(ModelsBase):
    @web.authenticated
    @authorized("read", "contents")
    async def get(self, name: str) -> None:
        where = self.named_models_where(name)
        found = await self.blocking(api.model, name, where)
        root = self.state.root
        for version in found["versions"]:  # no absolute paths of the machine in answers
            version["data"] = [{**d, "path": relative(root, d["path"])} for d in version["data"]]
        self.reply(found)


class ModelMonitorHandler(ModelsBase):
    """``mlops monitor --json`` of the version ``?ref=`` names (default: the model's newest;
    ``name@champion`` follows the alias) over ``?window=`` (default 1h)."""

    @web.authenticated
    @authorized("read", "contents")
    async def get(self, name: str) -> None:
        where = self.named_models_where(name)
        selector = self.get_query_argument("alias", None)
        ref = name if not selector else f"{name}@{selector}"
        window = self.get_query_argument("window", "1h")
        found = await self.blocking(api.monitor, ref, window=window, where=where)
        reference = found.get("reference")
        if reference and os.path.isabs(reference["path"]):  # no absolute paths in answers
            reference["path"] = relative(self.state.root, reference["path"])
        self.reply(found)


class ModelAliasesHandler(ModelsBase):
    """Point an alias at a version: ``promote`` checks the run and the requirements first (a
    refusal is 200 with ``"moved": false`` and the table), else the move is unconditional."""

    @web.authenticated
    @authorized("write", "contents")  # what an alias names is what a deployment serves
    async def post(self, name: str) -> None:
        body = self.body()
        try:
            fields = model_alias_from_json(body)
        except MlopsError as exc:
            raise self.mlops_error(exc) from None
        where = self.named_models_where(name)
        ref = f"{name}@{fields['version']}"
        if fields["promote"]:
            result = await self.blocking(
                api.model_promote,
                ref,
                fields["alias"],
                requires=fields["require"],
                reason=fields["reason"],
                where=where,
            )
        else:
            result = await self.blocking(
                api.model_alias, ref, fields["alias"], reason=fields["reason"], where=where
            )
        self.reply(result)


class CronHandler(MlopsHandler):
    """The next fire times of an expression as it is typed (nothing is read or written)."""

    @web.authenticated
    @authorized("read", "contents")
    async def get(self) -> None:
        expr = self.get_query_argument("expr", None)
        if expr is None:
            raise ApiError(400, error_body("give the cron expression as 'expr'."))
        tz = self.get_query_argument("tz", None) or None
        count = _int_argument(self, "count", 5, 1, MAX_CRON_TIMES)
        self.reply(await self.blocking(api.cron_times, expr, tz, count))
