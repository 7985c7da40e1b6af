"""What a stage kernel imports to receive its inputs and hand on its outputs.

Kept light on purpose (stdlib at import; numpy, pandas or cloudpickle only for a value that
needs them): every stage kernel pays for importing this module.

A value travels as an object in the content-addressed store, encoded by type: modules by name,
numpy arrays as ``.npy`` (memory order kept), anything else — pandas frames included — as pickle
protocol 5, or cloudpickle for what plain pickle cannot carry (functions, classes and objects
defined in the notebook itself). Frames are not Parquet: Parquet rebuilds a frame's blocks in
another memory layout, and a model fitted on it then differs from the notebook's in the last bits
(summation order); pickle gives the next stage the very frame the notebook would have.
(``decode`` still reads ``parquet`` objects stored by earlier versions.)
"""

from __future__ import annotations

import importlib
import io
import json
import os
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


# -- fingerprints: content hashes that equal values share in every process

FINGERPRINT_VERSION = "f2"  # changes whenever fingerprint() would hash a value differently
_SCALARS = (int, float, bool, complex, type(None))
_MAX_DEPTH = 40


def fingerprint(value: Any) -> str:
    """A content hash of ``value`` that does not depend on the process that computed it.

    The object store hashes a value's serialized bytes, which can differ for equal values: a
    ``set`` of strings pickles in an order that changes with each process's hash seed. Here sets
    are taken as their sorted elements' fingerprints, containers element by element, numpy
    arrays and pandas frames by their data (dtypes and shape included), anything else by its
    pickled form. Used to tell whether a stage changed a value it loaded, and by ``mlops verify``
    to compare a pipeline's values with the notebook's.
    """
    import blake3

    hasher = blake3.blake3()
    _feed(hasher, value, 0)
    return f"{FINGERPRINT_VERSION}:{hasher.hexdigest()}"


def _tagged(hasher: Any, tag: str, data: bytes) -> None:
    hasher.update(f"{tag}:{len(data)}:".encode())
    hasher.update(data)


def _feed(hasher: Any, value: Any, depth: int) -> None:
    kind = type(value)
    if kind in _SCALARS:
        _tagged(hasher, kind.__name__, repr(value).encode())
    elif kind is str:
        _tagged(hasher, "str", value.encode("utf-8", "surrogatepass"))
    elif kind in (bytes, bytearray):
        _tagged(hasher, kind.__name__, bytes(value))
    elif depth > _MAX_DEPTH:
        _tagged(hasher, "deep", _pickled(value))
    elif kind in (list, tuple):
        if len(value) > 64 and all(type(v) in _SCALARS or type(v) is str for v in value):
            # no sets inside: pickle's bytes are canonical, and far faster than a walk
            _tagged(hasher, f"{kind.__name__}*", pickle.dumps(value, protocol=5))
            return
        _tagged(hasher, kind.__name__, str(len(value)).encode())
        for item in value:
            _feed(hasher, item, depth + 1)
    elif kind is dict:
        _tagged(hasher, "dict", str(len(value)).encode())
        for key, item in value.items():
            _feed(hasher, key, depth + 1)
            _feed(hasher, item, depth + 1)
    elif kind in (set, frozenset):
        parts = sorted(fingerprint(item) for item in value)
        _tagged(hasher, kind.__name__, ",".join(parts).encode())
    elif isinstance(value, types.ModuleType):
        _tagged(hasher, "module", value.__name__.encode())
    elif kind.__module__ == "numpy" and kind.__name__ == "ndarray" and not value.dtype.hasobject:
        import numpy as np

        _tagged(hasher, "ndarray", f"{value.dtype.str}{value.shape}".encode())
        hasher.update(_bytes_view(np.ascontiguousarray(value)))
    elif kind.__module__ == "numpy" and kind.__name__ == "ndarray":  # of Python objects
        _tagged(hasher, "ndarray-objects", f"{value.shape}".encode())
        _feed(hasher, value.ravel().tolist(), depth + 1)
    elif kind.__module__ == "numpy" and getattr(value, "shape", None) == ():  # np.float64(1)...
        _tagged(hasher, f"numpy.{kind.__name__}", repr(value.item()).encode())
    elif kind.__module__.startswith("pandas") and kind.__name__ in ("DataFrame", "Series"):
        _feed_pandas(hasher, value, depth)
    else:
        state = _plain_state(value)
        name = f"{kind.__module__}.{kind.__qualname__}"
        if state is None:
            _tagged(hasher, name, _pickled(value))
        else:
            # an estimator's pickle differs with its arrays' memory layout; its state does not
            _tagged(hasher, f"state:{name}", b"")
            _feed(hasher, state, depth + 1)


