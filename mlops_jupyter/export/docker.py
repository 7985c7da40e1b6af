"""``mlops export docker``: a build context whose image runs the pipeline (the KFP export's image).

``DIR/Dockerfile``, ``DIR/requirements.txt`` (pinned), ``DIR/pipeline/`` (the compiled folder,
byte for byte) and ``DIR/wheels/`` (a wheel of mlops-jupyter itself). The image's entry point is
``python -m mlops_jupyter run /pipeline``, so ``docker run IMAGE -p n=5`` runs the pipeline and
``--stages NAME`` one stage of it (what a KFP task does); the store is ``MLOPS_HOME=/mlops``, a
volume.

Pins come from the environment the pipeline's last run recorded (the distributions behind the
stages' imports, and its Python's major.minor for the base image); for a pipeline that never ran,
from this process, as are the runtime's own (papermill, ipykernel). mlops-jupyter is not on PyPI
yet, so the export builds a wheel of the installed package's source tree (``pip wheel --no-deps``,
build hooks off: a container needs no JupyterLab extension) into ``DIR/wheels/``, where the
Dockerfile's ``pip install --find-links`` finds it; the same Dockerfile installs the published
package once there is one and the folder is empty. Wheels are kept in the store's cache by a hash
of the source, so exporting again costs a copy, not a build.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._version import __version__
from ..errors import MlopsError
from ..files import write_atomic
from . import MARKER, ExportResult, check_generated, write_generated

if TYPE_CHECKING:
    from ..runner.plan import Plan

STORE = "/mlops"  # MLOPS_HOME in the image: mount a volume here to keep runs and the cache
PIPELINE = "/pipeline"
WORKDIR = "/work"  # the stages' working folder (the notebook's folder is not in the image)
DIST = "mlops-jupyter"
RUNTIME = ("papermill", "ipykernel")  # what runs a stage, besides mlops-jupyter itself
WHEEL_TIMEOUT_S = 900

# A requirements line is pip input: anything but NAME==VERSION (an option such as --index-url,
# a URL, an environment marker) is left out rather than written.
_PIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?==[A-Za-z0-9][A-Za-z0-9.+!_-]*\Z")
_KERNEL = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")  # jupyter_client's kernel name rule
_HASH = re.compile(r"[0-9a-f]{24}")  # a cached wheel's folder: the source hash


def image_name(plan: Plan) -> str:
    """``mlops-<pipeline>:<version>``: the tag the notes tell to build, and the KFP default."""
    repo = re.sub(r"[^a-z0-9._-]+", "-", plan.name.lower()).strip("._-") or "pipeline"
    tag = re.sub(r"[^A-Za-z0-9._-]+", "-", plan.version).lstrip(".-")[:128] or "latest"
    return f"mlops-{repo}:{tag}"


def export(plan: Plan, output: Path, options: dict[str, Any]) -> ExportResult:
    """Write the build context into ``output``; ``options``: ``force`` (replace files there that
    mlops export did not write; a folder of someone else's is written over, never emptied)."""
    force = bool(options.get("force"))
    if output.exists() and not output.is_dir():
        raise MlopsError(
            f"{output} is a file; mlops export docker writes a folder (a Docker build context).",
            hint="Give a folder: -o DIR.",
        )
    recorded, run_id = last_environment(plan)
    python = _python_minor(recorded)
    pins, skipped = requirements(plan, recorded)
    kernel = plan.kernel_name if _KERNEL.match(plan.kernel_name) else "python3"
    texts = {
        output / "Dockerfile": dockerfile(plan, python, kernel),
        output / "requirements.txt": _requirements_text(plan, pins, run_id),
        output / "wheels" / "README.txt": _wheels_readme(),
    }
    # refuse before writing anything: a half-written context is worse than none
    for path in texts:
        check_generated(path, force=force)
    copy = output / "pipeline"
    copied = _compiled_files(plan.folder)
    old = _previous_copy(copy, force)

    from ..home import find_home

    wheel, wheel_note = _wheel(find_home(plan.workdir))
    written = [write_generated(path, text, force=force) for path, text in texts.items()]
    for name in old - set(copied):  # files of the last copy this one does not have
        (copy / name).unlink(missing_ok=True)
    for name in copied:
        write_atomic(copy / name, (plan.folder / name).read_bytes())
        _readable(copy / name)
        written.append(copy / name)
    written += _copy_wheel(wheel, output / "wheels")

    image = image_name(plan)
    notes = [
        f"Build the image: docker build -t {image} {output}",
        f"Run the pipeline: docker run --rm -v mlops-store:{STORE} {image} [-p NAME=VALUE ...] "
        f"(one stage: --stages NAME). Runs, values and the cache live in {STORE} (MLOPS_HOME): "
        "mount a volume there to keep them between containers.",
        f"For Kubeflow Pipelines, push it where the cluster pulls from (docker tag {image} "
        f"REGISTRY/{image} && docker push REGISTRY/{image}) and export with "
        f"--image REGISTRY/{image}.",
        f"The stages run in {WORKDIR}: files the notebook reads beside it (data, configs) are "
        f"not in the image; COPY them into {WORKDIR} or mount them there.",
    ]
    if wheel_note:
        notes.append(wheel_note)
    local = sorted((recorded or {}).get("local_modules") or _local_modules(plan))
    if local:
        notes.append(
            "The stages import modules from the notebook's folder that are not installed "
            f"packages ({', '.join(local)}); add them to the image (COPY them into {WORKDIR})."
        )
    notes += _skipped_note(skipped)
    notes.append(
        f"Pinned from the environment run {run_id} recorded."
        if run_id
        else "The pipeline has not run yet: versions are this environment's."
    )
    return ExportResult("docker", output, written, notes)


# -- what to pin


def last_environment(plan: Plan) -> tuple[dict[str, Any] | None, str | None]:
    """The environment recorded by this pipeline's latest run (one of this very version when
    there is one), and that run's id; ``(None, None)`` when it never ran. Never creates a store."""
    from ..home import find_home
    from ..store.db import Store

    home = find_home(plan.workdir)
    if not (home / "mlops.db").is_file():
        return None, None
    with Store(home) as store:
        run_id = store.latest_run_id(plan.name, plan.version)
        if run_id is None:
            return None, None
        run = store.get_run(run_id)
    environment = run.get("environment") or {}
    return (environment, str(run["run_id"])) if environment else (None, None)


def _python_minor(recorded: dict[str, Any] | None) -> str:
    found = re.search(r"(\d+)\.(\d+)", str((recorded or {}).get("python") or ""))
    if found:
        return f"{found.group(1)}.{found.group(2)}"
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def _stage_imports(plan: Plan) -> list[str]:
    return sorted({name.split(".")[0] for stage in plan.stages for name in stage.imports})


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirements(plan: Plan, recorded: dict[str, Any] | None) -> tuple[list[str], list[str]]:
    """(``NAME==VERSION`` lines sorted by name, pins that cannot be written as such). The stages'
    imports are pinned as the run recorded them, else as installed here; papermill and ipykernel
    as installed here (a run does not record them); mlops-jupyter comes from ``wheels/``."""
    from importlib.metadata import PackageNotFoundError, version

    from ..store.environment import package_versions

    imports = _stage_imports(plan)
    packages = dict((recorded or {}).get("packages") or {})
    missing = [name for name in imports if name not in packages]
    if missing:
        packages.update(package_versions(missing))
    for dist in RUNTIME:
        try:
            packages[dist] = f"{dist}=={version(dist)}"
        except PackageNotFoundError:
            continue
    by_name: dict[str, str] = {}
    skipped: list[str] = []
    for label in packages.values():
        label = str(label)
        dist = label.partition("==")[0]
        if _normalize(dist) == DIST:
            continue
        if _PIN.match(label):
            by_name.setdefault(_normalize(dist), label)
        elif label not in skipped:
            skipped.append(label)
    return [by_name[name] for name in sorted(by_name)], sorted(skipped)


def _local_modules(plan: Plan) -> list[str]:
    from ..store.environment import local_module_hashes

    try:
        return list(local_module_hashes(_stage_imports(plan), plan.workdir))
    except OSError:
        return []


# -- the files


def _quoted(words: list[str]) -> str:
    """A Dockerfile exec form (JSON array): no shell reads it."""
    return json.dumps(words)


def _installed(python: str) -> list[str]:
    """The base image and the pinned requirements with mlops-jupyter from ``wheels/``: what the
    pipeline's image and a model's image both start with."""
    staging = "/tmp/mlops-export"
    pip = ["pip", "install", "--no-cache-dir", "--find-links", f"{staging}/wheels"]
    return [
        f"FROM python:{python}-slim",
        f"ENV PYTHONDONTWRITEBYTECODE=1 PIP_DISABLE_PIP_VERSION_CHECK=1 MLOPS_HOME={STORE}",
        "# mlops-jupyter is not on PyPI yet: wheels/ holds a wheel of the exporting installation's",
        "# source; with the folder empty, pip takes the pinned version from the index",
        f"COPY requirements.txt {staging}/requirements.txt",
        f"COPY wheels/ {staging}/wheels/",
        f"RUN {_quoted([*pip, '-r', f'{staging}/requirements.txt'])}",
    ]


def dockerfile(plan: Plan, python: str, kernel: str) -> str:
    image = image_name(plan)
    lines = [
        f"# {MARKER} (mlops export docker) {__version__}: the pipeline's image.",
        f"# Build: docker build -t {image} .",
        f"# Run:   docker run --rm -v mlops-store:{STORE} {image} [-p NAME=VALUE ...]",
        *_installed(python),
        "# the kernel the stages run in, under the name the notebook asks for",
        f"RUN {_quoted(['python', '-m', 'ipykernel', 'install', '--sys-prefix', '--name', kernel])}",
        f"COPY pipeline/ {PIPELINE}/",
        f"VOLUME {_quoted([STORE])}",
        f"WORKDIR {WORKDIR}",
        f"ENTRYPOINT {_quoted(['python', '-m', 'mlops_jupyter', 'run', PIPELINE])}",
        "",
    ]
    return "\n".join(lines)


def _requirements_text(plan: Plan, pins: list[str], run_id: str | None) -> str:
    where = f"the environment run {run_id} recorded" if run_id else "the exporting environment"
    head = [
        f"# {MARKER} (mlops export docker) {__version__}.",
        f"# The stages' packages as pinned by {where}; papermill and ipykernel as installed",
        "# where the export ran. mlops-jupyter itself: the wheel in wheels/.",
        f"{DIST}=={__version__}",
    ]
    return "\n".join([*head, *pins, ""])


def _wheels_readme() -> str:
    return (
        f"{MARKER} (mlops export docker).\n"
        "The Dockerfile installs mlops-jupyter from the wheel in this folder (pip --find-links).\n"
        "The export builds it from the installed package's source tree; without one, build it\n"
        "yourself: pip wheel --no-deps /path/to/mlops-jupyter -w wheels/\n"
    )


def _skipped_note(skipped: list[str]) -> list[str]:
    if not skipped:
        return []
    return [
        "Left out of requirements.txt, not installable as NAME==VERSION: "
        + ", ".join(skipped)
        + "."
    ]


def _copy_wheel(wheel: Path | None, wheels: Path) -> list[Path]:
    """The wheel into the context's ``wheels/`` (the one of an earlier export replaced)."""
    if wheel is None:
        return []
    for stale in wheels.glob("mlops_jupyter-*.whl"):
        if stale.name != wheel.name:
            stale.unlink()
    write_atomic(wheels / wheel.name, wheel.read_bytes())
    _readable(wheels / wheel.name)
    return [wheels / wheel.name]


def _readable(path: Path) -> None:
    """COPY keeps a file's mode: a temp file's 0600 would be unreadable to a container that runs
    as another user (Kubernetes often does)."""
    path.chmod(0o644)


def _compiled_files(folder: Path) -> list[str]:
    """What the compile wrote (its manifest's ``files``) and the manifest itself: a store or
    anything else someone left in the folder stays out of the image."""
    manifest = json.loads((folder / "pipeline.json").read_text(encoding="utf-8"))
    names = ["pipeline.json"]
    for name in sorted(manifest.get("files") or {}):
        path = (folder / name).resolve()
        if os.path.commonpath([folder, path]) != str(folder) or not path.is_file():
            raise MlopsError(
                f"{folder}/pipeline.json lists {name!r}, which is not a file in the folder.",
                hint="Compile the notebook again.",
            )
        names.append(Path(name).as_posix())
    return names


def _previous_copy(copy: Path, force: bool) -> set[str]:
    """The files of the copy an earlier export left in ``copy`` (to replace); a folder there that
    is not one is refused without ``force`` (and then written over, nothing of it deleted)."""
    from ..compiler.model import SCHEMA

    if not copy.exists():
        return set()
    try:
        manifest = json.loads((copy / "pipeline.json").read_text(encoding="utf-8"))
        ours = isinstance(manifest, dict) and manifest.get("schema") == SCHEMA
    except (OSError, ValueError):
        ours = False
    if not ours:
        if force:
            return set()
        raise MlopsError(
            f"{copy} exists and is not a pipeline copied by mlops export.",
            hint="Choose another output, move that folder, or pass --force to write into it.",
        )
    files = manifest.get("files") or {}
    return {"pipeline.json", *(str(name) for name in files if isinstance(name, str))}


# -- mlops-jupyter itself


def _source_tree() -> Path | None:
    """The source folder the installed mlops-jupyter came from (an editable or a local-folder
    install, per its ``direct_url.json``), or None (installed from an index or a wheel)."""
    from importlib.metadata import PackageNotFoundError, distribution
    from urllib.parse import unquote, urlparse

    try:
        text = distribution(DIST).read_text("direct_url.json")
    except PackageNotFoundError:
        return None
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    url = urlparse(str(data.get("url", "")))
    if url.scheme != "file" or "dir_info" not in data:
        return None
    folder = Path(unquote(url.path))
    return folder if (folder / "pyproject.toml").is_file() else None


# What a wheel is built from. The JupyterLab extension is left out: a container that runs
# pipelines does not need it, and a tree where `jlpm build` wrote it (with its install.json)
# makes hatch add install.json twice and fail.
_SOURCE_FILES = (
    "pyproject.toml",
    "README.md",
    ".gitignore",
    "labextension/build_hook.py",
    "labextension/install.json",
)
_SOURCE_TREES = ("mlops_jupyter", "jupyter-config")


def _source_files(folder: Path) -> list[str]:
    names = [n for n in _SOURCE_FILES if (folder / n).is_file()]
    for tree in _SOURCE_TREES:
        for root, dirs, files in os.walk(folder / tree):
            dirs[:] = sorted(d for d in dirs if d not in ("__pycache__", "labextension"))
            names += [
                Path(root, n).relative_to(folder).as_posix()
                for n in sorted(files)
                if not n.endswith((".pyc", ".tmp"))
            ]
    return names


def _source_hash(folder: Path, names: list[str]) -> str:
    digest = hashlib.sha256()
    for name in names:
        digest.update(f"{name}\0".encode())
        digest.update(hashlib.sha256((folder / name).read_bytes()).digest())
    return digest.hexdigest()[:24]


def _wheel(home: Path) -> tuple[Path | None, str | None]:
    """A wheel of the installed mlops-jupyter (built once per source state, kept in the cache of
    the store at ``home``), or None and a note saying how to provide one."""
    by_hand = (
        f"Put a wheel of mlops-jupyter {__version__} into wheels/ before docker build "
        "(pip wheel --no-deps /path/to/mlops-jupyter -w wheels/)."
    )
    source = _source_tree()
    if source is None:
        return None, f"This mlops-jupyter was not installed from a source folder. {by_hand}"
    names = _source_files(source)
    cache = home / "cache" / "wheels" / _source_hash(source, names)
    found = sorted(cache.glob("mlops_jupyter-*.whl"))
    if found:
        return found[0], None
    cache.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache.parent) as tmp:
        staged, built = Path(tmp, "src"), Path(tmp, "out")
        for name in names:  # a copy: the tree may change while pip builds
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / name, staged / name)
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", built, staged],
                capture_output=True,
                text=True,
                timeout=WHEEL_TIMEOUT_S,
                # build hooks off: no Node.js build of the extension the image does not use
                env={**os.environ, "HATCH_BUILD_NO_HOOKS": "true"},
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"Building a wheel of {source} failed ({exc}). {by_hand}"
        wheels = sorted(built.glob("mlops_jupyter-*.whl"))
        if done.returncode != 0 or not wheels:
            errors = [line.strip() for line in done.stderr.splitlines() if "rror" in line]
            why = errors[-1] if errors else "no wheel"
            return None, f"Building a wheel of {source} failed ({why}). {by_hand}"
        try:
            built.rename(cache)
        except OSError:  # another export built the same source meanwhile
            pass
    for other in cache.parent.iterdir():  # one wheel kept: older sources are not built again
        if other.name != cache.name and _HASH.fullmatch(other.name):  # not a build under way
            shutil.rmtree(other, ignore_errors=True)
    found = sorted(cache.glob("mlops_jupyter-*.whl"))
    return (found[0], None) if found else (None, by_hand)


