"""Model versions and the registry: how a model becomes bytes and back, its signature, and the
rules of aliases and promotion. Pure functions over a :class:`~mlops_jupyter.store.db.Store`;
``runtime.log_model``/``load_model`` are the stage-side edges.

**No unpickling unless asked.** A scikit-learn estimator or pipeline is saved with skops, whose
loader builds objects from a JSON schema and refuses every type not named in a trusted list;
the list kept with the version is what ``skops.io.get_untrusted_types`` reported when it was
saved, and the bytes are checked against their content key when read, so what is loaded is
what was saved. numpy arrays are ``.npy`` (``allow_pickle=False``), DataFrames parquet. Anything
else is refused unless the caller passes ``format="pickle"`` (cloudpickle), and loading such a
version warns that it runs code.

**Equal models, one object.** skops names the arrays in its zip by ``id()`` and stamps each
entry with the time, so two saves of one model differ. :func:`_canonical_skops` renumbers the
ids in the order the schema meets them and fixes the timestamps: equal models give equal bytes,
one content key, one object.

**Promotion.** ``NAME@V --to ALIAS`` moves the alias only if the model's run succeeded (so
every check stage of it passed) and every requirement holds: a threshold (``rmse<=0.5``), a
change from the version the alias points to now (``accuracy>=+0.01``), or a relative change
(``accuracy>=+2%``, ``loss<=-5%``). With no version there yet, changes pass (there is nothing
to compare with) and the table says so. Every move, by ``alias`` or ``promote``, is recorded with
who, when, from, to and why; a refused promotion records nothing.
"""

from __future__ import annotations

import io
import math
import re
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import MlopsError, NotFoundError, shown

if TYPE_CHECKING:
    from ..store.db import Store

FORMATS = {"sklearn": "skops", "numpy": "npy", "pandas": "parquet", "pickle": "pickle"}
_NAME = re.compile(r"\A[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}\Z")
_ALIAS = re.compile(r"\A[A-Za-z][A-Za-z0-9_\-]{0,62}\Z")
LATEST = "latest"  # NAME@latest is the newest version, so no alias may be called that
_SKOPS_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can carry


