"""mlops-jupyter: a tagged notebook in, a versioned, cached and recorded pipeline out.

Importing this package stays cheap on purpose: the CLI, the magics and every stage kernel
import it, and nothing here may pull in jupyter, papermill, nbformat, sqlite3 or pandas. The
runtime API (``mlops.log_metric`` ...) is reached through module ``__getattr__``: the module
behind a name is imported on its first use.
"""

from __future__ import annotations

from ._version import __version__

TYPE_CHECKING = False  # typing itself costs ~5-10 ms to import: only type checkers read it
if TYPE_CHECKING:  # the real signatures, for type checkers and editors
    from typing import Any

    from .ipython.widgets import show_data as show_data
    from .ipython.widgets import show_metrics as show_metrics
    from .ipython.widgets import show_models as show_models
    from .ipython.widgets import show_monitor as show_monitor
    from .ipython.widgets import show_run as show_run
    from .tracking.checks import DataCheckFailed as DataCheckFailed
    from .tracking.datasets import DataVersion as DataVersion
    from .tracking.drift import drift as drift
    from .tracking.models import ModelVersion as ModelVersion
    from .tracking.require import CheckFailed as CheckFailed
    from .tracking.require import require as require
    from .tracking.runtime import check_data as check_data
    from .tracking.runtime import end_run as end_run
    from .tracking.runtime import flush as flush
    from .tracking.runtime import load_model as load_model
    from .tracking.runtime import log_artifact as log_artifact
    from .tracking.runtime import log_metric as log_metric
    from .tracking.runtime import log_metrics as log_metrics
    from .tracking.runtime import log_model as log_model
    from .tracking.runtime import log_param as log_param
    from .tracking.runtime import start_run as start_run
    from .tracking.runtime import track_data as track_data


# public name -> submodule that defines it (imported on first access)
_LAZY = {
    "log_metric": "tracking.runtime",
    "log_metrics": "tracking.runtime",
    "log_param": "tracking.runtime",
    "log_artifact": "tracking.runtime",
    "track_data": "tracking.runtime",
    "flush": "tracking.runtime",
    "end_run": "tracking.runtime",
    "start_run": "tracking.runtime",
    "log_model": "tracking.runtime",
    "load_model": "tracking.runtime",
    "ModelVersion": "tracking.models",
    "check_data": "tracking.runtime",
    "DataCheckFailed": "tracking.checks",
    "drift": "tracking.drift",
    "DataVersion": "tracking.datasets",
    "require": "tracking.require",
    "CheckFailed": "tracking.require",
    "show_run": "ipython.widgets",  # the inline views need ipywidgets (installed with the package)
    "show_metrics": "ipython.widgets",
    "show_data": "ipython.widgets",
    "show_models": "ipython.widgets",
    "show_monitor": "ipython.widgets",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'mlops_jupyter' has no attribute {name!r}")
    # __import__, not importlib.import_module: `import mlops_jupyter` must not import importlib
    value = getattr(__import__(f"{__name__}.{module}", fromlist=[name]), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext mlops_jupyter``: the ``%mlops`` magics (IPython is already imported there)."""
    from .ipython.magics import load

    load(ipython)


def unload_ipython_extension(ipython: Any) -> None:
    from .ipython.magics import unload

    unload(ipython)
