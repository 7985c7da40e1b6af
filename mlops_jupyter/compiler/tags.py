"""The tag language: what one cell's ``metadata.tags`` (and ``%%mlops stage`` line) mean.

Pure and tiny on purpose: the JupyterLab extension re-implements this parse in TypeScript and
both are tested against the same table of cases (``tests/cases/tags.json``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

STAGE_NAME = re.compile(r"[a-z][a-z0-9_-]{0,62}\Z")
STAGE_NAME_RULE = "a lowercase letter, then up to 62 lowercase letters, digits, '_' or '-'"

# Role of a cell in the pipeline. "code" cells belong to the current stage.
CODE, PARAMETERS, SETUP, SKIP, METRICS = "code", "parameters", "setup", "skip", "metrics"

_ROLE_TAGS = {
    "parameters": PARAMETERS,
    "pipeline-parameters": PARAMETERS,  # Kale
    "setup": SETUP,
    "imports": SETUP,  # Kale
    "functions": SETUP,  # Kale
    "metrics": METRICS,
    "pipeline-metrics": METRICS,  # Kale
    "skip": SKIP,
    # papermill's: the cell it left from its last run (see parse_cell_tags and compiler.stages)
    "injected-parameters": PARAMETERS,
}
INJECTED_TAG = "injected-parameters"
_STAGE_PREFIXES = {"stage:": "stage", "block:": "kale", "step:": "kale"}
# Tags only Kale writes: a notebook with any of them follows Kale's rule that an untagged cell
# takes the tags of the cell before it (ours: only the stage carries over).
KALE_TAGS = frozenset({"imports", "functions", "pipeline-parameters", "pipeline-metrics"})
KALE_PREFIXES = ("block:", "step:", "prev:")
# Kale's tag language (its nbprocessor's _TAGS_LANGUAGE, minus the limit:/annotation:/label: tags
# we ignore): a cell tagged only in it is read as Kale reads it (see parse_cell_tags).
_KALE_SPECIAL = ("skip", "imports", "functions", "pipeline-parameters", "pipeline-metrics")
_AFTER_PREFIXES = ("after:", "prev:")
MAGIC_PREFIX = "%%mlops"
CHECK_TAG = "check"


class TagError(ValueError):
    """A tag (or ``%%mlops`` line) that does not parse; the caller adds the cell's location."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


@dataclass(frozen=True)
class CellTags:
    role: str = CODE
    stage: str | None = None  # this cell starts (or, in Kale's dialect, continues) a stage
    dialect: str | None = None  # "stage", "kale" or "magic": how the stage was named
    after: tuple[str, ...] = ()
    cache: bool | None = None
    retries: int | None = None
    timeout: float | None = None
    # ((name, amount), ...) sorted by name: what a worker must have to run the stage (Dask's
    # `submit(resources=...)`, matched against `dask worker --resources "GPU=1"`)
    resources: tuple[tuple[str, float], ...] | None = None
    # a check stage: its failure (an assert, ``mlops.require``) is a check failure, which fails
    # the run as any failure does and keeps the models of the run from being promoted
    check: bool | None = None
    magic: bool = False  # the first source line is a ``%%mlops stage`` line (stripped on compile)
    tagged: bool = False  # carries any tag this language knows (else it continues the cell above)
    kale: bool = False  # carries a tag only Kale's dialect uses
    injected: bool = False  # papermill's ``injected-parameters`` cell

    def options(self) -> dict[str, object]:
        found: dict[str, object] = {}
        if self.cache is not None:
            found["cache"] = self.cache
        if self.retries is not None:
            found["retries"] = self.retries
        if self.timeout is not None:
            found["timeout"] = self.timeout
        if self.resources is not None:
            found["resources"] = dict(self.resources)
        if self.check:
            found["check"] = True
        return found


def check_stage_name(name: str) -> str:
    if not STAGE_NAME.match(name):
        raise TagError(
            f"{name!r} is not a valid stage name.",
            hint=f"A stage name is {STAGE_NAME_RULE}, e.g. 'train' or 'load-data'.",
        )
    return name


def _retries(value: str) -> int:
    if not (value.isascii() and value.isdigit()) or int(value) > 100:
        raise TagError(f"'retries:{value}' needs a whole number from 0 to 100.")
    return int(value)


_SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?\Z")


def _timeout(value: str) -> float:
    # a plain decimal only, so the TypeScript parser agrees (no '1_000', no '1e3', no '٣')
    seconds = float(value) if _SECONDS.match(value) else math.nan
    if not (seconds > 0 and math.isfinite(seconds)):
        raise TagError(f"'timeout:{value}' needs a positive number of seconds, e.g. 'timeout:600'.")
    return seconds


