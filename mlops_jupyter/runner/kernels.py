"""A pool of kernels started ahead of need, so stages do not wait for kernel start-up.

Each stage gets a fresh kernel (never a reused namespace); the pool only moves the ~1 s start-up
off the critical path. Kernels talk over IPC sockets in a private temporary folder, not TCP.
All kernel managers live on one event loop in the pool's own thread.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import Future
from pathlib import Path
from typing import Any

# Quieter, faster kernel start: no history database, no frozen-modules warning.
_KERNEL_ARGS = ["--HistoryManager.enabled=False"]
_KERNEL_ENV = {"PYDEVD_DISABLE_FILE_VALIDATION": "1", "JUPYTER_PLATFORM_DIRS": "1"}


IOPUB_WAIT_S = 0.05  # for our kernel_info's idle status before asking again
RECONNECT_MS = 5  # zmq's wait before connecting again to a socket not bound yet (default 100)


def _client_class() -> type:
    from jupyter_client.asynchronous import AsyncKernelClient

    class FastKernelClient(AsyncKernelClient):
        """Ready as soon as IOPub delivers the idle status of our kernel_info request.

        jupyter_client's own handshake ends by draining IOPub until 0.2 s pass with no message:
        a fixed 0.2 s on every stage, more than a trivial stage's whole run.
        """

        async def _async_wait_for_ready(self, timeout: float | None = None) -> None:
            from queue import Empty

            deadline = time.monotonic() + (timeout or 60)
            while True:
                request = self.kernel_info()
                try:
                    reply = await self.shell_channel.get_msg(timeout=1)
                except Empty:
                    reply = None
                if reply is not None and reply["msg_type"] == "kernel_info_reply":
                    try:
                        while True:
                            # the idle status follows the reply at once when IOPub is
                            # subscribed; when it is not (the slow-joiner race of a fresh
                            # kernel) it never comes, so ask again soon rather than late:
                            # a 0.5 s wait here made one fired stage in three 0.5 s late
                            msg = await self.iopub_channel.get_msg(timeout=IOPUB_WAIT_S)
                            idle = msg["msg_type"] == "status" and (
                                msg["content"].get("execution_state") == "idle"
                            )
                            if idle and msg["parent_header"].get("msg_id") == request:
                                self._handle_kernel_info_reply(reply)
                                return
                    except Empty:
                        pass  # IOPub not subscribed yet: ask again
                if not await self._async_is_alive():
                    raise RuntimeError("Kernel died before replying to kernel_info")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"Kernel didn't respond in {timeout} seconds")

        wait_for_ready = _async_wait_for_ready

        def _create_connected_socket(self, channel: str, identity: bytes | None = None) -> Any:
            """jupyter_client's own, plus a 5 ms reconnect interval. A pooled kernel's client
            often connects before the forked kernel has bound its IPC sockets; zmq then waits
            its default 100 ms before trying again, which was most of a kernel's "start-up"
            (its welcome on IOPub came 4 ms after the connect when the socket was there, and
            100-200 ms after when it was not)."""
            import zmq

            url = self._make_url(channel)
            sock = self.context.socket(channel_socket_types[channel])
            sock.linger = 1000
            sock.setsockopt(zmq.RECONNECT_IVL, RECONNECT_MS)
            if identity:
                sock.identity = identity
            if getattr(self, "curve_publickey", None) is not None:
                sock.curve_secretkey = self.curve_secretkey
                sock.curve_publickey = self.curve_publickey
                sock.curve_serverkey = self.curve_publickey
            sock.connect(url)
            return sock

    from jupyter_client.connect import channel_socket_types

    return FastKernelClient


FAST_CLIENT = f"{__name__}.FastKernelClient"

# The pool's folder of connection files and IPC sockets: ``$TMPDIR/mlops-kernels-<pid>-XXXX``.
# A run killed outright cannot remove it; the pid in its name lets the next run see its owner is
# gone and remove it (a folder named without a pid, by an older version, is left alone).
KERNEL_DIR_PREFIX = "mlops-kernels-"


def dead_kernel_dirs(parent: str | Path | None = None) -> list[Path]:
    """Kernel folders in ``parent`` (default the temp folder) whose owning process is gone."""
    from ..files import pid_alive

    found = []
    try:
        entries = list(os.scandir(parent or tempfile.gettempdir()))
    except OSError:
        return []
    for entry in entries:
        if not entry.name.startswith(KERNEL_DIR_PREFIX):
            continue
        owner = entry.name[len(KERNEL_DIR_PREFIX) :].split("-", 1)[0]
        if owner.isdigit() and not pid_alive(int(owner)) and entry.is_dir(follow_symlinks=False):
            try:
                mine = entry.stat(follow_symlinks=False).st_uid == os.getuid()
            except OSError:
                continue
            if mine:  # another user's folder is theirs to clean
                found.append(Path(entry.path))
    return found


def remove_dead_kernel_dirs(parent: str | Path | None = None) -> list[Path]:
    """Remove the kernel folders of dead runs; returns those removed."""
    found = dead_kernel_dirs(parent)
    for folder in found:
        shutil.rmtree(folder, ignore_errors=True)
    return found


def __getattr__(name: str) -> object:
    # jupyter_client imports the client class by dotted name; build it (and import
    # jupyter_client) only when asked.
    if name == "FastKernelClient":
        cls = _client_class()
        globals()[name] = cls
        return cls
    raise AttributeError(name)


class KernelPool:
    """Kernels started ahead of need; forked from a fork server when the kernel is an ipykernel
    of this Python (``MLOPS_FORK_KERNELS=0`` turns that off), else launched the usual way."""

    def __init__(
        self,
        kernel_name: str,
        cwd: str | Path,
        env: dict[str, str] | None = None,
        preload: list[str] | None = None,
    ) -> None:
        self.kernel_name = kernel_name
        self.preload = list(preload or [])
        self._fork_server: Any = None
        self._fork = os.environ.get("MLOPS_FORK_KERNELS", "1") != "0"
        self.cwd = str(cwd)
        self.env = {**os.environ, **_KERNEL_ENV, **(env or {})}
        # a notebook that ran `mlops run` may have an interactive run: its workers' context must
        # not reach a stage kernel, whose workers log into the stage
        from ..tracking.runtime import CONTEXT_ENV

        self.env.pop(CONTEXT_ENV, None)
        remove_dead_kernel_dirs()  # what runs killed since the last one left in $TMPDIR
        self._dir = tempfile.mkdtemp(prefix=f"{KERNEL_DIR_PREFIX}{os.getpid()}-")
        self._count = 0
        self._spare: deque[Future[Any]] = deque()
        self._live: set[Any] = set()
        self._stopping: set[Future[Any]] = set()
        self._starting: set[Future[Any]] = set()
        self._lock = threading.Lock()
        self._closed = False
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="mlops-kernels", daemon=True
        )
        self._thread.start()

    def _call(self, coro: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coro, self._loop)

    async def _start(self) -> Any:
        from jupyter_client.manager import AsyncKernelManager

        with self._lock:
            self._count += 1
            ip = os.path.join(self._dir, f"k{self._count}")
        km = AsyncKernelManager(
            kernel_name=self.kernel_name,
            transport="ipc",
            ip=ip,
            client_class=FAST_CLIENT,
            connection_file=f"{ip}.json",
        )
        server = self._server()
        if server is not None:
            from .forking import attach

            attach(km, server)
        await km.start_kernel(cwd=self.cwd, env=self.env, extra_arguments=_KERNEL_ARGS)
        with self._lock:
            self._live.add(km)
        return km

    def _launch(self) -> Future[Any]:
        """Start a kernel (call with the lock held); every start is tracked until it is done,
        so shutdown can wait for kernels still booting, spare or already reserved."""
        future = self._call(self._start())
        self._starting.add(future)
        future.add_done_callback(self._starting.discard)
        return future

    def _server(self) -> Any:
        if self._fork and self._fork_server is None and hasattr(os, "fork"):
            from .forking import ForkServer

            try:
                self._fork_server = ForkServer(self.preload)
            except OSError:
                self._fork = False
        return self._fork_server

    def ensure(self, spare: int) -> None:
        """Keep ``spare`` kernels started (or starting) and not yet handed out."""
        with self._lock:
            if self._closed:
                return
            missing = spare - len(self._spare)
            for _ in range(missing):
                self._spare.append(self._launch())

    def reserve(self) -> Future[Any]:
        """A kernel for one stage, as a future: a spare one if any, else one starting now.

        Call it when the stage is decided, not when a thread is free to run it, so the kernel
        boots while the stage waits; hand the kernel back with :meth:`release`.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the kernel pool is shut down")
            return self._spare.popleft() if self._spare else self._launch()

    async def _stop(self, km: Any) -> None:
        """Kill the kernel's process group outright: its stage is over (or cancelled) and a
        polite shutdown costs ~0.1 s of polling per kernel, on the way out of every run."""
        provisioner = km.provisioner
        group = getattr(provisioner, "pgid", None) or getattr(provisioner, "pid", None)
        if group:
            try:
                os.killpg(group, signal.SIGKILL)
            except OSError:
                pass
        process = getattr(provisioner, "process", None)
        if isinstance(process, subprocess.Popen):
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        try:
            await km.cleanup_resources()
        except Exception:
            pass
        with self._lock:
            self._live.discard(km)

    async def _stop_all(self, kms: list[Any]) -> None:
        await asyncio.gather(*(self._stop(km) for km in kms))

    def release(self, km: Any) -> None:
        """Shut a used kernel down in the background (off the critical path)."""
        with self._lock:
            if self._closed:
                return  # shutdown() has killed every kernel already
            future = self._call(self._stop(km))
            self._stopping.add(future)
        future.add_done_callback(self._stopping.discard)

    def shutdown(self) -> None:
        """Kill every kernel, waiting or running, and stop the pool's thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._spare.clear()
            starting = list(self._starting)
        for future in starting:  # let boots finish, then kill them with the rest
            try:
                future.result(timeout=60)
            except Exception:
                pass
        with self._lock:
            live = list(self._live)
            stopping = list(self._stopping)
        for future in stopping:
            try:
                future.result(timeout=30)
            except Exception:
                pass
        if live:
            try:
                self._call(self._stop_all(live)).result(timeout=30)
            except Exception:
                pass
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        for future in starting:  # a boot that hung: whoever waits for it must not wait forever
            future.cancel()
        if self._fork_server is not None:
            self._fork_server.close()
        shutil.rmtree(self._dir, ignore_errors=True)
