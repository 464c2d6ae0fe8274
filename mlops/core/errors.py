"""The one exception type for user mistakes: the CLI prints its message, never a traceback."""

from __future__ import annotations


class MlopsError(Exception):
    """A mistake the user can fix: the message names the thing and the fix."""


def first_line(problem: BaseException) -> str:
    """Return the first line of an exception's message, or its type when it has none."""
    return (str(problem).strip().splitlines() or [type(problem).__name__])[0]