# -- a model version as a microservice: `mlops export docker NAME@ALIAS -o DIR`

SERVE_PORT = 8080
# what serving needs besides the model's own libraries (pinned as installed here)
SERVING = ("fastapi", "uvicorn", "pandas", "numpy")
_FLAVOR_LIBRARIES = {
    "sklearn": ("scikit-learn", "skops", "scipy", "joblib", "threadpoolctl"),
    "numpy": (),
    "pandas": ("pyarrow",),
    "pickle": ("cloudpickle",),
}


def export_model(home: Path, ref: str, output: Path, options: dict[str, Any]) -> ExportResult:
    """A build context whose image serves the version ``ref`` names now: ``Dockerfile``,
    ``requirements.txt`` (pinned from the environment the model's run recorded), ``store/`` (a
    store holding that one version, its lineage, its bytes and its training data's sketches, so
    ``mlops monitor`` works in the container too) and ``wheels/``. The entry point is ``mlops
    serve NAME@V`` on port 8080; a ``HEALTHCHECK`` asks ``/ping``."""
    from ..store.db import Store
    from ..tracking import models

    force = bool(options.get("force"))
    if output.exists() and not output.is_dir():
        raise MlopsError(
            f"{output} is a file; mlops export docker writes a folder (a Docker build context).",
            hint="Give a folder: -o DIR.",
        )
    with Store(home) as store:
        name, version = models.resolve(store, ref)
        record = models.show(store, f"{name}@{version}")
        run = _run_environment(store, record.get("run_id"))
        blobs = {record["hash"]: _object(store, record["hash"])}
        for item in record.get("data") or []:
            if item.get("sketch") and objects_exists(store, item["sketch"]):
                blobs[item["sketch"]] = _object(store, item["sketch"])
    image = _model_image(name, version)
    python = _python_minor(run)
    pins, skipped = _model_requirements(record, run)
    texts = {
        output / "Dockerfile": model_dockerfile(name, version, python, image),
        output / "requirements.txt": _model_requirements_text(name, version, pins, record),
        output / "wheels" / "README.txt": _wheels_readme(),
    }
    for path in texts:
        check_generated(path, force=force)
    copy = output / "store"
    if copy.exists() and not (copy / MODEL_STORE_MARK).is_file() and not force:
        raise MlopsError(
            f"{copy} exists and is not a store written by mlops export.",
            hint="Choose another output, move that folder, or pass --force to write into it.",
        )
    wheel, wheel_note = _wheel(home)
    written = [write_generated(path, text, force=force) for path, text in texts.items()]
    written += _model_store(copy, record, blobs)
    written += _copy_wheel(wheel, output / "wheels")
    notes = [
        f"Build the image: docker build -t {image} {output}",
        f"Serve it: docker run --rm -p {SERVE_PORT}:{SERVE_PORT} -e MLOPS_SERVE_TOKEN=... {image} "
        f"(POST /invocations, /v2/models/{name}/infer; /ping is the health check). In the "
        f"container the server listens on 0.0.0.0:{SERVE_PORT}: set MLOPS_SERVE_TOKEN so only "
        "callers with the token are answered.",
        f"The image serves {name}@{version} (where {ref} points now); its traffic is recorded in "
        f"{STORE}: mount a named volume there and `docker run ... mlops monitor {name}@{version}` "
        "reads it.",
    ]
    if wheel_note:
        notes.append(wheel_note)
    notes += _skipped_note(skipped)
    notes.append(
        f"Pinned from the environment run {record['run_id']} recorded."
        if run
        else "The model's run recorded no environment: versions are this environment's."
    )
    return ExportResult("docker", output, written, notes)


