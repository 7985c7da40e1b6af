"""The papermill engine ``mlops``: papermill's nbclient engine, fed a kernel from our pool.

Registered under papermill's ``papermill.engine`` entry point, so ``papermill --engine mlops``
exists too; the runner passes ``km=`` (an already started kernel manager).
"""

from __future__ import annotations

from typing import Any

from papermill.clientwrap import PapermillNotebookClient
from papermill.engines import NBClientEngine, papermill_engines
from papermill.exceptions import PapermillExecutionError
from papermill.iorw import write_ipynb
from papermill.utils import merge_kwargs, remove_args


class MlopsEngine(NBClientEngine):
    @classmethod
    def execute_managed_notebook(
        cls,
        nb_man: Any,
        kernel_name: str,
        log_output: bool = False,
        stdout_file: Any = None,
        stderr_file: Any = None,
        start_timeout: int = 60,
        execution_timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        km = kwargs.pop("km", None)
        keep_on_stop = kwargs.pop("keep_on_stop", None)
        if km is None:  # no pool: behave exactly like papermill's own engine
            return super().execute_managed_notebook(
                nb_man,
                kernel_name,
                log_output,
                stdout_file,
                stderr_file,
                start_timeout,
                execution_timeout,
                **kwargs,
            )
        kwargs = remove_args(["input_path", "timeout", "startup_timeout"], **kwargs)
        final = merge_kwargs(
            kwargs,
            timeout=execution_timeout,
            startup_timeout=start_timeout,
            kernel_name=kernel_name,
            log_output=log_output,
            stdout_file=stdout_file,
            stderr_file=stderr_file,
        )
        client = PapermillNotebookClient(nb_man, km=km, **final)
        try:
            return client.execute()
        except Exception as exc:
            # papermill saves the executed notebook after a cell error, but not when a cell times
            # out or the kernel dies; saving after every cell instead costs a validated write
            # per cell. So: save here, once, only when the run stopped that way.
            if keep_on_stop and not isinstance(exc, PapermillExecutionError):
                try:
                    write_ipynb(nb_man.nb, keep_on_stop)
                except Exception:
                    pass
            raise
        finally:
            # nbclient leaves the client open when it does not own the kernel manager
            if client.kc is not None:
                client.kc.stop_channels()


def register() -> None:
    papermill_engines.register("mlops", MlopsEngine)