def _feed_pandas(hasher: Any, value: Any, depth: int) -> None:
    """A frame column by column: a column of a numpy dtype by its raw data (BLAKE3 runs at
    memory speed, ~5x ``hash_pandas_object``), any other by pandas' own canonical row hashes.
    Column by column, so two equal frames whose blocks are laid out differently agree."""
    import pandas as pd

    frame = value.to_frame() if value.__class__.__name__ == "Series" else value
    _tagged(hasher, type(value).__name__, repr(list(frame.dtypes.astype(str))).encode())
    _feed(hasher, [str(c) for c in frame.columns], depth + 1)
    _feed(hasher, getattr(value, "name", None), depth + 1)
    _feed(hasher, [str(n) for n in frame.index.names], depth + 1)
    try:
        _feed_pandas_data(hasher, frame, pd)
    except TypeError:  # unhashable cells (lists, dicts): their pickled form
        _tagged(hasher, "pandas-pickled", _pickled(value))


def _feed_pandas_data(hasher: Any, frame: Any, pd: Any) -> None:
    import numpy as np

    index = frame.index
    if type(index) is pd.RangeIndex:
        _tagged(hasher, "range", f"{index.start}:{index.stop}:{index.step}".encode())
    else:
        _feed_column(hasher, index, pd, np)
    for position in range(frame.shape[1]):  # by position: column names may repeat
        _feed_column(hasher, frame.iloc[:, position], pd, np)


def _feed_column(hasher: Any, column: Any, pd: Any, np: Any) -> None:
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and not dtype.hasobject and type(column) is not pd.MultiIndex:
        data = np.ascontiguousarray(column.to_numpy())
        _tagged(hasher, "column", f"{dtype.str}{data.shape}".encode())
        hasher.update(_bytes_view(data))
    else:
        rows = pd.util.hash_pandas_object(column, index=False).to_numpy()
        _tagged(hasher, "hashed-column", str(len(rows)).encode())
        hasher.update(_bytes_view(rows))


def _plain_state(value: Any) -> Any:
    """The state pickle would save for an instance of an ordinary class (one that leaves
    ``__reduce_ex__`` to ``object``), or None for anything that pickles its own way."""
    kind = type(value)
    if kind.__reduce_ex__ is not object.__reduce_ex__ or kind.__reduce__ is not object.__reduce__:
        return None
    getstate = getattr(value, "__getstate__", None)
    try:
        state = getstate() if getstate is not None else vars(value)
    except Exception:
        return None
    return state if isinstance(state, (dict, tuple)) else None


def _bytes_view(array: Any) -> memoryview:
    """A contiguous array's memory as bytes, without a copy (blake3 takes only byte buffers)."""
    view: memoryview = array.data
    return view.cast("B") if view.ndim else memoryview(array.tobytes())


def _pickled(value: Any) -> bytes:
    try:
        data = pickle.dumps(value, protocol=5)
        if b"__main__" not in data:
            return data
    except Exception:
        pass
    try:
        import cloudpickle

        return bytes(cloudpickle.dumps(value, protocol=5))
    except Exception:  # cannot be serialized: only its identity is known
        return f"unpicklable:{type(value).__qualname__}:{id(value)}".encode()


def _enter(ctx: Mapping[str, Any]) -> None:
    """``mlops.log_metric`` and friends in this stage now write into this run and stage; the
    files it opens from here on are recorded (see ``_audit``)."""
    from .tracking import runtime as tracking

    tracking.enter_stage(ctx)
    _watch_files(ctx)


# -- files the stage opens: reads join its cache key, writes are kept and restored on a hit.
# An audit hook (PEP 578) sees every ``open`` from Python code and from libraries that open
# through Python (pandas' CSV reader, numpy, pickle, json...); C++ readers that open files
# themselves (pyarrow's Parquet/Feather/ORC on a path) are not seen: ``mlops.track_data`` is the
# explicit way for them.

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND
_root = ""  # the working folder, ending in "/": only files below it are recorded
_skip: tuple[str, ...] = ()  # prefixes below it that never count (the store, a venv...)
_reads: dict[str, None] | None = None  # None: not recording (no run context, or saved already)
_writes: dict[str, None] = {}
_hooked = False


