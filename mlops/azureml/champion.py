"""Which version an Azure ML deployment or monitor names when no ``--version`` is given: the model's
champion in the environment's workspace, read through ``mlops.registry`` (the MLflow alias, or the
``mlops.champion`` tag where the workspace refuses alias routes), as a number, never ``@latest``
(which would serve the last registered version, even one the gate rejected)."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from omegaconf import DictConfig


def version(cfg: DictConfig, asked: str | None, client: Any = None) -> str:
    """Return ``asked``, else the number of the version holding the champion of ``cfg.name`` in the
    environment's workspace. An environment that deploys from the Azure ML registry
    (``env.azure.models_from_registry``) needs ``asked``: MLflow does not reach that registry, and
    which version serves there is the one ``mlops azure promote`` shared."""
    from mlops import registry

    if asked is not None:
        return str(asked)
    env = str(cfg.env.name)
    if cfg.env.azure.models_from_registry:
        raise MlopsError(
            f"{cfg.name}: {env} deploys versions shared into registry {cfg.env.azure.registry}; pass "
            f"--version N (the version mlops azure promote shared)"
        )
    with workspace_tracking(cfg, client):
        return str(registry.find_version(cfg.name, None, registry.CHAMPION).version)


@contextlib.contextmanager
def workspace_tracking(cfg: DictConfig, client: Any = None) -> Iterator[None]:
    """Point MLflow at the environment's workspace inside the block: ``MLFLOW_TRACKING_URI`` when set
    (inside Azure ML jobs, or a store named on purpose), else the workspace's own ``mlflow_tracking_uri``
    asked of Azure ML through ``client`` (default an authenticated ``MLClient``), which azureml-mlflow
    serves."""
    from mlops.azureml import workspace
    from mlops.core import project

    if project.tracking_uri() != project.local_store_uri():  # MLflow exports the local store's URI too
        yield
        return

    env = str(cfg.env.name)
    if importlib.util.find_spec("azureml.mlflow") is None:
        raise MlopsError(
            f"{cfg.name}: reading the champion in {env}'s workspace needs azureml-mlflow (pip install "
            "azureml-mlflow), or set MLFLOW_TRACKING_URI to the workspace's tracking URI; or pass --version N"
        )
    client = client or workspace.client(cfg)
    with workspace.errors(env):
        uri = client.workspaces.get(str(cfg.env.azure.workspace)).mlflow_tracking_uri
    os.environ["MLFLOW_TRACKING_URI"] = uri
    try:
        yield
    finally:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
