"""The one exception type for user mistakes: the CLI prints its message, never a traceback."""

from __future__ import annotations


class MlopsError(Exception):
    """A mistake the user can fix: the message names the thing and the fix."""


def whole_line(problem: BaseException, limit: int = 400) -> str:
    """Return an exception's whole message on one line, cut to ``limit`` characters, or its type when it
    has none: for errors from the model's own code, whose detail is often on a later line."""
    return " ".join(str(problem).split())[:limit] or type(problem).__name__


def first_line(problem: BaseException) -> str:
    """Return the first line of an exception's message, or its type when it has none."""
    return (str(problem).strip().splitlines() or [type(problem).__name__])[0]