def _watch_files(ctx: Mapping[str, Any]) -> None:
    global _root, _skip, _reads, _hooked
    if _reads is not None:
        return  # start, then load_inputs: one stage, one record
    root = os.path.join(os.path.realpath(ctx.get("workdir") or os.getcwd()), "")
    skip = set()
    import sysconfig
    import tempfile

    places = [ctx.get("home"), ctx.get("objects"), sys.prefix, sys.base_prefix, sys.exec_prefix]
    places += [p for p in sysconfig.get_paths().values()]
    temp = os.path.realpath(tempfile.gettempdir())
    if not root.startswith(os.path.join(temp, "")):  # a project under /tmp is still a project
        places.append(temp)
    for place in places:
        if place:
            for form in {os.path.abspath(place), os.path.realpath(place)}:
                skip.add(os.path.join(form, ""))
    _root, _skip = root, tuple(sorted(skip))
    _writes.clear()
    _reads = {}
    if not _hooked:
        sys.addaudithook(_audit)
        _hooked = True


def _audit(event: str, args: tuple[Any, ...]) -> None:
    """Runs on every audited event in this process: bail out fast."""
    if _reads is None or (event != "open" and event != "os.rename"):
        return
    if event == "os.rename":  # write_atomic's temp file -> its real name
        source, target = _place(args[0]), _place(args[1])
        if source is not None and source in _writes and target is not None:
            _writes[target] = None
        return
    path = _place(args[0])
    if path is None:
        return
    mode, flags = args[1], args[2]
    if mode is None:  # os.open: only flags
        write = bool(flags & _WRITE_FLAGS)
    else:
        write = "w" in mode or "a" in mode or "x" in mode or "+" in mode
    if write:
        _writes[path] = None
    elif path not in _writes:  # a file the stage wrote first is its output, not an input
        _reads[path] = None


def _place(path: Any) -> str | None:
    """The absolute path of an opened file if it is one to record, else None."""
    if type(path) is not str:
        if isinstance(path, int):
            return None  # an open file descriptor
        try:
            path = os.fsdecode(path)
        except TypeError:
            return None
    if not path.startswith("/"):
        path = os.path.join(os.getcwd(), path)
    path = os.path.normpath(path)
    if not path.startswith(_root) or path.startswith(_skip):
        return None
    folder = path[len(_root) - 1 : path.rfind("/") + 1]  # "/a/b/" of "<root>/a/b/f.csv"
    if "/." in folder or "/__pycache__/" in folder:  # .git, .ipynb_checkpoints, bytecode...
        return None
    return str(path)