_RESOURCE = re.compile(r"([A-Za-z][A-Za-z0-9_.-]{0,62})=([0-9]+(\.[0-9]+)?)\Z")


def _resource(value: str) -> tuple[str, float]:
    found = _RESOURCE.match(value)
    amount = float(found.group(2)) if found else math.nan
    if found is None or not (amount > 0 and math.isfinite(amount)):
        raise TagError(
            f"'resources:{value}' needs NAME=AMOUNT, a name and a positive number, "
            "e.g. 'resources:GPU=1'."
        )
    return found.group(1), amount


def _cache(value: str) -> bool:
    if value not in ("on", "off"):
        raise TagError(f"'cache:{value}' must be 'cache:off' (or 'cache:on').")
    return value == "on"


_LIST = re.compile(r"[:;,]")


def _one_name(tag: str, prefix: str) -> str:
    """The stage a ``prev:``/``after:``/``block:``/``step:`` tag names; a list gets what to write."""
    value = tag[len(prefix) :]
    names = [n for n in _LIST.split(value) if n]
    if len(names) > 1 and all(STAGE_NAME.match(n) for n in names):
        old = " (an old Kale form)" if prefix in KALE_PREFIXES else ""
        if prefix in _STAGE_PREFIXES:
            every = "functions" if old else "setup"
            raise TagError(
                f"{tag!r} puts the cell in several stages{old}; a cell belongs to one stage.",
                hint=f"Tag it {prefix + names[0]!r} and give each other stage its own copy of "
                f"the code, or make it a '{every}' cell if every stage needs it.",
            )
        raise TagError(
            f"{tag!r} names several stages in one tag{old}.",
            hint="Write one tag per stage: " + ", ".join(repr(prefix + n) for n in names) + ".",
        )
    return check_stage_name(value)


def parse_magic_line(line: str) -> dict[str, object]:
    """Parse ``%%mlops stage NAME [--after A,B] [--no-cache] [--retries N] [--timeout S]
    [--check]``."""
    words = line.split()
    if len(words) < 3 or words[1] != "stage":
        raise TagError(
            f"{line.strip()!r} is not a stage line.",
            hint="Write '%%mlops stage NAME' (optionally '--after A,B') as the cell's first line.",
        )
    found: dict[str, object] = {"stage": check_stage_name(words[2]), "after": []}
    rest = words[3:]
    i = 0
    while i < len(rest):
        word = rest[i]
        flag, _, inline = word.partition("=")
        takes_value = flag in ("--after", "--retries", "--timeout")
        if takes_value and not inline:
            if i + 1 >= len(rest):
                raise TagError(f"'{flag}' in {line.strip()!r} needs a value.")
            i += 1
            inline = rest[i]
        if flag == "--after":
            found["after"] += [check_stage_name(n) for n in inline.split(",") if n]  # type: ignore[operator]
        elif flag == "--retries":
            found["retries"] = _retries(inline)
        elif flag == "--timeout":
            found["timeout"] = _timeout(inline)
        elif flag == "--no-cache" and not inline:
            found["cache"] = False
        elif flag == "--check" and not inline:
            found["check"] = True
        else:
            raise TagError(
                f"unknown option {word!r} in {line.strip()!r}.",
                hint="Known options: --after A,B  --no-cache  --retries N  --timeout SECONDS  "
                "--check.",
            )
        i += 1
    return found