MODEL_STORE_MARK = "EXPORTED-BY-MLOPS.txt"


def objects_exists(store: Any, key: str) -> bool:
    from ..store import objects

    return objects.open_objects(store.objects).exists(key)


def _object(store: Any, key: str) -> bytes:
    from ..store import objects

    try:
        return objects.open_objects(store.objects).get(key)
    except OSError as exc:
        raise MlopsError(
            f"the bytes of {key[:12]} cannot be read from {store.objects} ({exc}).",
            hint="`mlops doctor` checks the store; log the model again to replace it.",
        ) from None


def _run_environment(store: Any, run_id: str | None) -> dict[str, Any] | None:
    if not run_id:
        return None
    try:
        run = store.get_run(run_id)
    except MlopsError:  # the run was removed: the version's lineage stays, its environment not
        return None
    return run.get("environment") or None


def _model_image(name: str, version: int) -> str:
    repo = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("._-") or "model"
    return f"mlops-model-{repo}:{version}"


def _model_requirements(
    record: dict[str, Any], recorded: dict[str, Any] | None
) -> tuple[list[str], list[str]]:
    """The model's libraries as its run recorded them (else as installed here), and what
    serving needs as installed here, as sorted ``NAME==VERSION`` lines."""
    from importlib.metadata import PackageNotFoundError, version

    wanted = [*_FLAVOR_LIBRARIES.get(record["flavor"], ()), *SERVING]
    if record["format"] == "pickle":
        wanted.append("cloudpickle")
    recorded_pins = {
        _normalize(str(label).partition("==")[0]): str(label)
        for label in ((recorded or {}).get("packages") or {}).values()
    }
    pins: dict[str, str] = {}
    skipped: list[str] = []
    for dist in wanted:
        label = recorded_pins.get(_normalize(dist))
        if label is None:
            try:
                label = f"{dist}=={version(dist)}"
            except PackageNotFoundError:
                skipped.append(dist)
                continue
        if _PIN.match(label):
            pins[_normalize(dist)] = label
        else:
            skipped.append(label)
    return [pins[k] for k in sorted(pins)], sorted(set(skipped))