def _files(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """``{"read": {path: blake3}, "written": {path: {"hash", "object", "size"}}}`` of what this
    stage opened. A file it read and then wrote (appended to, rewrote) reads ``rewritten``: no
    hash matches that, so such a stage never comes from the cache (running it again would see
    its own output)."""
    global _reads
    reads, writes = _reads or {}, dict(_writes)
    _reads = None  # stop recording: what follows is this function's own reading
    from .store.hashing import hash_file

    read: dict[str, str] = {}
    for path in reads:
        if path in writes:
            read[path] = "rewritten"
        elif os.path.isfile(path):
            try:
                read[path] = hash_file(path)
            except OSError:
                pass
    written: dict[str, Any] = {}
    for path in writes:
        if os.path.isfile(path):  # not a temp file renamed or removed since, not a folder
            key, size = _objects(ctx).put_file(path)
            mode = os.stat(path).st_mode & 0o7777  # a restored copy gets the same permissions
            written[path] = {"hash": hash_file(path), "object": key, "size": size, "mode": mode}
    found: dict[str, Any] = {}
    if read:
        found["read"] = read
    if written:
        found["written"] = written
    return found


_stores: dict[str, objects.ObjectStore] = {}


def _objects(ctx: Mapping[str, Any]) -> objects.ObjectStore:
    """The run's object store (``ctx["objects"]``), opened once per kernel."""
    location = str(ctx["objects"])
    if location not in _stores:
        _stores[location] = objects.open_objects(location)
    return _stores[location]


def start(ctx: Mapping[str, Any] | None) -> None:
    """Check the context at the top of a stage that has no inputs."""
    _enter(_require(ctx))


# Inputs this kernel loaded that a later stage reads too: {name: fingerprint when loaded}. A
# stage may change such a value in place (`for d in [train, test]: d["age"] = ...`, a helper
# that adds a column, `rng.shuffle(x)`) where the compiler sees no assignment; save_outputs
# compares, and hands on a changed value so later stages see what the notebook would show them.
_watched: dict[str, str] = {}


def load_inputs(ctx: Mapping[str, Any] | None, names: Iterable[str]) -> tuple[Any, ...]:
    ctx = _require(ctx)
    _enter(ctx)
    watch = set(ctx.get("watch", ()))
    found = []
    for name in names:
        ref = ctx["inputs"][name]
        value = decode(_objects(ctx).get(ref["hash"]), ref["format"])
        if name in watch:
            known = ref.get("fingerprint")
            fresh = isinstance(known, str) and known.startswith(FINGERPRINT_VERSION + ":")
            _watched[name] = known if fresh else fingerprint(value)
        found.append(value)
    return tuple(found)


def _origin(ctx: Mapping[str, Any], name: str) -> str:
    """`` It is assigned in model.ipynb cell 4 (id ab12), line 2.`` from the compiler's record."""
    where = ctx.get("origins", {}).get(name)
    if not where:
        return ""
    cell = f"cell {where['cell']}" + (f" (id {where['id']})" if where.get("id") else "")
    return f" It is assigned in {ctx.get('notebook', 'the notebook')} {cell}, line {where['line']}."


def _save(
    ctx: Mapping[str, Any], name: str, value: Any, users: str, known: str | None = None
) -> dict[str, Any]:
    """Store one value for later stages: its object reference, with its fingerprint."""
    try:
        data, fmt = encode(value)
    except Exception as exc:
        raise ValueTransferError(
            f"stage '{ctx['stage']}' cannot pass '{name}' (a {_type_name(value)}) to {users}: "
            f"{exc}.{_origin(ctx, name)} "
            f"Turn it into plain data (a list, array or frame), or compute '{name}' in the stage that uses it."
        ) from None
    return {
        "hash": _objects(ctx).put(data),
        "format": fmt,
        "type": _type_name(value),
        "size": len(data),
        "fingerprint": known or fingerprint(value),
    }


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
        outputs[name] = _save(ctx, name, namespace[name], users)
    changed = {}
    for name, before in _watched.items():
        if name in outputs or name not in namespace:
            continue
        value = namespace[name]
        now = fingerprint(value)
        if now != before:  # changed in place: later stages must see the new value
            changed[name] = _save(ctx, name, value, "a later stage", now)
    recorded = {name: _metric(stage, name, namespace.get(name)) for name in metrics}
    tracking = sys.modules.get("mlops_jupyter.tracking.runtime")
    if tracking is not None:  # logged values are durable before the runner sees the stage end
        tracking.flush()
    manifest: dict[str, Any] = {"stage": stage, "outputs": outputs, "metrics": recorded}
    if changed:
        manifest["changed"] = changed
    files = _files(ctx)
    if files:
        manifest["files"] = files
    write_atomic(ctx["manifest"], json.dumps(manifest, sort_keys=True))
    return manifest


# -- the reference run of ``mlops verify`` (the whole notebook in one kernel)

_probes: dict[str, dict[str, Any]] = {}


def verify_probe(
    namespace: Mapping[str, Any], stage: str, names: Iterable[str], metrics: Iterable[str]
) -> None:
    """At the end of ``stage``'s last cell: fingerprints of what it hands on, its metrics."""
    found: dict[str, Any] = {}
    for name in names:
        found[name] = fingerprint(namespace[name]) if name in namespace else None
    recorded: dict[str, float | None] = {}
    for name in metrics:
        try:
            recorded[name] = float(namespace[name])
        except (KeyError, TypeError, ValueError):
            recorded[name] = None
    _probes[stage] = {"values": found, "metrics": recorded}


def verify_start(workdir: str, home: str) -> None:
    """First cell of the reference run: record the files it writes, as a stage would."""
    _watch_files({"workdir": workdir, "home": home})


def verify_report(path: str) -> None:
    """Last cell of the reference run: the probes, and the content hash of each file written."""
    global _reads
    tracking = sys.modules.get("mlops_jupyter.tracking.runtime")
    if tracking is not None:
        tracking.flush()
    _reads = None  # stop recording: hashing reads the files
    from .store.hashing import hash_file

    written = {p: hash_file(p) for p in _writes if os.path.isfile(p)}
    write_atomic(path, json.dumps({"stages": _probes, "files": written}, default=str))
