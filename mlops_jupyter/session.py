"""What the notebook session around us provides: the notebook's path, and clean error display.

Used by the magics, the widgets and tracking (one answer to "which notebook is this", so
``%mlops`` and an interactive run pick the same store); never imports IPython itself.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from .errors import MlopsError

NOTEBOOK_UNKNOWN = (
    "cannot tell which notebook this is: JupyterLab sets JPY_SESSION_NAME and VS Code sets "
    "__vsc_ipynb_file__, and neither is set here (a console, papermill, or another frontend)."
)


def current_notebook(shell: Any = None) -> Path | None:
    """The notebook this kernel serves, if the frontend says so.

    VS Code puts ``__vsc_ipynb_file__`` in the namespace; jupyter_server starts kernels with
    ``JPY_SESSION_NAME`` = the notebook's absolute path (ipykernel copies it to ``__session__``).
    A renamed notebook keeps the old name until the kernel restarts, so a path that no longer
    exists is not trusted.
    """
    namespace = getattr(shell, "user_ns", None) or {}
    candidates = (
        namespace.get("__vsc_ipynb_file__"),
        os.environ.get("JPY_SESSION_NAME"),
        namespace.get("__session__"),
    )
    for candidate in candidates:
        if not isinstance(candidate, str) or not candidate:
            continue
        path = Path(candidate).expanduser()
        tries = [path] if path.is_absolute() else [Path.cwd() / path, Path.cwd() / path.name]
        for found in tries:
            if found.suffix == ".ipynb" and found.is_file():
                return found.resolve()
    return None


def notebook_for(shell: Any, explicit: str | None) -> Path:
    """``--notebook PATH`` if given, else the session's notebook, else a clear MlopsError."""
    if explicit:
        path = Path(explicit).expanduser()
        if not path.exists():
            raise MlopsError(f"--notebook {explicit}: no such file.")
        return path.resolve()
    found = current_notebook(shell)
    if found is None:
        raise MlopsError(NOTEBOOK_UNKNOWN, hint="Pass --notebook PATH.")
    return found


class MagicError(MlopsError):
    """A message for the user, already prefixed with the verb that failed."""


def _show_error(
    shell: Any, etype: type, value: BaseException, tb: Any, tb_offset: Any = None
) -> None:
    # IPython calls this for MlopsError raised in any cell: one paragraph on stderr, no traceback;
    # the cell still fails (the execute reply says error), so "Run All" stops as it should.
    text = str(value) if isinstance(value, MagicError) else f"mlops: {value}"
    print(text, file=sys.stderr, flush=True)


def install_error_display(shell: Any) -> bool:
    """Show MlopsError as its message in this shell. Leaves another tool's handler in place."""
    if shell is None or not hasattr(shell, "set_custom_exc"):
        return False
    current = tuple(getattr(shell, "custom_exceptions", ()) or ())
    if current == (MlopsError,):
        return True
    if current:
        return False
    shell.set_custom_exc((MlopsError,), _show_error)
    return True


def ipython_shell() -> Any:
    """The running IPython shell, or None; never imports IPython itself."""
    module = sys.modules.get("IPython")
    getter = getattr(module, "get_ipython", None)
    try:
        return getter() if getter else None
    except Exception:  # an IPython half imported, or torn down at exit
        return None