def model_dockerfile(name: str, version: int, python: str, image: str) -> str:
    probe = (
        "import urllib.request; "
        f"urllib.request.urlopen('http://127.0.0.1:{SERVE_PORT}/ping', timeout=3)"
    )
    serve = ["mlops", "serve", f"{name}@{version}", "--host", "0.0.0.0", "--port", str(SERVE_PORT)]
    lines = [
        f"# {MARKER} (mlops export docker) {__version__}: model {name}@{version} as a service.",
        f"# Build: docker build -t {image} .",
        f"# Run:   docker run --rm -p {SERVE_PORT}:{SERVE_PORT} -e MLOPS_SERVE_TOKEN=... {image}",
        *_installed(python),
        "# a store holding this one version (its bytes, lineage and training data's sketches);",
        "# a named volume mounted here starts as this copy and keeps the recorded traffic",
        f"COPY store/ {STORE}/",
        f"VOLUME {_quoted([STORE])}",
        f"EXPOSE {SERVE_PORT}",
        f"HEALTHCHECK --interval=30s --timeout=5s --start-period=20s CMD {_quoted(['python', '-c', probe])}",
        f"ENTRYPOINT {_quoted(serve)}",
        "",
    ]
    return "\n".join(lines)


def _model_requirements_text(
    name: str, version: int, pins: list[str], record: dict[str, Any]
) -> str:
    head = [
        f"# {MARKER} (mlops export docker) {__version__}.",
        f"# {name}@{version}: its libraries as run {record.get('run_id')} recorded them; serving's",
        "# (FastAPI, uvicorn) as installed where the export ran. mlops-jupyter: wheels/.",
        f"{DIST}=={__version__}",
    ]
    return "\n".join([*head, *pins, ""])


def _model_store(folder: Path, record: dict[str, Any], blobs: dict[str, bytes]) -> list[Path]:
    """A fresh store in ``folder`` holding only this version (an earlier export's replaced)."""
    from ..store import objects
    from ..store.db import Store

    if folder.exists():
        for leftover in ("mlops.db", "mlops.db-wal", "mlops.db-shm"):
            (folder / leftover).unlink(missing_ok=True)
    with Store(folder) as store:
        store.import_model_version(record)
        for data in blobs.values():
            objects.open_objects(store.objects).put(data)
        store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for leftover in ("mlops.db-wal", "mlops.db-shm"):
        (folder / leftover).unlink(missing_ok=True)
    write_atomic(
        folder / MODEL_STORE_MARK,
        f"{MARKER} (mlops export docker): a store holding {record['name']}@{record['version']}.\n".encode(),
    )
    written = [folder / "mlops.db", folder / MODEL_STORE_MARK]
    for root, _, files in os.walk(folder / "objects"):
        for name in files:
            _readable(Path(root, name))
            written.append(Path(root, name))
    _readable(folder / "mlops.db")
    return written
