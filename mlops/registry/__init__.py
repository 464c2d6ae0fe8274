"""The MLflow model registry: versions, the ``champion`` alias and its history, explicit moves.

Where a store refuses MLflow's alias routes (an Azure ML workspace's registry documents no aliases),
the champion lives in the registered-model tag ``mlops.champion`` instead: the same functions read
and move it, under the same gate lock, so no caller tells the two apart. Which one a store uses is
probed once per store and process (``serves_aliases``).

Its modules hold the rest of what a version is: the names of its artifacts (``artifacts``), its files
and their digests (``modelio``, ``trust``, ``digests``), its lineage, and the local SQLite store's
checks (``store``) and quick reads (``registered``)."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.core import locks, project
from mlops.core.errors import MlopsError
from mlops.registry import lineage, modelio

__all__ = [
    "ALIAS_TAG_PREFIX",
    "CHAMPION",
    "LEGACY_HISTORY_TAG",
    "METRIC_TAG_PREFIX",
    "MOVE_TAG_PREFIX",
    "PROBE_MODEL",
    "REFUSED_CODES",
    "REFUSED_STATUS",
    "TAG_LIMIT",
    "aliases",
    "answering",
    "artifacts",
    "champion",
    "check_store",
    "checked",
    "checked_tags",
    "client",
    "create_version",
    "described",
    "digests",
    "download",
    "experiment_id",
    "find_version",
    "fitted",
    "gate_lock",
    "get_model",
    "get_version",
    "history",
    "holder",
    "lineage",
    "load",
    "locked",
    "make_champion",
    "metrics_of",
    "modelio",
    "move_alias",
    "moves",
    "no_alias",
    "no_version",
    "not_found",
    "promote",
    "recorded",
    "refused",
    "registered",
    "rollback",
    "serves_aliases",
    "set_tags",
    "store",
    "store_error",
    "trust",
    "verified",
]

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities.model_registry import ModelVersion
    from sklearn.pipeline import Pipeline

CHAMPION = "champion"
LEGACY_HISTORY_TAG = "champion_history"  # the versions, comma-separated, before moves were kept
MOVE_TAG_PREFIX = "alias_move."  # one registered-model tag per alias move (JSON), never rewritten
METRIC_TAG_PREFIX = "metric."
ALIAS_TAG_PREFIX = "mlops."  # mlops.<alias> = version: an alias on a store that refuses alias routes
TAG_LIMIT = 5000  # characters of a tag's value: MLflow's model-version limit until 2025; Azure documents none
PROBE_MODEL = "mlops-alias-probe"  # never registered: asking for its alias tells whether the route exists
# an MLflow error that says the route itself is not served (a 404 or 405 without a body, 501), not that
# the model or alias is missing: MLflow names a 404 without a body ENDPOINT_NOT_FOUND
REFUSED_CODES = {"ENDPOINT_NOT_FOUND", "NOT_IMPLEMENTED"}
REFUSED_STATUS = re.compile(r"failed with error code (404|405|501) != 200")


def client() -> MlflowClient:
    """Return an MLflow client on the project's tracking and registry store."""
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # keep the CLI's output readable
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # its log of a failed query (a full disk) repeats, traceback and all, the exception it then raises
    logging.getLogger("mlflow.store.db.utils").setLevel(logging.CRITICAL)
    uri = project.tracking_uri()
    check_store()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    if uri == project.local_store_uri() and not (project.state_dir() / "mlflow.db").exists():
        with locked("store"):  # MLflow's first migration of a new SQLite store races with itself
            mlflow.MlflowClient().search_experiments(max_results=1)  # creates the tables, once
    return mlflow.MlflowClient()


def check_store() -> None:
    """Raise naming the local SQLite store when it is damaged, truncated or locked (see
    ``mlops.registry.store``); a remote store names itself when it fails to answer."""
    if project.tracking_uri() == project.local_store_uri():
        checked(project.state_dir())


@functools.cache
def checked(state: Path) -> None:
    """Check the local store in ``state`` once per process (see ``mlops.registry.store``)."""
    from mlops.registry import store

    store.check(state / "mlflow.db", state / "artifacts")


@contextlib.contextmanager
def gate_lock(name: str) -> Iterator[None]:
    """Hold model ``name``'s gate lock (a file lock in the state folder): one process at a time reads
    the champion, decides and moves the alias, so concurrent trains on this machine each compare with
    the champion of their moment. Trains on other machines against one tracking server are not
    serialized by it."""
    with locked(f"gate-{name}"):
        yield


@contextlib.contextmanager
def locked(label: str) -> Iterator[None]:
    """Hold the state folder's file lock ``label`` (``<state>/locks/<label>.lock``)."""
    with locks.held(project.state_dir() / "locks" / f"{label}.lock"):
        yield


