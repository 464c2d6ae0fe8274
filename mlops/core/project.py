"""Where things live: the project root, the model folders and the local state folder."""

from __future__ import annotations

import os
from pathlib import Path

from mlops.core.errors import MlopsError

MODELS_DIR = Path("data-science") / "models"
ROOT_ENV = "MLOPS_ROOT"
STATE_ENV = "MLOPS_STATE_DIR"
STATE_DIRNAME = ".mlops"


def root() -> Path:
    """Return the project root: ``$MLOPS_ROOT``; else the nearest parent of the working directory
    that holds ``data-science/models``; else the folder the ``mlops`` package itself sits in, when it
    holds one (an editable install run from elsewhere, or the code folder Azure ML uploaded, whose
    scripts start in a folder of their own)."""
    if os.environ.get(ROOT_ENV):
        path = Path(os.environ[ROOT_ENV]).expanduser().resolve()
        if not (path / MODELS_DIR).is_dir():
            raise MlopsError(f"{ROOT_ENV}={path} has no {MODELS_DIR} folder; point it at the repo root.")
        return path
    here = Path.cwd().resolve()
    package_home = Path(__file__).resolve().parents[2]
    for candidate in (here, *here.parents, package_home):
        if (candidate / MODELS_DIR).is_dir():
            return candidate
    raise MlopsError(
        f"no {MODELS_DIR} folder in {here} or its parents; run mlops inside the repo "
        f"or set {ROOT_ENV} to the repo root."
    )


def models_dir() -> Path:
    """Return the folder that holds one sub-folder per model."""
    return root() / MODELS_DIR


def state_path() -> Path:
    """Return where the local state folder is (``$MLOPS_STATE_DIR``, else ``<root>/.mlops``), without
    creating it."""
    return Path(os.environ[STATE_ENV]).expanduser() if os.environ.get(STATE_ENV) else root() / STATE_DIRNAME


def state_dir() -> Path:
    """Return the local state folder (see ``state_path``), created on use and kept owner-only (0700): it
    holds the registry, keys, logs and collected production inputs."""
    path = state_path()
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path.resolve()


def collected(name: str) -> Path:
    """Return the folder of the data collected by endpoint ``name`` (written by the endpoint, read by
    the monitor)."""
    return state_dir() / "collected" / name


def local_store_uri() -> str:
    """Return the URI of the SQLite store in the state folder."""
    return f"sqlite:///{state_dir() / 'mlflow.db'}"


def tracking_uri() -> str:
    """Return ``$MLFLOW_TRACKING_URI`` when set, else the SQLite store in the state folder."""
    return os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri()


def artifact_root() -> Path | None:
    """Return the state folder's artifact root when the local store is in use, else None (the
    tracking server or MLflow decides). MLflow itself exports ``MLFLOW_TRACKING_URI`` once a URI is
    set, so the test is the URI's value, not the variable's presence."""
    return state_dir() / "artifacts" if tracking_uri() == local_store_uri() else None
