"""Stage cache keys: a stage is reused when everything that decides its outputs is unchanged.

key = hash(stage code and setup, the parameter values it reads, the content hashes of its
inputs, local modules it imports, Python and the versions of the packages it imports). Inputs
enter by *content*, so a stage whose upstream reran but produced equal values is still a hit.
A local module's hash (``store.environment.local_module_hashes``) covers, by content, every file
it can import from outside site-packages, transitively, and the package versions those import.

Data a stage reads from files enters too (``with_data``): the files and folders it tracked
(``mlops.track_data``) the last time it ran with this same base key, at their current hashes. A
stage is stored under the data it tracked in that very execution, so the next run finds it again
as long as those files are unchanged, and reruns it when one of them changed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from .plan import StagePlan

KEY_VERSION = 2  # 2: frames travel as pickle (values.encode), inputs by fingerprint


def stage_key(
    stage: StagePlan,
    parameters: Mapping[str, Any],
    inputs: Mapping[str, Mapping[str, Any]],
    environment: Mapping[str, Any],
) -> str:
    top = {name.split(".")[0] for name in stage.imports}
    content = {
        "v": KEY_VERSION,
        "stage": stage.name,
        "code": stage.code_hash,
        "outputs": list(stage.outputs),
        "metrics": list(stage.metrics),
        "parameters": {name: parameters[name] for name in stage.parameters},
        # by content: equal values share a fingerprint in any process (a set's pickle does not)
        "inputs": {
            name: ref.get("fingerprint") or [ref["hash"], ref["format"]]
            for name, ref in sorted(inputs.items())
        },
        "python": environment.get("python"),
        "kernel": environment.get("kernel"),
        # the same code in another project folder reads other files: not the same result
        "workdir": environment.get("workdir"),
        "packages": {n: v for n, v in environment.get("packages", {}).items() if n in top},
        "local": {n: h for n, h in environment.get("local_modules", {}).items() if n in top},
    }
    blob = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def with_data(base: str, data: Mapping[str, str]) -> str:
    """The full key: ``base`` plus ``{path: content hash}`` of tracked data (``base`` itself when
    the stage tracks nothing, so keys of stages that track no data are as before)."""
    if not data:
        return base
    blob = json.dumps({"base": base, "data": sorted(data.items())}, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()