def experiment_id(name: str) -> str:
    """Return the id of the experiment named after the model, creating it on first use."""
    mlflow_client = client()
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    root = project.artifact_root()
    location = (root / name).as_uri() if root else None
    return mlflow_client.create_experiment(name, artifact_location=location)


def champion(name: str) -> ModelVersion | None:
    """Return the version holding the ``champion`` alias (or, on a store that refuses alias routes, its
    tag), or None when the model or the alias does not exist. A store that fails to answer (a tracking
    server down, a damaged or locked database) is an error naming it, never "no champion": that would
    let the gate promote with nothing compared."""
    with answering(f"cannot read the champion of '{name}'"):
        return holder(name, CHAMPION)


def holder(name: str, alias: str) -> ModelVersion | None:
    """Return the version of ``name`` holding ``alias``, or None when the model or the alias does not
    exist. On a store that serves aliases a model without the alias is still read from its
    ``mlops.<alias>`` tag, so a store that once refused them and now serves them keeps its champion."""
    from mlflow.exceptions import MlflowException

    mlflow_client = client()
    if serves_aliases(project.tracking_uri()):
        try:
            return mlflow_client.get_model_version_by_alias(name, alias)
        except MlflowException as error:
            if not not_found(error):
                raise
    try:
        tags = mlflow_client.get_registered_model(name).tags
    except MlflowException as error:
        if not_found(error):
            return None
        raise
    version = tags.get(f"{ALIAS_TAG_PREFIX}{alias}")
    return mlflow_client.get_model_version(name, version) if version else None


@functools.cache
def serves_aliases(uri: str) -> bool:
    """Return whether the registry store at ``uri`` serves MLflow's alias routes, asking it once per
    process: the alias of a model that is never registered is "not found" where the route exists, and
    a refusal (``refused``) where it does not. Any other failure is the store's, raised."""
    from mlflow.exceptions import MlflowException

    try:
        client().get_model_version_by_alias(PROBE_MODEL, CHAMPION)
    except NotImplementedError:
        return False
    except MlflowException as error:
        if refused(error):
            return False
        if not_found(error):
            return True
        raise
    return True


def refused(error: Exception) -> bool:
    """Return whether an MLflow error says the store does not serve the route at all (Azure ML's
    tracking server answers 404 with an empty body for routes it lacks), which is neither "no
    champion" nor a store that failed."""
    if isinstance(error, NotImplementedError):
        return True
    return getattr(error, "error_code", "") in REFUSED_CODES or bool(REFUSED_STATUS.search(str(error)))


def aliases(version: ModelVersion) -> list[str]:
    """Return the aliases ``version`` holds, sorted: MLflow's, or its model's ``mlops.<alias>`` tags."""
    if version.aliases:
        return sorted(version.aliases)
    tags = client().get_registered_model(version.name).tags
    return sorted(
        key.removeprefix(ALIAS_TAG_PREFIX)
        for key, value in tags.items()
        if key.startswith(ALIAS_TAG_PREFIX) and value == str(version.version)
    )


def fitted(text: str, limit: int = TAG_LIMIT) -> str:
    """Return ``text`` cut to at most ``limit`` characters, saying so at its end when cut."""
    if len(text) <= limit:
        return text
    if limit < 40:
        return text[:limit]
    note = f" ... (cut to {limit:,} characters)"
    return text[: max(limit - len(note), 0)] + note


def checked_tags(tags: dict[str, str], where: str) -> dict[str, str]:
    """Return ``tags`` with string values, or raise naming the first one longer than ``TAG_LIMIT``
    characters (before anything is written)."""
    values = {key: str(value) for key, value in tags.items()}
    for key, value in values.items():
        if len(value) > TAG_LIMIT:
            raise MlopsError(
                f"{where}: tag '{key}' has {len(value):,} characters, more than the {TAG_LIMIT:,} a "
                "registry keeps; shorten it"
            )
    return values


@contextlib.contextmanager
def answering(what: str) -> Iterator[None]:
    """Turn a store that fails to answer inside the block (MLflow's errors, the SQL store's own, a
    connection refused) into one error naming the store and ``what`` could not be done."""
    try:
        yield
    except MlopsError:
        raise
    except Exception as error:
        raise store_error(what, error) from None


def not_found(error: Exception) -> bool:
    """Return whether an MLflow error says the registered model or alias does not exist (MLflow's stores
    tell that case apart by error code; a missing alias comes as an invalid parameter "not found")."""
    code = getattr(error, "error_code", "")
    return code == "RESOURCE_DOES_NOT_EXIST" or (
        code == "INVALID_PARAMETER_VALUE" and "alias" in str(error) and "not found" in str(error)
    )


