"""The one error type every face turns into a clear message and exit code 2."""

from __future__ import annotations

SHOWN_CHARS = 60


def shown(value: object, limit: int = SHOWN_CHARS) -> str:
    """``value`` as a message echoes it: its repr, cut past ``limit`` characters and saying how
    long it was. A refused 5,000-digit number or a pasted file is not worth a screenful, and the
    start is enough to recognise it. repr also escapes what a terminal would act on."""
    try:
        text = repr(value)
    except ValueError:  # an int past Python's 4,300-digit conversion limit
        digits = int(value.bit_length() * 0.30103) + 1 if isinstance(value, int) else 0
        return f"a number of about {digits:,} digits" if digits else f"a {type(value).__name__}"
    if len(text) <= limit:
        return text
    return f"{text[: limit - 3]}... ({len(text):,} characters)"


class MlopsError(Exception):
    """Bad input from the user: a message that says where and what to do, never a traceback.

    ``notebook``, ``cell`` (1-based position) and ``cell_id`` point at the place to fix;
    ``line`` is 1-based within that cell's source.
    """

    def __init__(
        self,
        message: str,
        *,
        notebook: str | None = None,
        cell: int | None = None,
        cell_id: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.notebook = notebook
        self.cell = cell
        self.cell_id = cell_id
        self.line = line
        self.hint = hint

    @property
    def where(self) -> str:
        parts = []
        if self.notebook:
            parts.append(self.notebook)
        if self.cell is not None:
            cell = f"cell {self.cell}"
            if self.cell_id:
                cell += f" (id {self.cell_id})"
            if self.line is not None:
                cell += f", line {self.line}"
            parts.append(cell)
        return ", ".join(parts)

    def __str__(self) -> str:
        text = f"{self.where}: {self.message}" if self.where else self.message
        if self.hint:
            text += f" {self.hint}"
        return text

    def to_dict(self) -> dict[str, object]:
        return {
            "error": self.message,
            "notebook": self.notebook,
            "cell": self.cell,
            "cell_id": self.cell_id,
            "line": self.line,
            "hint": self.hint,
            "text": str(self),
        }


class CompileError(MlopsError):
    """A notebook that cannot become a pipeline (bad tags, syntax, parameters, cycles...)."""


class NotFoundError(MlopsError):
    """A run (or other record) that is not there: faces may answer differently (HTTP 404)."""


class RefusedError(MlopsError):
    """Well-formed, but not served: a path outside where it may be read (HTTP 403)."""


class ConflictError(MlopsError):
    """Well-formed, but it clashes with what is there: a name already taken (HTTP 409)."""
