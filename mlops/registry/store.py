"""The local registry store (``<state>/mlflow.db``, SQLite), checked before MLflow opens it.

MLflow opens whatever file is there: a truncated or overwritten database surfaces as a long SQLAlchemy
traceback in the middle of a command, and a 0-byte one is silently made a new, empty registry, so the
next train would become champion with nothing to compare against. ``check`` turns each case into one
line that names the file and what to do, before any step runs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from mlops.core.errors import MlopsError

LOCKED_SECONDS = 5.0  # how long a store locked by another process is waited for


def check(database: Path, artifacts: Path) -> None:
    """Raise MlopsError when the SQLite store ``database`` cannot serve as the registry: damaged,
    empty while ``artifacts`` holds versions, or locked by another process past ``LOCKED_SECONDS``.
    A missing database is fine: MLflow creates it."""
    if not database.exists():
        return
    restore = (
        f"restore it from a backup, or move it aside to start a new registry (the versions' files stay in "
        f"{artifacts})"
    )
    if database.stat().st_size == 0:
        if any(artifacts.glob("*/*")):
            raise MlopsError(
                f"the registry database {database} is empty (0 bytes) but {artifacts} holds "
                f"versions: it was truncated; {restore}"
            )
        return  # a store being created this instant, or never used: MLflow makes its tables
    try:
        connection = sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True, timeout=LOCKED_SECONDS)
        with contextlib.closing(connection) as db:
            verdict = db.execute("PRAGMA quick_check").fetchone()[0]
    except sqlite3.OperationalError as error:
        if "locked" in str(error):
            raise MlopsError(
                f"the registry database {database} is locked by another process (a train or the MLflow "
                f"UI writing to it) for over {LOCKED_SECONDS:g} s; retry when it is done"
            ) from None
        raise MlopsError(f"the registry database {database} cannot be read ({error}); {restore}") from None
    except sqlite3.DatabaseError as error:  # "file is not a database", "database disk image is malformed"
        raise MlopsError(f"the registry database {database} is damaged ({error}); {restore}") from None
    if verdict != "ok":
        raise MlopsError(f"the registry database {database} is damaged ({verdict}); {restore}")
