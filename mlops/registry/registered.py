"""What the local registry store holds, read with sqlite3 alone, so a command answers a model that has
no such version or no champion (and ``mlops list`` its champions) before MLflow loads, which takes
seconds.

Only the local SQLite store (``<state>/mlflow.db``, when no other tracking URI is set) is read, read-only,
and only from the tables MLflow's SQL store keeps the registry in: ``model_versions``,
``registered_model_aliases``, ``registered_model_tags`` and ``model_version_tags``, the same rows
``mlops.registry.holder`` asks MLflow for (the alias, else the ``mlops.<alias>`` tag). Anything this
module cannot read for certain, a tracking server, a table or column missing, a model in a workspace
other than MLflow's default, a locked or damaged file, raises ``Unknown``: the caller then asks MLflow,
whose answer (and ``mlops.registry.store``'s checks of the file) decides.
A store file that does not exist holds
nothing: MLflow would create it empty.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from pathlib import Path

from mlops.core import project
from mlops.registry import ALIAS_TAG_PREFIX, CHAMPION, METRIC_TAG_PREFIX, no_alias, no_version

TABLES = ("model_versions", "registered_model_aliases", "registered_model_tags", "model_version_tags")
DEFAULT_WORKSPACE = "default"  # MLflow 3's workspace column: the one a client without workspaces uses


class Unknown(Exception):
    """The store cannot be read without MLflow: ask MLflow."""


def check(name: str, version: str | None, alias: str) -> None:
    """Raise the error MLflow's answer would give (``registry.no_version``, ``no_alias``) when the local store
    certainly holds no ``version`` of ``name`` (or, without one, no version holding ``alias``); return
    when it holds it or only MLflow can tell."""
    try:
        if version is not None and not registered(name, version):
            raise no_version(name, version)
        if version is None and holder(name, alias) is None:
            raise no_alias(name, alias)
    except Unknown:
        return


def registered(name: str, version: str) -> bool:
    """Return whether ``version`` of ``name`` is registered in the local store (see ``Unknown``)."""
    try:
        number = int(version)
    except ValueError:
        raise Unknown from None  # MLflow's own answer names a version that is no number
    with reading() as db:
        if db is None:
            return False
        found = db.execute("SELECT 1 FROM model_versions WHERE name = ? AND version = ?", (name, number))
        return found.fetchone() is not None


def holder(name: str, alias: str) -> int | None:
    """Return the version of ``name`` holding ``alias`` in the local store (its alias, else its
    ``mlops.<alias>`` tag), or None when none does (see ``Unknown``)."""
    with reading() as db:
        return None if db is None else held(db, name, alias)


def champion(name: str) -> tuple[int, dict[str, float]] | None:
    """Return the champion of ``name`` in the local store and the test metrics on its tags, or None
    when it has none (see ``Unknown``)."""
    with reading() as db:
        version = None if db is None else held(db, name, CHAMPION)
        if version is None:
            return None
        assert db is not None  # the version was read from it
        rows = db.execute(
            "SELECT key, value FROM model_version_tags WHERE name = ? AND version = ? AND key LIKE ?",
            (name, version, f"{METRIC_TAG_PREFIX}%"),
        )
        return version, {key.removeprefix(METRIC_TAG_PREFIX): float(value) for key, value in rows}


def held(db: sqlite3.Connection, name: str, alias: str) -> int | None:
    """Return the version holding ``alias`` of ``name``: its alias row, else its ``mlops.<alias>`` tag."""
    row = db.execute(
        "SELECT version FROM registered_model_aliases WHERE name = ? AND alias = ?", (name, alias)
    ).fetchone()
    if row is None:
        row = db.execute(
            "SELECT value FROM registered_model_tags WHERE name = ? AND key = ?",
            (name, f"{ALIAS_TAG_PREFIX}{alias}"),
        ).fetchone()
    try:
        return None if row is None else int(row[0])
    except ValueError:
        raise Unknown from None  # a tag that is no version number: MLflow's reading names it


@contextlib.contextmanager
def reading() -> Iterator[sqlite3.Connection | None]:
    """Yield a read-only connection to the local store, None when its file does not exist (it holds
    nothing), or raise ``Unknown`` when it cannot be read for certain (see the module)."""
    if project.tracking_uri() != project.local_store_uri():
        raise Unknown
    database = project.state_dir() / "mlflow.db"
    if not database.exists():
        yield None
        return
    try:
        connection = sqlite3.connect(f"{Path(database).as_uri()}?mode=ro", uri=True, timeout=1)
        with contextlib.closing(connection) as db:
            known = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not set(TABLES) <= known or other_workspaces(db):
                raise Unknown
            yield db
    except sqlite3.Error:
        raise Unknown from None


def other_workspaces(db: sqlite3.Connection) -> bool:
    """Return whether the store holds a registry row outside MLflow's default workspace."""
    for table in TABLES:
        columns = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
        if "workspace" in columns:
            query = f"SELECT 1 FROM {table} WHERE workspace != ? LIMIT 1"
            if db.execute(query, (DEFAULT_WORKSPACE,)).fetchone():
                return True
    return False
