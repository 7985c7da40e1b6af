"""A fork server for kernels: one process imports ipykernel once, then forks a fresh kernel per stage.

A kernel started the usual way spends ~0.6 s of CPU booting Python and importing ipykernel and
IPython before it runs a line; on 2 cores, four stages' kernels booting at once is most of a
short pipeline's wall time. A forked child starts with those modules already imported and only
initialises its own kernel (~0.1 s). Every stage still gets its own new process and namespace.

Protocol (one JSON object per line): the client writes ``{"argv", "cwd", "env"}`` to stdin and
reads ``{"pid": N}`` (or ``{"error": "..."}``) from stdout. When stdin closes (the runner ended or
died) the server kills its kernels and exits. Children are reaped as they exit, so a dead kernel
never lingers as a zombie that looks alive.

The server imports nothing that starts threads or event loops before forking. Modules the
pipeline imports are preloaded before the first fork when they come from an allowlist known to
be fork-safe (numpy, pandas, scipy, scikit-learn): the first stage would import them anyway, and
every later stage then starts with them loaded.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import Any

FORK_SAFE_PRELOADS = ("numpy", "pandas", "scipy", "sklearn")
# what every kernel imports while it initialises and runs its first cell, after the modules
# below (listed from sys.modules in a forked kernel; none starts a thread on import): ~30 ms of
# unmarshalling per kernel when each child does it again
KERNEL_MODULES = (
    "IPython.core.completerlib",
    "IPython.core.debugger",
    "IPython.core.oinspect",
    "IPython.core.logger",
    "IPython.extensions.storemagic",
    "IPython.utils.wildcard",
    "pdb",
    "faulthandler",
    "importlib.resources.readers",
    "tornado.platform.asyncio",
)
STAGE_MODULES = (
    "mlops_jupyter.values",
    "mlops_jupyter.tracking.runtime",
    "mlops_jupyter.store.hashing",
    "blake3",
    "sysconfig",
    "tempfile",
)


def preloadable(modules: list[str]) -> list[str]:
    return [m for m in modules if m.split(".")[0] in FORK_SAFE_PRELOADS]


_children: set[int] = set()


def _reap(signum: int = 0, frame: Any = None) -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        _children.discard(pid)


def _child(request: dict[str, Any]) -> None:
    """In the forked child: become the kernel. Never returns."""
    code = 1
    try:
        os.setsid()  # its own process group: interrupts and kills reach its subprocesses too
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(2, 1)  # never write into the server's reply pipe
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = ["ipykernel_launcher", *request["argv"]]
        from ipykernel.kernelapp import IPKernelApp

        app = IPKernelApp.instance()
        app.initialize(request["argv"])
        app.start()
        code = 0
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        os._exit(code)


def _serve() -> None:
    signal.signal(signal.SIGCHLD, _reap)
    stdin = sys.stdin.buffer
    reply = sys.stdout.buffer
    reply.write(b'{"ready": true}\n')
    reply.flush()
    while True:
        line = stdin.readline()
        if not line:
            break
        try:
            request = json.loads(line)
            pid = os.fork()
        except (ValueError, OSError) as exc:
            reply.write(json.dumps({"error": str(exc)}).encode() + b"\n")
            reply.flush()
            continue
        if pid == 0:
            _child(request)
        _children.add(pid)
        reply.write(json.dumps({"pid": pid}).encode() + b"\n")
        reply.flush()
    for pid in list(_children):
        try:
            os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass
    _reap()
    # nothing here is left to save: skip the interpreter's teardown of ipykernel, zmq and the
    # preloaded libraries (~60 ms the runner would wait for at the end of every run)
    sys.stdout.flush()
    os._exit(0)


def _import_debugger() -> None:
    """Every kernel's ``IPythonKernel.__init__`` imports ``ipykernel.debugger``, and with it
    debugpy's vendored pydevd: ~0.1 s of a forked kernel's ~0.14 s set-up, paid per stage. It
    starts no thread on import (tested), so it is imported once here. pydevd warns on stderr
    about frozen modules when imported; that warning is about breakpoints, which a stage never
    sets, so it is silenced as pydevd itself offers."""
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    try:
        __import__("ipykernel.debugger")
    except Exception:  # no debugpy: the kernels do without a debugger, as they would anyway
        pass


def import_kernel() -> None:
    """The point of this process: import the kernel once (and what every kernel and every
    stage's first and last cells import), fork it many times. Starts no thread (tested)."""
    for module in ("ipykernel.kernelapp", "ipykernel.ipkernel", "ipykernel.zmqshell"):
        __import__(module)
    _import_debugger()
    for module in KERNEL_MODULES:
        try:
            __import__(module)
        except ImportError:  # another IPython's layout: the kernel imports what it needs itself
            pass
    # loading and saving values, metrics, the files a stage opened: ~10-20 ms a stage otherwise
    for module in STAGE_MODULES:
        __import__(module)


def main() -> None:
    # `python -m` put the runner's working folder first on sys.path, and every kernel forked
    # from here would import from it: drop it, as ipykernel_launcher does (IPython then adds
    # the kernel's own folder, the notebook's, before site-packages)
    if sys.path and sys.path[0] in ("", os.getcwd()):
        del sys.path[0]
    import_kernel()
    for module in preloadable(sys.argv[1:]):
        try:
            __import__(module)
        except Exception:  # the stage will meet (and report) the same error itself
            pass
    _serve()


if __name__ == "__main__":
    main()