def parse_cell_tags(tags: Sequence[str], source: str = "") -> CellTags:
    """Read one cell's tags and first source line. Unknown tags are kept by the notebook and ignored."""
    roles: set[str] = set()
    stage: str | None = None
    dialect: str | None = None
    after: list[str] = []
    opts: dict[str, object] = {}

    def set_opt(key: str, value: object, tag: str) -> None:
        if key in opts and opts[key] != value:
            raise TagError(f"the cell has conflicting '{key}:' tags ({tag!r} and an earlier one).")
        opts[key] = value

    def set_stage(name: str, how: str) -> None:
        nonlocal stage, dialect
        check_stage_name(name)
        if stage is not None and stage != name:
            raise TagError(
                f"the cell starts two stages, {stage!r} and {name!r}.",
                hint="Keep one stage tag per cell; put the other stage's code in its own cell.",
            )
        stage, dialect = name, dialect or how

    stripped = [raw.strip() for raw in tags]
    kale = any(t in KALE_TAGS or t.startswith(KALE_PREFIXES) for t in stripped)
    known_tags = [t for t in stripped if _known(t)]
    if known_tags and all(_kale_tag(t) for t in known_tags) and not _is_magic(source):
        # Kale's rule (nbprocessor.parse_cell_metadata): the first of its special tags decides
        # the cell, and its block:/step:/prev: tags are then ignored -- a skipped cell starts no
        # step, an imports cell joins no step.
        special = next((t for t in stripped if t in _KALE_SPECIAL), None)
        if special is not None:
            return CellTags(role=_ROLE_TAGS[special], tagged=True, kale=kale)

    for tag in stripped:
        if tag in _ROLE_TAGS:
            roles.add(_ROLE_TAGS[tag])
            continue
        prefix = next((p for p in _STAGE_PREFIXES if tag.startswith(p)), None)
        if prefix == "stage:" or (prefix and tag[len(prefix) :]):
            set_stage(_one_name(tag, prefix), _STAGE_PREFIXES[prefix])
        elif prefix:
            continue  # Kale's UI leaves an empty 'block:' behind: Kale reads it as no tag
        elif tag.startswith(_AFTER_PREFIXES):
            name = _one_name(tag, tag[: tag.index(":") + 1])
            if name not in after:
                after.append(name)
        elif tag == CHECK_TAG:
            set_opt("check", True, tag)
        elif tag.startswith("cache:"):
            set_opt("cache", _cache(tag[6:]), tag)
        elif tag.startswith("retries:"):
            set_opt("retries", _retries(tag[8:]), tag)
        elif tag.startswith("timeout:"):
            set_opt("timeout", _timeout(tag[8:]), tag)
        elif tag.startswith("resources:"):
            name, amount = _resource(tag[10:])
            held: dict[str, float] = opts.setdefault("resources", {})  # type: ignore[assignment]
            if held.get(name, amount) != amount:
                raise TagError(
                    f"the cell has conflicting 'resources:{name}=' tags ({tag!r} and an "
                    "earlier one)."
                )
            held[name] = amount
        # anything else (Kale's limit:, annotations, user tags) is kept and ignored

    first_line = _first_line(source)
    magic = _is_magic(source)
    if magic:
        found = parse_magic_line(first_line)
        set_stage(str(found["stage"]), "magic")
        for name in found["after"]:  # type: ignore[attr-defined]
            if name not in after:
                after.append(name)
        for key in ("cache", "retries", "timeout", "check"):
            if key in found:
                set_opt(key, found[key], first_line.strip())

    known = bool(roles or stage or after or opts)
    role = CODE
    if SKIP in roles:
        role = SKIP  # skip wins so a cell can be switched off without losing its other tags
    elif len(roles) > 1:
        raise TagError(
            f"the cell has tags for different roles ({', '.join(sorted(roles))}).",
            hint="A cell is one of: parameters, setup, metrics, or stage code.",
        )
    elif roles:
        role = roles.pop()
    if role in (PARAMETERS, SETUP, METRICS) and (stage or after or opts):
        raise TagError(
            f"a {role} cell cannot also carry stage, after: or option tags.",
            hint=f"Move the stage tags to the next code cell, or remove the '{role}' tag.",
        )
    return CellTags(
        tagged=known,
        kale=kale,
        role=role,
        stage=stage,
        dialect=dialect,
        after=tuple(after),
        cache=opts.get("cache"),  # type: ignore[arg-type]
        retries=opts.get("retries"),  # type: ignore[arg-type]
        timeout=opts.get("timeout"),  # type: ignore[arg-type]
        resources=_sorted_pairs(opts.get("resources")),
        check=opts.get("check"),  # type: ignore[arg-type]
        magic=magic,
        injected=INJECTED_TAG in stripped,
    )


def _sorted_pairs(found: object) -> tuple[tuple[str, float], ...] | None:
    return tuple(sorted(found.items())) if isinstance(found, dict) else None


def _first_line(source: str) -> str:
    return source.lstrip("\n").split("\n", 1)[0]


def _is_magic(source: str) -> bool:
    line = _first_line(source)
    return line.startswith(MAGIC_PREFIX) and line[len(MAGIC_PREFIX) :][:1] in (" ", "\t", "")


_OPTION_PREFIXES = ("cache:", "retries:", "timeout:", "resources:")


def _known(tag: str) -> bool:
    """A tag this language reads (anything else is kept and ignored)."""
    return (
        tag in _ROLE_TAGS
        or tag == CHECK_TAG
        or tag.startswith((*_STAGE_PREFIXES, *_AFTER_PREFIXES, *_OPTION_PREFIXES))
    )


def _kale_tag(tag: str) -> bool:
    """A tag of Kale's language (``skip`` is both Kale's and ours)."""
    return tag in _KALE_SPECIAL or tag.startswith(KALE_PREFIXES)