def store_error(what: str, error: Exception) -> MlopsError:
    """Return the one-line error for a registry store that failed to answer, naming the store."""
    from mlops.core.errors import first_line

    if "database is locked" in str(error):
        return MlopsError(
            f"{what}: the registry store {project.tracking_uri()} is locked by another process (a train or "
            "the MLflow UI writing to it); retry when it is done"
        )
    return MlopsError(
        f"{what}: the registry store {project.tracking_uri()} failed ({first_line(error)}); check that it "
        "is reachable and readable (MLFLOW_TRACKING_URI, or the SQLite file in MLOPS_STATE_DIR) and try again"
    )


def metrics_of(version: ModelVersion) -> dict[str, float]:
    """Return the test metrics recorded on a version's tags."""
    return {
        key.removeprefix(METRIC_TAG_PREFIX): float(value)
        for key, value in version.tags.items()
        if key.startswith(METRIC_TAG_PREFIX)
    }


def get_version(name: str, version: str) -> ModelVersion:
    """Return one version of a registered model, or raise naming what exists."""
    from mlflow.exceptions import MlflowException

    try:
        return client().get_model_version(name, str(version))
    except MlflowException as error:
        if not not_found(error):
            raise store_error(f"cannot read {described(name, version)}", error) from None
        raise no_version(name, version) from None


def no_version(name: str, version: str) -> MlopsError:
    """Return the error for a version of ``name`` that is not registered."""
    return MlopsError(
        f"model '{name}' has no registered version '{version}'; train it first or pick "
        "an existing version (mlops list shows the champion)"
    )


def described(name: str, version: str) -> str:
    """Return how messages name a version: ``version 3 of 'taxi-fare'``."""
    return f"version {version} of '{name}'"


def download(version: ModelVersion, folder: str | Path) -> Path:
    """Download a registered version's MLflow model folder into ``folder`` and return its path once
    every file matches the digests recorded at registration (see ``mlops.registry.digests``)."""
    import mlflow.artifacts

    from mlops.registry import digests

    path = Path(mlflow.artifacts.download_artifacts(artifact_uri=version.source, dst_path=str(folder)))
    digests.check(path, version.tags, described(version.name, version.version))
    return path


def verified(version: ModelVersion) -> None:
    """Raise naming the file when a registered version's files changed since registration."""
    with tempfile.TemporaryDirectory() as folder:
        download(version, folder)


def load(version: ModelVersion, trusted_extra: Iterable[str]) -> Pipeline:
    """Download a registered version (its files checked) and load its pipeline with the checked skops
    allow-list."""
    with tempfile.TemporaryDirectory() as folder:
        return modelio.load(download(version, folder), trusted_extra, version.name)


def create_version(name: str, source: str, run_id: str, tags: dict[str, str]) -> str:
    """Register the MLflow model folder logged by run ``run_id`` at ``source`` (``runs:/<run_id>/...``)
    as a new version of ``name`` (created on first use) with ``tags``; return the version number. No
    logged model is involved: Azure ML's tracking server has none of MLflow 3's logged-models routes."""
    from mlflow.exceptions import MlflowException
    from mlflow.protos.databricks_pb2 import RESOURCE_ALREADY_EXISTS, ErrorCode

    mlflow_client = client()
    try:
        mlflow_client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code != ErrorCode.Name(RESOURCE_ALREADY_EXISTS):
            raise
    tags = checked_tags(tags, f"a new version of '{name}'")
    created = mlflow_client.create_model_version(name, source, run_id=run_id, tags=tags)
    return str(created.version)


