"""The Jupyter Server extension of mlops-jupyter: an authenticated REST API over ``mlops_jupyter.api``.

Enabled by ``jupyter_server_config.d/mlops_jupyter.json`` (installed with the package). Nothing is
imported until Jupyter Server asks: importing ``mlops_jupyter`` must stay cheap.
"""

from __future__ import annotations

from typing import Any


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .extension import MlopsExtension

    return [{"module": "mlops_jupyter.server", "app": MlopsExtension}]
