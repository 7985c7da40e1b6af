"""What a stage kernel imports to receive its inputs and hand on its outputs.

Kept light on purpose (stdlib at import; numpy, pandas or cloudpickle only for a value that
needs them): every stage kernel pays for importing this module.

A value travels as an object in the content-addressed store, encoded by type: modules by name,
numpy arrays as ``.npy``, pandas frames as parquet (when pyarrow is there), anything else as
pickle protocol 5, or cloudpickle for what plain pickle cannot carry (functions, classes and
objects defined in the notebook itself).
"""

from __future__ import annotations

import importlib
import io
import json
import pickle
import sys
import types
from collections.abc import Iterable, Mapping
from typing import Any

from .files import write_atomic
from .store import objects


class ValueTransferError(Exception):
    """A value a later stage needs cannot be passed on (say, a generator or an open socket)."""


class ContextError(RuntimeError):
    """The stage notebook ran without a run context: it must be run by ``mlops run``."""


def _require(ctx: Mapping[str, Any] | None) -> Mapping[str, Any]:
    if not ctx:
        raise ContextError(
            "This compiled stage notebook is run by `mlops run` (or the compiled pipeline.py), "
            "which passes it its inputs; run the pipeline instead of this notebook."
        )
    return ctx


def _type_name(value: Any) -> str:
    kind = type(value)
    return (
        kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__qualname__}"
    )


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


def encode(value: Any) -> tuple[bytes, str]:
    """Bytes and format name for a value; raises ``TypeError`` or ``pickle`` errors if impossible."""
    if isinstance(value, types.ModuleType):
        return value.__name__.encode(), "module"
    kind = type(value)
    module = kind.__module__
    if module == "numpy" and kind.__name__ == "ndarray" and not value.dtype.hasobject:
        import numpy as np

        buffer = io.BytesIO()
        np.save(buffer, value, allow_pickle=False)
        return buffer.getvalue(), "npy"
    if module.startswith("pandas") and kind.__name__ == "DataFrame" and _has_module("pyarrow"):
        buffer = io.BytesIO()
        try:
            value.to_parquet(buffer)
            return buffer.getvalue(), "parquet"
        except Exception:  # mixed-type object columns, non-string labels: pickle keeps them
            pass
    try:
        data = pickle.dumps(value, protocol=5)
        # ``__main__`` references would not resolve in the next stage's kernel
        if b"__main__" not in data:
            return data, "pickle"
    except Exception:
        pass
    import cloudpickle

    return cloudpickle.dumps(value, protocol=5), "cloudpickle"


def decode(data: bytes, fmt: str) -> Any:
    if fmt == "module":
        return importlib.import_module(data.decode())
    if fmt == "npy":
        import numpy as np

        return np.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "parquet":
        import pandas as pd

        return pd.read_parquet(io.BytesIO(data))
    if fmt in ("pickle", "cloudpickle"):
        return pickle.loads(data)
    raise ValueError(f"unknown value format {fmt!r}")


def _enter(ctx: Mapping[str, Any]) -> None:
    """``mlops.log_metric`` and friends in this stage now write into this run and stage."""
    from .tracking import runtime as tracking

    tracking.enter_stage(ctx)


def start(ctx: Mapping[str, Any] | None) -> None:
    """Check the context at the top of a stage that has no inputs."""
    _enter(_require(ctx))


def load_inputs(ctx: Mapping[str, Any] | None, names: Iterable[str]) -> tuple[Any, ...]:
    ctx = _require(ctx)
    _enter(ctx)
    found = []
    for name in names:
        ref = ctx["inputs"][name]
        found.append(decode(objects.get(ctx["objects"], ref["hash"]), ref["format"]))
    return tuple(found)


def _origin(ctx: Mapping[str, Any], name: str) -> str:
    """`` It is assigned in model.ipynb cell 4 (id ab12), line 2.`` from the compiler's record."""
    where = ctx.get("origins", {}).get(name)
    if not where:
        return ""
    cell = f"cell {where['cell']}" + (f" (id {where['id']})" if where.get("id") else "")
    return f" It is assigned in {ctx.get('notebook', 'the notebook')} {cell}, line {where['line']}."


def _metric(stage: str, name: str, value: Any) -> float:
    """One NaN policy with ``mlops.log_metric``: any real number, NaN and infinities included
    (a diverging loss is a result worth keeping), stored as it is."""
    from .tracking.runtime import real_number

    try:
        return real_number(name, value)
    except TypeError:
        raise ValueTransferError(
            f"metric '{name}' of stage '{stage}' is a {_type_name(value)}, not a number."
        ) from None


def save_outputs(
    ctx: Mapping[str, Any] | None,
    namespace: Mapping[str, Any],
    names: Iterable[str],
    metrics: Iterable[str] = (),
) -> dict[str, Any]:
    """Store the named values for later stages and write this stage's output manifest."""
    ctx = _require(ctx)
    stage = ctx["stage"]
    consumers: Mapping[str, list[str]] = ctx.get("consumers", {})
    outputs: dict[str, Any] = {}
    for name in names:
        users = ", ".join(f"'{s}'" for s in consumers.get(name, [])) or "a later stage"
        if name not in namespace:
            raise ValueTransferError(
                f"stage '{stage}' ends without a value for '{name}', which {users} reads. "
                "Assign it on every path through the stage (it may be set only inside an if/try)."
            )
        value = namespace[name]
        try:
            data, fmt = encode(value)
        except Exception as exc:
            raise ValueTransferError(
                f"stage '{stage}' cannot pass '{name}' (a {_type_name(value)}) to {users}: "
                f"{exc}.{_origin(ctx, name)} "
                f"Turn it into plain data (a list, array or frame), or compute '{name}' in the stage that uses it."
            ) from None
        outputs[name] = {
            "hash": objects.put(ctx["objects"], data),
            "format": fmt,
            "type": _type_name(value),
            "size": len(data),
        }
    recorded = {name: _metric(stage, name, namespace.get(name)) for name in metrics}
    tracking = sys.modules.get("mlops_jupyter.tracking.runtime")
    if tracking is not None:  # logged values are durable before the runner sees the stage end
        tracking.flush()
    manifest = {"stage": stage, "outputs": outputs, "metrics": recorded}
    write_atomic(ctx["manifest"], json.dumps(manifest, sort_keys=True))
    return manifest
