"""The kernel fork server imports what every kernel would import, and nothing that would not
survive a fork: after its imports it is still one thread (a thread started before ``fork`` is
gone in the child, holding whatever lock it held)."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import os, sys
from mlops_jupyter.runner import forkserver
forkserver.import_kernel()
print(len(os.listdir("/proc/self/task")), "ipykernel.debugger" in sys.modules,
      all(m in sys.modules for m in forkserver.KERNEL_MODULES))
"""


def test_the_fork_server_s_imports_start_no_thread_and_include_the_debugger() -> None:
    result = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["1", "True", "True"]
    assert "frozen modules" not in result.stderr  # pydevd's warning, silenced
