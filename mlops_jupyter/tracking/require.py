"""``mlops.require(cond, "message")``: the check a ``check`` stage makes, said in words.

In a check stage (tag ``check``, or ``%%mlops stage NAME --check``) a false requirement or an
``assert`` fails the stage as a *check failure*: the run fails as for any failure, downstream
stages are skipped, and ``mlops model promote`` refuses the models of that run. Anywhere else a
false requirement is an ordinary exception. ``CheckFailed`` is an ``AssertionError``, so code
that catches failed asserts catches it too, and the run top to bottom stops where the pipeline
does.
"""

from __future__ import annotations

from typing import Any


class CheckFailed(AssertionError):
    """A requirement of a check did not hold."""


def require(condition: Any, message: str) -> None:
    """Raise :class:`CheckFailed` with ``message`` unless ``condition`` is true."""
    if not isinstance(message, str) or not message:
        raise TypeError("mlops.require(condition, message): say what is required, as text.")
    if not condition:
        raise CheckFailed(message)
