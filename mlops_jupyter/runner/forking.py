"""The runner's side of the kernel fork server: start it, ask it for kernels, watch them.

``ForkProvisioner`` is a jupyter_client provisioner whose kernels come from the fork server
instead of a fresh ``python -m ipykernel_launcher``; everything else about the kernel
(connection file, IPC sockets, signals, shutdown) is jupyter_client's own code path.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from jupyter_client.provisioning import LocalProvisioner

from .forkserver import preloadable


class ForkServer:
    def __init__(self, preload: list[str] | None = None) -> None:
        modules = preloadable(preload or [])
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlops_jupyter.runner.forkserver", *modules],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            # its own session: "Interrupt kernel" in a notebook running `%mlops run` signals the
            # kernel's process group, which must not take the fork server down with it
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._ready = False

    def _read(self) -> dict[str, Any]:
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("the kernel fork server exited")
        reply: dict[str, Any] = json.loads(line)
        return reply

    def spawn(self, argv: list[str], cwd: str, env: dict[str, str]) -> int:
        with self._lock:
            assert self.proc.stdin is not None
            if not self._ready:
                self._read()
                self._ready = True
            request = {"argv": argv, "cwd": cwd, "env": env}
            self.proc.stdin.write(json.dumps(request).encode() + b"\n")
            self.proc.stdin.flush()
            reply = self._read()
        if "pid" not in reply:
            raise RuntimeError(f"the kernel fork server could not fork: {reply.get('error')}")
        return int(reply["pid"])

    def close(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
        if self.proc.stdout:
            self.proc.stdout.close()


class ForkedProcess:
    """Enough of ``subprocess.Popen`` for jupyter_client, for a kernel the fork server started.

    The fork server reaps its children, so "gone" (or a zombie awaiting reaping) means exited.
    """

    stdin = stdout = stderr = None

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                os.kill(self.pid, 0)
                with open(f"/proc/{self.pid}/stat") as stat:
                    state = stat.read().rsplit(")", 1)[1].split()[0]
                if state in ("Z", "X"):
                    self.returncode = -1
            except ProcessLookupError:
                self.returncode = -1
            except OSError:
                pass  # no /proc: trust kill(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.poll() is None:
            if deadline is not None and time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(str(self.pid), timeout or 0)
            time.sleep(0.02)
        return self.returncode or 0

    def send_signal(self, signum: int) -> None:
        os.kill(self.pid, signum)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)


def forkable_argv(cmd: list[str]) -> list[str] | None:
    """The kernel's own arguments if ``cmd`` starts an ipykernel of this very Python, else None."""
    if len(cmd) < 3 or cmd[1] != "-m" or cmd[2] not in ("ipykernel_launcher", "ipykernel"):
        return None
    exe = shutil.which(cmd[0]) or cmd[0]
    if os.path.realpath(exe) != os.path.realpath(sys.executable):
        return None
    return cmd[3:]


class ForkProvisioner(LocalProvisioner):
    fork_server: ForkServer | None = None

    async def launch_kernel(self, cmd: list[str], **kwargs: Any) -> Any:
        argv = forkable_argv(cmd)
        if argv is None or self.fork_server is None:
            return await super().launch_kernel(cmd, **kwargs)
        env = dict(kwargs.get("env") or os.environ)
        # the kernel exits if the runner dies (ipykernel reads this when imported, which in the
        # fork server was before we knew it: pass it as an argument too)
        env["JPY_PARENT_PID"] = str(os.getpid())
        argv = [*argv, f"--IPKernelApp.parent_handle={os.getpid()}"]
        cwd = str(kwargs.get("cwd") or os.getcwd())
        pid = self.fork_server.spawn(argv, cwd, env)
        self.process = ForkedProcess(pid)  # type: ignore[assignment]
        self.pid = self.pgid = pid
        self.cwd = cwd
        return self.connection_info


def attach(km: Any, server: ForkServer) -> None:
    """Make ``km`` (before ``start_kernel``) get its kernel from the fork server."""
    import uuid

    km.kernel_id = km.kernel_id or str(uuid.uuid4())
    provisioner = ForkProvisioner(kernel_id=km.kernel_id, kernel_spec=km.kernel_spec, parent=km)
    provisioner.fork_server = server
    km.provisioner = provisioner