@dataclass(frozen=True)
class ModelVersion:
    """What ``mlops.log_model`` returns. ``version`` is None for a stage on a remote worker:
    the run's process numbers it when it replays the stage's journal."""

    name: str
    version: int | None
    hash: str
    flavor: str
    format: str
    size: int
    run_id: str
    stage: str | None
    signature: dict[str, Any] | None

    def __str__(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else self.name


@dataclass(frozen=True)
class Packed:
    """A model as stored: its bytes and what loading them needs."""

    data: bytes
    flavor: str
    format: str
    loader: dict[str, Any]
    signature: dict[str, Any] | None


# -- names


def check_name(name: Any) -> str:
    """A model name for ``log_model`` (TypeError/ValueError, as the other runtime calls raise)."""
    if not isinstance(name, str):
        raise TypeError(f"a model name is a str, not {type(name).__name__} ({shown(name)}).")
    if not _NAME.match(name):
        raise ValueError(
            f"the model name {shown(name)} is not one mlops takes: use letters, digits, '_', "
            "'-' and '.', starting with a letter or digit (at most 128), for example 'iris'."
        )
    return name


def check_alias(alias: str) -> str:
    if not _ALIAS.match(alias) or alias == LATEST:
        raise MlopsError(
            f"{shown(alias)} cannot be an alias.",
            hint="An alias starts with a letter and has letters, digits, '_' and '-' (at most "
            f"63), for example champion; '{LATEST}' is taken (NAME@{LATEST} is the newest).",
        )
    return alias


def parse_ref(text: str) -> tuple[str, str | None]:
    """``"iris"`` -> ("iris", None); ``"iris@3"``/``"iris@champion"`` -> ("iris", "3"/...)."""
    name, at, selector = text.partition("@")
    if not _NAME.match(name) or (at and not (selector.isdigit() or _ALIAS.match(selector))):
        raise MlopsError(
            f"{shown(text)} does not name a model version.",
            hint="Write NAME (the newest version), NAME@3 (version 3) or NAME@ALIAS.",
        )
    return name, selector if at else None


def resolve(store: Store, ref: str) -> tuple[str, int]:
    """``(name, version)`` of a reference; NotFoundError naming what is there instead."""
    name, selector = parse_ref(ref)
    versions = store.model_version_numbers(name)
    if not versions:
        known = [m["name"] for m in store.model_summaries()]
        raise NotFoundError(
            f"there is no model '{name}'"
            + (f" (models: {', '.join(known[:10])})." if known else " (none is logged yet)."),
            hint="`mlops models` lists them; a stage logs one with mlops.log_model(model, NAME).",
        )
    if selector is None or selector == LATEST:
        return name, versions[-1]
    if selector.isdigit():
        if int(selector) not in versions:
            raise NotFoundError(
                f"model '{name}' has no version {selector} (it has {_spans(versions)}).",
                hint=f"`mlops model show {name}` shows the newest.",
            )
        return name, int(selector)
    version = store.model_alias(name, selector)
    if version is None:
        aliases = sorted(next(m for m in store.model_summaries() if m["name"] == name)["aliases"])
        raise NotFoundError(
            f"model '{name}' has no alias '{selector}'"
            + (f" (its aliases: {', '.join(aliases)})." if aliases else " (it has none yet)."),
            hint=f"Set one with `mlops model alias {name}@{versions[-1]} {selector}` or "
            f"`mlops model promote {name}@{versions[-1]} --to {selector}`.",
        )
    return name, version


def _spans(versions: list[int]) -> str:
    if versions == list(range(versions[0], versions[-1] + 1)) and len(versions) > 2:
        return f"versions {versions[0]}-{versions[-1]}"
    return "version" + ("s " if len(versions) > 1 else " ") + ", ".join(map(str, versions))


# -- serialization


def flavor_of(model: Any) -> str:
    """What kind of object ``model`` is, asking only libraries already imported (an object of
    a library's type means the library is loaded)."""
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(model, numpy.ndarray):
        return "numpy"
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(model, pandas.DataFrame):
        return "pandas"
    base = sys.modules.get("sklearn.base")
    if base is not None and isinstance(model, base.BaseEstimator):
        return "sklearn"
    return "pickle"


def pack(model: Any, *, format: str | None = None, example: Any = None) -> Packed:
    """Serialize ``model`` for the object store (nothing is written here)."""
    flavor = flavor_of(model)
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if format is None:
        if flavor == "pickle":
            raise TypeError(
                f"log_model cannot store a {kind} without pickle: scikit-learn estimators "
                "(skops), numpy arrays (.npy) and pandas DataFrames (parquet) are stored safely. "
                'Pass format="pickle" to store it with cloudpickle; loading it then runs code '
                "it contains, so load only what you trust."
            )
        format = FORMATS[flavor]
    elif format not in FORMATS.values():
        raise ValueError(
            f"format {shown(format)} is not one log_model writes: use one of "
            f"{', '.join(repr(f) for f in sorted(set(FORMATS.values())))} (or leave it out)."
        )
    elif format not in (FORMATS[flavor], "pickle"):
        raise ValueError(
            f"format {format!r} does not fit a {kind}: use {FORMATS[flavor]!r} (the default) "
            "or 'pickle'."
        )
    if format == "skops":
        data, loader = _skops_dumps(model, kind)
    elif format == "npy":
        data, loader = _npy_dumps(model, kind)
    elif format == "parquet":
        data, loader = _parquet_dumps(model, kind)
    else:
        import cloudpickle

        data = cloudpickle.dumps(model)
        loader = {"cloudpickle": cloudpickle.__version__, "python": sys.version.split()[0]}
    return Packed(data, flavor, format, loader, signature(model, example))


def _refused(kind: str, how: str, exc: BaseException) -> TypeError:
    return TypeError(
        f"log_model could not store the {kind} as {how} ({type(exc).__name__}: "
        f'{str(exc)[:200]}). Pass format="pickle" to store it with cloudpickle instead '
        "(loading it then runs code it contains)."
    )


def _skops_dumps(model: Any, kind: str) -> tuple[bytes, dict[str, Any]]:
    try:
        import skops
        import skops.io as sio
    except ImportError:
        raise TypeError(
            "log_model stores scikit-learn models with skops, which is not installed: "
            'pip install "mlops-jupyter[models]" (or skops), or pass format="pickle".'
        ) from None
    import sklearn

    try:
        data = _canonical_skops(sio.dumps(model))
    except Exception as exc:  # a type skops has no rule for
        raise _refused(kind, "skops", exc) from None
    trusted = sorted(sio.get_untrusted_types(data=data))
    return data, {"trusted": trusted, "skops": skops.__version__, "sklearn": sklearn.__version__}


def _canonical_skops(data: bytes) -> bytes:
    """The same skops file with ids numbered in schema order and fixed timestamps: equal models
    give equal bytes (skops itself names arrays by ``id()`` and stamps entries with the time)."""
    import json
    import zipfile

    with zipfile.ZipFile(io.BytesIO(data)) as source:
        members = {info.filename: source.read(info) for info in source.infolist()}
    schema = json.loads(members.pop("schema.json"))
    ids: dict[Any, int] = {}
    files: dict[str, str] = {}

    def renumber(node: Any) -> Any:
        if isinstance(node, list):
            return [renumber(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int):
                value = ids.setdefault(value, len(ids))
            elif key == "file" and isinstance(value, str) and value in members:
                suffix = value[value.rfind(".") :] if "." in value else ""
                value = files.setdefault(value, f"{len(files)}{suffix}")
            else:
                value = renumber(value)
            out[key] = value
        return out

    schema = renumber(schema)
    if set(files) != set(members):  # an entry the schema does not name: keep the original
        return data
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as target:
        for old, new in sorted(files.items(), key=lambda item: int(item[1].split(".")[0])):
            target.writestr(zipfile.ZipInfo(new, date_time=_SKOPS_EPOCH), members[old])
        text = json.dumps(schema, indent=2)
        target.writestr(zipfile.ZipInfo("schema.json", date_time=_SKOPS_EPOCH), text)
    return buffer.getvalue()


def _npy_dumps(array: Any, kind: str) -> tuple[bytes, dict[str, Any]]:
    import numpy

    buffer = io.BytesIO()
    try:
        numpy.save(buffer, array, allow_pickle=False)
    except ValueError as exc:  # an object array would need pickle
        raise _refused(kind, ".npy", exc) from None
    return buffer.getvalue(), {"numpy": numpy.__version__}


def _parquet_dumps(frame: Any, kind: str) -> tuple[bytes, dict[str, Any]]:
    import pandas

    buffer = io.BytesIO()
    try:
        frame.to_parquet(buffer)
    except ImportError as exc:
        raise TypeError(
            f"log_model stores DataFrames as parquet, which needs pyarrow ({exc}): pip install "
            'pyarrow, or pass format="pickle".'
        ) from None
    except (ValueError, TypeError) as exc:  # e.g. column names that are not strings
        raise _refused(kind, "parquet", exc) from None
    return buffer.getvalue(), {"pandas": pandas.__version__}


def unpack(data: bytes, record: dict[str, Any]) -> Any:
    """The model object from its bytes, as its record says they were written."""
    fmt, loader, label = record["format"], record["loader"], f"{record['name']}@{record['version']}"
    if fmt == "skops":
        import skops.io as sio

        trusted = list(loader.get("trusted", []))
        found = sorted(set(sio.get_untrusted_types(data=data)) - set(trusted))
        if found:  # never reached with a whole object: its bytes are checked against its key
            raise MlopsError(
                f"model {label} holds types that were not trusted when it was saved: "
                f"{', '.join(found[:5])}; it was not loaded.",
                hint="Log the model again from the code that trains it.",
            )
        return sio.loads(data, trusted=trusted)
    if fmt == "npy":
        import numpy

        return numpy.load(io.BytesIO(data), allow_pickle=False)
    if fmt == "parquet":
        import pandas

        return pandas.read_parquet(io.BytesIO(data))
    if fmt == "pickle":
        warnings.warn(
            f"model {label} is a pickle (cloudpickle): loading it runs code it contains. "
            "Load only models from people and stores you trust.",
            UserWarning,
            stacklevel=3,
        )
        import cloudpickle

        return cloudpickle.loads(data)
    raise MlopsError(
        f"model {label} is stored as {fmt!r}, which this mlops-jupyter cannot read.",
        hint="Upgrade mlops-jupyter.",
    )


# -- signatures


def describe(value: Any) -> dict[str, Any]:
    """The shape of a value a model takes or returns: columns and dtypes of a table, dtype and
    shape of an array (the first axis is the batch: ``None``, any length)."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(value, pandas.DataFrame):
        return {
            "type": "dataframe",
            "columns": [{"name": str(c), "dtype": str(t)} for c, t in value.dtypes.items()],
        }
    if pandas is not None and isinstance(value, pandas.Series):
        name = None if value.name is None else str(value.name)
        return {"type": "series", "name": name, "dtype": str(value.dtype)}
    numpy = sys.modules.get("numpy")
    if numpy is not None and isinstance(value, numpy.ndarray):
        shape = [None, *value.shape[1:]] if value.ndim else []
        return {"type": "ndarray", "dtype": str(value.dtype), "shape": shape}
    if isinstance(value, (list, tuple)):
        return {"type": type(value).__name__, "length": None}
    return {"type": f"{type(value).__module__}.{type(value).__qualname__}"}


def signature(model: Any, example: Any) -> dict[str, Any] | None:
    """``{"inputs", "outputs"}`` inferred from ``example``; outputs by calling ``predict`` on it
    when the model has one (None when it has not, or when predict failed: said in a warning)."""
    if example is None:
        return None
    outputs = None
    predict = getattr(model, "predict", None)
    if callable(predict):
        try:
            outputs = describe(predict(example))
        except Exception as exc:
            warnings.warn(
                f"log_model: predict on the example failed ({type(exc).__name__}: "
                f"{str(exc)[:200]}); the signature has no outputs.",
                UserWarning,
                stacklevel=3,
            )
    return {"inputs": describe(example), "outputs": outputs}


# -- requirements


@dataclass(frozen=True)
class Requirement:
    """``metric op value``: a threshold (``kind="absolute"``), a change from the baseline
    (``"change"``: ``+0.01``), or a change relative to the baseline's value (``"relative"``:
    ``+2%`` is ``value=0.02``)."""

    text: str
    metric: str
    op: str
    value: float
    kind: str


_REQUIREMENT = re.compile(r"\A\s*(?P<metric>[^<>=]*?)\s*(?P<op>>=|<=|>|<)\s*(?P<value>.*?)\s*\Z")
_VALUE = re.compile(
    r"\A(?:\(\s*(?P<inner>[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*\)"
    r"|(?P<sign>[+-])?(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*(?P<pct>%)?)\Z"
)
_OPS = {
    ">=": lambda a, b, e: a >= b - e,
    ">": lambda a, b, e: a > b + e,
    "<=": lambda a, b, e: a <= b + e,
    "<": lambda a, b, e: a < b - e,
}


def parse_requirement(text: str) -> Requirement:
    """``"rmse<=0.5"``, ``"accuracy>=+0.01"``, ``"accuracy>=+2%"``, ``"score>=(-3)"`` (a
    negative threshold: a bare sign means a change)."""
    found = _REQUIREMENT.match(text)
    value = _VALUE.match(found["value"]) if found else None
    if found is None or value is None or not found["metric"]:
        raise MlopsError(
            f"the requirement {shown(text)} is not one mlops reads.",
            hint="Write METRIC OP VALUE with OP one of >= <= > <: rmse<=0.5 (a threshold), "
            "accuracy>=+0.01 (a change from the version the alias points to), accuracy>=+2% "
            "(a relative change), score>=(-3) (a negative threshold).",
        )
    metric, op = found["metric"], found["op"]
    if value["inner"] is not None:
        return Requirement(text, metric, op, float(value["inner"]), "absolute")
    number = float(value["number"])
    if value["pct"] and not value["sign"]:
        raise MlopsError(
            f"the requirement {shown(text)} gives a percentage without a sign.",
            hint=f"A percentage is a change from the baseline: write {metric}{op}+"
            f"{value['number']}% or {metric}{op}-{value['number']}%.",
        )
    if not value["sign"]:
        return Requirement(text, metric, op, number, "absolute")
    signed = -number if value["sign"] == "-" else number
    if value["pct"]:
        return Requirement(text, metric, op, signed / 100, "relative")
    return Requirement(text, metric, op, signed, "change")


def _holds(left: float, op: str, right: float) -> bool:
    # a bound met exactly must pass whatever the float arithmetic of the baseline plus a change
    # rounds to (0.9 * 1.02 is 0.9180000000000001)
    tolerance = 1e-9 * max(1.0, abs(left), abs(right))
    return bool(_OPS[op](left, right, tolerance))


def _g(value: float) -> str:
    return f"{value:.6g}"


def check_requirement(
    requirement: Requirement,
    candidate: dict[str, float],
    baseline: dict[str, float] | None,
    baseline_label: str | None = None,
) -> dict[str, Any]:
    """One row of the promotion table: ``{"requirement", "metric", "candidate", "baseline",
    "required", "ok", "note"}``; ``baseline`` is None when the alias points nowhere yet."""
    metric, op = requirement.metric, requirement.op
    value = candidate.get(metric)
    base = None if baseline is None else baseline.get(metric)
    row: dict[str, Any] = {
        "requirement": requirement.text,
        "metric": metric,
        "candidate": value,
        "baseline": base,
        "required": "",
        "ok": False,
        "note": "",
    }
    if requirement.kind == "absolute":
        row["required"] = f"{op} {_g(requirement.value)}"
    elif requirement.kind == "change":
        row["required"] = f"{op} baseline {requirement.value:+g}"
    else:
        row["required"] = f"{op} baseline {requirement.value * 100:+g}%"
    if value is None:
        row["note"] = f"the candidate has no metric '{metric}'"
        return row
    if math.isnan(value):
        row["note"] = "the candidate's value is not a number"
        return row
    if requirement.kind == "absolute":
        row["ok"] = _holds(value, op, requirement.value)
        return row
    if baseline is None:
        row["ok"] = True
        row["note"] = "no baseline: the alias points nowhere yet"
        return row
    if base is None:
        label = f" {baseline_label}" if baseline_label else ""
        row["note"] = f"the baseline{label} has no metric '{metric}'"
        return row
    if math.isnan(base):
        row["note"] = "the baseline's value is not a number"
        return row
    if requirement.kind == "change":
        target = base + requirement.value
        row["required"] = f"{op} {_g(target)} (baseline {requirement.value:+g})"
        row["ok"] = _holds(value - base, op, requirement.value)
        return row
    if base == 0:
        row["note"] = "the baseline is 0: a relative change is undefined (state +0.01 instead)"
        return row
    target = base + requirement.value * abs(base)
    row["required"] = f"{op} {_g(target)} (baseline {requirement.value * 100:+g}%)"
    row["ok"] = _holds((value - base) / abs(base), op, requirement.value)
    return row


def run_requirement(record: dict[str, Any]) -> dict[str, Any]:
    """The row every promotion has: the model's run (and its stage) succeeded, so every check
    stage of the run passed. An interactive run counts while it is open (a notebook's run
    lasts as long as its kernel); a run whose record was removed does not."""
    status, stage = record.get("run_status"), record.get("stage_status")
    row: dict[str, Any] = {
        "requirement": "run succeeded",
        "metric": "run",
        "candidate": status,
        "baseline": None,
        "required": "succeeded",
        "ok": False,
        "note": f"run {record['run_id']}",
    }
    if status is None:
        row["candidate"] = "removed"
        row["note"] = f"run {record['run_id']} was removed: its outcome is not known"
    elif record.get("run_origin") == "interactive":
        row["ok"] = status in ("succeeded", "running")
        row["required"] = "succeeded or running (interactive)"
    else:
        row["ok"] = status == "succeeded" and stage in (None, "succeeded", "cached")
        if status == "succeeded":
            row["note"] += " (every check stage passed)"
        elif status == "failed":
            row["note"] += " failed (a stage or a check stage failed)"
    return row


# -- the registry


def who() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no USER and no password entry (some containers)
        return "unknown"


def list_models(store: Store) -> list[dict[str, Any]]:
    """``mlops models --json``: ``[{"name", "versions", "latest", "aliases": {alias: V}}]``."""
    return store.model_summaries()


def show(store: Store, ref: str) -> dict[str, Any]:
    name, version = resolve(store, ref)
    record = store.model_version(name, version)
    assert record is not None  # resolve found it
    return record


def set_alias(store: Store, ref: str, alias: str, reason: str | None = None) -> dict[str, Any]:
    """``mlops model alias NAME@V ALIAS``: point the alias at the version, no questions asked
    (a rollback, a first champion); the move is recorded."""
    check_alias(alias)
    name, version = resolve(store, ref)
    before = store.model_alias(name, alias)
    moved = before != version
    if moved:
        before = store.move_model_alias(
            name, alias, version, how="alias", user=who(), reason=reason
        )
    return {"name": name, "alias": alias, "from": before, "to": version, "moved": moved}


def promote(
    store: Store,
    ref: str,
    alias: str,
    requires: list[str] | tuple[str, ...] = (),
    reason: str | None = None,
) -> dict[str, Any]:
    """``mlops model promote``: ``{"name", "version", "alias", "from", "to", "moved",
    "requirements": [rows]}``. The alias moves only when every row is ok."""
    check_alias(alias)
    requirements = [parse_requirement(text) for text in requires]
    name, version = resolve(store, ref)
    record = store.model_version(name, version)
    assert record is not None
    current = store.model_alias(name, alias)
    result: dict[str, Any] = {
        "name": name,
        "version": version,
        "alias": alias,
        "from": current,
        "to": current,
        "moved": False,
        "already": current == version,
        "requirements": [],
        "reason": reason,
    }
    if current == version:
        return result
    baseline = None if current is None else store.model_version(name, current)
    rows = [run_requirement(record)]
    for requirement in requirements:
        rows.append(
            check_requirement(
                requirement,
                record["metrics"],
                None if baseline is None else baseline["metrics"],
                None if current is None else f"{name}@{current}",
            )
        )
    result["requirements"] = rows
    if all(row["ok"] for row in rows):
        store.move_model_alias(
            name,
            alias,
            version,
            how="promote",
            user=who(),
            reason=reason,
            requirements=rows,
            expected=current,
        )
        result.update(to=version, moved=True)
    return result


def history(store: Store, name: str) -> list[dict[str, Any]]:
    """Every move of the model's aliases, oldest first."""
    resolve(store, name)  # an unknown model is an error, not an empty history
    return store.alias_moves(parse_ref(name)[0])


def load(store: Store, ref: str) -> Any:
    """The model object of a reference (``name``, ``name@3``, ``name@alias``)."""
    from ..store import objects

    record = show(store, ref)
    try:
        data = objects.open_objects(store.objects).get(record["hash"])
    except OSError as exc:
        raise MlopsError(
            f"the bytes of model {record['name']}@{record['version']} cannot be read from "
            f"{store.objects} ({exc}).",
            hint="`mlops doctor` checks the store; log the model again to replace it.",
        ) from None
    return unpack(data, record)
