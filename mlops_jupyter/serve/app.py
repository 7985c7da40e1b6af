"""``mlops serve NAME[@ALIAS|@V]``: a model version as a microservice (FastAPI on uvicorn).

**Routes.** MLflow's scoring server — ``GET /ping``, ``/health``, ``/version``, ``POST
/invocations`` (its four JSON formats and CSV, answered ``{"predictions": [...]}``) — and
KServe's Open Inference Protocol v2 — ``GET /v2/health/live``, ``/v2/health/ready``,
``/v2/models/{name}``, ``POST /v2/models/{name}/infer``. A request the model cannot be asked (a
missing column, a value of the wrong type, a malformed body) is a 400 naming the column, never
a 500 with a traceback (``formats.py``). Bodies are read up to ``max_body`` bytes (413 past it).
With a token, every route but the probes (``/ping``, ``/health``, ``/v2/health/*``: a
container's health check has no secret, and they say nothing) needs ``Authorization: Bearer``.

**Following an alias.** Served as ``NAME@ALIAS`` (or ``NAME``, the newest version), a watcher
thread asks the registry every ``poll`` seconds where the reference points. When it moves, the
new version is loaded in that thread while requests go on being answered by the old one, then
one reference assignment switches them: a request reads the served version once, at its start,
so each is answered whole by one version, and none fails during the switch. A version that fails
to load is not switched to (the old one keeps serving; the failure is logged and that version is
not tried again until the alias moves again). ``NAME@3`` serves version 3 and never moves.

**Recording.** Every answered request goes to ``traffic.Recorder`` (off the request path).

FastAPI is imported at the top: it reads the handlers' annotations from this module's globals
(``Request`` imported inside a function would make it a query parameter). Only ``mlops serve``
imports this module, after its input is checked.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import logging
import os
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from . import formats
from .traffic import Recorder, inputs_json

CONFIG_ENV = "MLOPS_SERVE_CONFIG"  # uvicorn workers are new processes: they read this
MAX_BODY = 16 * 1024 * 1024
POLL = 2.0
PROBES = frozenset({"/ping", "/health", "/v2/health/live", "/v2/health/ready"})

log = logging.getLogger("mlops_jupyter.serve")


@dataclass(frozen=True)
class Served:
    """One loaded version: what every request reads once, at its start."""

    name: str
    version: int
    record: dict[str, Any]
    model: Any

    @property
    def signature(self) -> dict[str, Any] | None:
        return self.record.get("signature")


def load(home: Path, ref: str) -> Served:
    """The version ``ref`` names now, loaded (MlopsError when there is none)."""
    from ..store.db import Store
    from ..tracking import models

    with Store(home) as store:
        name, version = models.resolve(store, ref)
        record = models.show(store, f"{name}@{version}")
        model = models.load(store, f"{name}@{version}")
    return Served(name, version, record, model)


class Holder:
    """The version being served, and the watcher that moves it when its alias moves."""

    def __init__(self, home: Path, ref: str, *, poll: float = POLL) -> None:
        from ..tracking import models

        self.home, self.ref, self.poll = home, ref, poll
        self.current = load(home, ref)
        _, selector = models.parse_ref(ref)
        self.follows = selector is None or not selector.isdigit()
        self._failed: set[int] = set()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self.follows:
            self._thread = threading.Thread(
                target=self._watch, name="mlops-serve-watch", daemon=True
            )
            self._thread.start()

    def check(self) -> None:
        """Look once: switch to where the reference points now, if it moved and loads."""
        from ..store.db import Store
        from ..tracking import models

        with Store(self.home) as store:
            _, version = models.resolve(store, self.ref)
        if version == self.current.version or version in self._failed:
            return
        try:
            loaded = load(self.home, f"{self.current.name}@{version}")
        except Exception as exc:  # never switch to what does not load; say why once
            self._failed.add(version)
            log.error(
                "mlops serve: %s moved to version %d, which does not load (%s: %s); still "
                "serving version %d",
                self.ref, version, type(exc).__name__, exc, self.current.version,
            )  # fmt: skip
            return
        before = self.current.version
        self.current = loaded  # one assignment: a request sees the old version or the new one
        self._failed.clear()
        log.warning(
            "mlops serve: %s moved: now serving version %d (was %d)", self.ref, version, before
        )

    def _watch(self) -> None:
        while not self._stop.wait(self.poll):
            try:
                self.check()
            except Exception as exc:  # a store briefly locked or unreadable: look again later
                log.warning("mlops serve: could not read the registry (%s)", exc)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


@dataclass
class Config:
    home: str
    ref: str
    token: str | None = None
    sample: float = 1.0
    poll: float = POLL
    max_body: int = MAX_BODY

    def to_env(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_env(cls) -> Config:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


def create_app(config: Config | None = None) -> Any:
    """The FastAPI application (uvicorn calls this, as a factory, in each worker)."""
    from .. import _version

    config = config or Config.from_env()
    home = Path(config.home)
    holder = Holder(home, config.ref, poll=config.poll)
    recorder = Recorder(home, holder.current.name, sample=config.sample)

    @contextlib.asynccontextmanager
    async def lifespan(_: Any) -> AsyncIterator[None]:
        yield
        holder.close()
        recorder.close()  # what is waiting is written before the process ends

    app = FastAPI(
        title=f"mlops serve {config.ref}", docs_url=None, redoc_url=None, openapi_url=None,
        lifespan=lifespan,
    )  # fmt: skip
    app.state.holder, app.state.recorder = holder, recorder

    def error(status: int, message: str, code: str = "BAD_REQUEST") -> Response:
        # MLflow's scoring server's shape, so its clients read ours
        return JSONResponse({"error_code": code, "message": message}, status_code=status)

    app.add_middleware(Guard, token=config.token, max_body=config.max_body)

    async def body_of(request: Request) -> bytes:
        received = bytearray()
        async for chunk in request.stream():  # a chunked body has no length to refuse it by
            received += chunk
            if len(received) > config.max_body:
                raise _TooLarge
        return bytes(received)

    def answer(
        served: Served, start: float, rows: Any, predictions: Any, body: dict[str, Any]
    ) -> Response:
        latency = (time.perf_counter() - start) * 1000
        count = len(rows) if hasattr(rows, "__len__") else 1
        if recorder.sampled():
            recorder.add(
                served.version,
                latency,
                200,
                count,
                inputs_json(rows),
                json.dumps(formats.plain(predictions), default=str),
            )
        else:
            recorder.add(served.version, latency, 200, count)
        # which version answered: a client (and a test) can tell across an alias switch
        return JSONResponse(body, headers={"X-Model-Version": str(served.version)})

    def refused(served: Served, start: float, status: int, message: str) -> Response:
        latency = (time.perf_counter() - start) * 1000
        recorder.add(served.version, latency, status, 0, error=message[:500])
        return error(status, message)

    def predict(served: Served, rows: Any) -> Any:
        return served.model.predict(rows)

    @app.get("/ping")
    def ping() -> Response:
        return PlainTextResponse("\n")

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", "model": holder.current.name, "version": holder.current.version}

    @app.get("/version")
    def version() -> dict[str, Any]:
        served = holder.current
        return {
            "model": served.name,
            "version": served.version,
            "ref": config.ref,
            "follows": holder.follows,
            "hash": served.record["hash"],
            "flavor": served.record["flavor"],
            "pipeline": served.record.get("pipeline"),
            "pipeline_version": served.record.get("pipeline_version"),
            "run_id": served.record.get("run_id"),
            "mlops_jupyter": _version.__version__,
        }

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        start = time.perf_counter()
        served = holder.current
        try:
            raw = await body_of(request)
        except _TooLarge:
            return refused(served, start, 413, f"the body is over {config.max_body:,} bytes.")
        kind = request.headers.get("content-type", "application/json").split(";")[0].strip()
        try:
            if kind == "text/csv":
                rows = formats.read_csv(raw.decode("utf-8"), served.signature)
            elif kind == "application/json":
                rows = formats.read_invocation(_json(raw), served.signature)
            else:
                return refused(
                    served,
                    start,
                    415,
                    f"content type {kind!r} is not one this server reads: send "
                    "application/json or text/csv.",
                )
            predictions = predict(served, rows)
        except formats.InputError as exc:
            return refused(served, start, 400, exc.message)
        except (ValueError, TypeError) as exc:  # what the model says of rows it cannot take
            return refused(served, start, 400, f"the model refused the rows: {exc}")
        except Exception as exc:
            return refused(served, start, 500, f"the model failed: {type(exc).__name__}: {exc}")
        return answer(served, start, rows, predictions, {"predictions": formats.plain(predictions)})

    @app.get("/v2/health/live")
    def live() -> dict[str, bool]:
        return {"live": True}

    @app.get("/v2/health/ready")
    def ready() -> dict[str, bool]:
        return {"ready": True}

    @app.get("/v2/models/{name}")
    def metadata(name: str) -> Response:
        served = holder.current
        if name != served.name:
            return error(
                404, f"this server serves model '{served.name}', not '{name}'.", "NOT_FOUND"
            )
        return JSONResponse(formats.oip_metadata(served.name, served.version, served.record))

    @app.post("/v2/models/{name}/infer")
    async def infer(name: str, request: Request) -> Response:
        start = time.perf_counter()
        served = holder.current
        if name != served.name:
            return error(
                404, f"this server serves model '{served.name}', not '{name}'.", "NOT_FOUND"
            )
        try:
            raw = await body_of(request)
        except _TooLarge:
            return refused(served, start, 413, f"the body is over {config.max_body:,} bytes.")
        try:
            body = _json(raw)
            rows = formats.read_oip(body, served.signature)
            predictions = predict(served, rows)
        except formats.InputError as exc:
            return refused(served, start, 400, exc.message)
        except (ValueError, TypeError) as exc:
            return refused(served, start, 400, f"the model refused the rows: {exc}")
        except Exception as exc:
            return refused(served, start, 500, f"the model failed: {type(exc).__name__}: {exc}")
        reply: dict[str, Any] = {
            "model_name": served.name,
            "model_version": str(served.version),
            "outputs": formats.oip_outputs(predictions),
        }
        if isinstance(body, dict) and body.get("id") is not None:
            reply["id"] = body["id"]
        return answer(served, start, rows, predictions, reply)

    return app


class _TooLarge(Exception):
    pass


class Guard:
    """The token and the body's stated length, checked before routing: a plain ASGI middleware
    (Starlette's ``@app.middleware("http")`` wraps every request and response in extra tasks,
    a measurable share of a small prediction's time)."""

    def __init__(self, app: Any, *, token: str | None, max_body: int) -> None:
        self.app, self.max_body = app, max_body
        self.token = None if token is None else token.encode()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        if self.token is not None and scope["path"] not in PROBES:
            scheme, _, given = headers.get(b"authorization", b"").partition(b" ")
            if scheme.lower() != b"bearer" or not hmac.compare_digest(given.strip(), self.token):
                refusal = JSONResponse(
                    {
                        "error_code": "UNAUTHENTICATED",
                        "message": "send Authorization: Bearer TOKEN",
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Bearer"},
                )
                await refusal(scope, receive, send)
                return
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_body):
            too_large = JSONResponse(
                {
                    "error_code": "REQUEST_TOO_LARGE",
                    "message": f"the body is over {self.max_body:,} bytes.",
                },
                status_code=413,
            )
            await too_large(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise formats.InputError(f"the body is not JSON ({exc}).") from None


def app_from_env() -> Any:
    """uvicorn's factory in each worker process."""
    return create_app(Config.from_env())


def run(config: Config, *, host: str, port: int, workers: int = 1) -> None:
    """Serve until stopped (Ctrl-C / SIGTERM: uvicorn's graceful shutdown; records flushed)."""
    import uvicorn

    os.environ[CONFIG_ENV] = config.to_env()
    uvicorn.run(
        "mlops_jupyter.serve.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
