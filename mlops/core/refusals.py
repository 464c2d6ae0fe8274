"""A write the system refused (a full disk, a permission, a read-only file system), turned into one
``MlopsError`` that names the file and what to do."""

from __future__ import annotations

import errno
import os
from pathlib import Path

from mlops.core import project
from mlops.core.errors import MlopsError

# what the system said, as the errno of an OSError or in the message of SQLite's own error
FULL, DENIED, READ_ONLY = "full", "denied", "read-only"
CAUSES = {
    errno.ENOSPC: FULL,
    errno.EDQUOT: FULL,
    errno.EACCES: DENIED,
    errno.EPERM: DENIED,
    errno.EROFS: READ_ONLY,
}
SQLITE_CAUSES = {"database or disk is full": FULL, "attempt to write a readonly database": READ_ONLY}


def refused(problem: BaseException) -> tuple[str, str | None] | None:
    """Return why the system refused a write, as ``FULL``, ``DENIED`` or ``READ_ONLY``, and the file it
    names (None when it names none), from ``problem`` or the exceptions it was raised from (SQLite's
    errors reach callers wrapped by SQLAlchemy and MLflow); None when it is no such refusal."""
    seen = set()
    link: BaseException | None = problem
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        if isinstance(link, OSError) and link.errno in CAUSES:
            return CAUSES[link.errno], None if link.filename is None else os.fspath(link.filename)
        for text, cause in SQLITE_CAUSES.items():
            if text in str(link):
                return cause, sqlite_file()
        link = link.__cause__ or link.__context__
    return None


def sqlite_file() -> str | None:
    """Return the file of the SQLite tracking store in use, None when the store is a server."""
    uri = project.tracking_uri()
    return uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None


def translated(problem: BaseException) -> MlopsError | None:
    """Return a refused write (see ``refused``) as one line naming the file and what to do, or None."""
    found = refused(problem)
    if found is None:
        return None
    cause, filename = found
    place = filename or "a file"
    what = {
        FULL: f"no space left on the file system holding {place}; free space there",
        DENIED: f"permission denied writing {place}; fix the permissions of its folder",
        READ_ONLY: f"{place} is on a read-only file system; remount it read-write",
    }[cause]
    return MlopsError(f"{what}, or {elsewhere(filename)}")


def elsewhere(filename: str | None) -> str:
    """Return how to write somewhere else than ``filename``: another state folder when it lies in it,
    else another output folder."""
    state = project.state_path()
    if filename is None or Path(filename).resolve().is_relative_to(state.resolve()):
        return f"point {project.STATE_ENV} at a folder with room (the state folder is {state})"
    return "choose another folder for the command's output (--out, --output)"