def set_tags(name: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on one model version."""
    mlflow_client = client()
    for key, value in checked_tags(tags, described(name, version)).items():
        mlflow_client.set_model_version_tag(name, str(version), key, value)


def get_model(name: str) -> None:
    """Raise naming the fix when model ``name`` has no registered version yet."""
    from mlflow.exceptions import MlflowException

    try:
        client().get_registered_model(name)
    except MlflowException as error:
        if not not_found(error):
            raise store_error(f"cannot read model '{name}'", error) from None
        raise MlopsError(
            f"model '{name}' has no registered version; train it first (mlops train {name})"
        ) from None


def moves(name: str) -> list[dict[str, str | None]]:
    """Return every move of an alias of model ``name``, oldest first: the alias, the version it went
    to and came from, the action (``gate``, ``promote``, ``rollback``), who, when and why. Each move is
    its own registered-model tag, written once and never rewritten (an append-only history)."""
    tags = client().get_registered_model(name).tags
    found = []
    for key in sorted(tag for tag in tags if tag.startswith(MOVE_TAG_PREFIX)):
        try:
            found.append(json.loads(tags[key]))
        except ValueError:
            raise MlopsError(
                f"model '{name}': the alias history tag '{key}' is not JSON; it was altered"
            ) from None
    if not found and tags.get(LEGACY_HISTORY_TAG):  # a store written before moves were recorded
        versions = [item for item in tags[LEGACY_HISTORY_TAG].split(",") if item]
        found = [
            {
                "alias": CHAMPION,
                "version": version,
                "previous": previous,
                "action": "gate",
                "by": None,
                "at": None,
                "reason": "recorded before alias moves had details",
            }
            for previous, version in zip([None, *versions], versions, strict=False)
        ]
    return found


def history(name: str) -> list[str]:
    """Return the versions that held the champion alias and can be rolled back to, oldest first: each
    move appends its version, a rollback takes the version it left off the end."""
    held: list[str] = []
    for move in moves(name):
        if move["alias"] != CHAMPION:
            continue
        if move["action"] == "rollback":
            while held and held[-1] == move["previous"]:
                held.pop()
        if not held or held[-1] != move["version"]:
            held.append(str(move["version"]))
    return held


def move_alias(name: str, version: str, action: str, reason: str, alias: str = CHAMPION) -> None:
    """Point ``alias`` of model ``name`` at ``version`` (MLflow's alias, or the ``mlops.<alias>``
    registered-model tag where the store refuses alias routes) and append the move to its history."""
    mlflow_client = client()
    previous = holder(name, alias)
    if serves_aliases(project.tracking_uri()):
        mlflow_client.set_registered_model_alias(name, alias, str(version))
    else:
        mlflow_client.set_registered_model_tag(name, f"{ALIAS_TAG_PREFIX}{alias}", str(version))
    move = {
        "alias": alias,
        "version": str(version),
        "previous": str(previous.version) if previous else None,
        "action": action,
        "by": lineage.actor(),
        "at": lineage.now(),
        "reason": reason,
    }
    key = f"{MOVE_TAG_PREFIX}{time.time_ns():020d}"  # sorts by time; a new key per move
    mlflow_client.set_registered_model_tag(name, key, recorded(move))


def recorded(move: dict[str, str | None]) -> str:
    """Return a move as its history tag's JSON, its reason cut so the whole fits ``TAG_LIMIT``."""
    reason = str(move["reason"])
    text = json.dumps(move, ensure_ascii=False)
    while len(text) > TAG_LIMIT and reason:
        # an escaped character takes up to 6 characters of JSON: cut at least a sixth of the excess
        reason = fitted(reason, max(len(reason) - max((len(text) - TAG_LIMIT) // 6, 1), 0))
        text = json.dumps({**move, "reason": reason}, ensure_ascii=False)
    return text


def make_champion(name: str, version: str, reason: str = "passed the gate") -> None:
    """Move the champion alias to ``version`` by the gate's verdict, recording ``reason``."""
    move_alias(name, version, "gate", reason)


def promote(name: str, version: str, reason: str) -> None:
    """Make ``version`` the champion by hand once its files match their registered digests, recording
    who, why and when on it and in the alias history."""
    verified(get_version(name, version))
    with gate_lock(name):
        move_alias(name, version, "promote", reason)
    set_tags(
        name,
        version,
        {"promoted_by": lineage.actor(), "promoted_at": lineage.now(), "promoted_reason": fitted(reason)},
    )


def rollback(name: str, reason: str) -> tuple[str, str]:
    """Give the champion alias back to the previous champion; return (from, to) versions."""
    with gate_lock(name):
        current = champion(name)
        if current is None:
            raise MlopsError(f"model '{name}' has no champion to roll back")
        earlier = history(name)
        while earlier and earlier[-1] == str(current.version):
            earlier.pop()
        if not earlier:
            raise MlopsError(
                f"model '{name}' has no earlier champion than version {current.version}; "
                "use mlops promote to pick a version"
            )
        move_alias(name, earlier[-1], "rollback", reason)
    stamp = {"rolled_back_by": lineage.actor(), "rolled_back_at": lineage.now()}
    set_tags(name, str(current.version), {**stamp, "rolled_back_reason": fitted(reason)})
    set_tags(
        name, earlier[-1], {"restored_by": stamp["rolled_back_by"], "restored_at": stamp["rolled_back_at"]}
    )
    return str(current.version), earlier[-1]


def find_version(name: str, version: str | None, alias: str) -> ModelVersion:
    """Return ``version`` of the registered model, or the version holding ``alias``, or raise naming
    the fix."""
    if version is not None:
        return get_version(name, version)
    with answering(f"cannot read the {alias} of '{name}'"):
        found = holder(name, alias)
    if found is not None:
        return found
    raise no_alias(name, alias)


def no_alias(name: str, alias: str) -> MlopsError:
    """Return the error for a model without a version holding ``alias``."""
    if alias == CHAMPION:
        return MlopsError(
            f"model '{name}' has no champion; train it first (mlops train {name}) or pass --version"
        )
    return MlopsError(f"model '{name}' has no version with alias '{alias}'; pass --version")
