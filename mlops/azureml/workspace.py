"""The Azure ML workspace of an environment: the SDK it needs, an authenticated ``MLClient`` on it, and
its authentication and service failures as one line naming the fix."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from omegaconf import DictConfig


def require_sdk(*modules: str) -> None:
    """Refuse to go on without azure-ai-ml (and ``modules``), saying how to install them."""
    import importlib

    for module in ("azure.ai.ml", *modules):
        try:
            importlib.import_module(module)
        except ImportError:
            raise MlopsError(
                f"{module} is not installed; install the Azure extra: pip install -e '.[azure]'"
            ) from None


def client(cfg: DictConfig, registry: bool = False) -> Any:
    """Return an ``MLClient`` on the environment's workspace (or its registry), authenticated as
    ``credentials.credential`` says (GitHub's OIDC tokens in a workflow job, else
    ``DefaultAzureCredential``)."""
    require_sdk("azure.identity")
    from azure.ai.ml import MLClient

    from mlops.azureml import credentials

    logging.getLogger("azure.identity").setLevel(logging.CRITICAL)  # a failure becomes one line instead
    azure = cfg.env.azure
    credential = credentials.credential()
    if registry:
        return MLClient(credential, registry_name=str(azure.registry))
    return MLClient(credential, str(azure.subscription_id), str(azure.resource_group), str(azure.workspace))


@contextmanager
def errors(env: str) -> Iterator[None]:
    """Turn an authentication or service failure into one line naming the fix."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    try:
        yield
    except ClientAuthenticationError as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MlopsError(
            f"Azure authentication failed for the {env} workspace ({first}); run 'az login', or set "
            "AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_FEDERATED_TOKEN_FILE (workload identity)"
        ) from None
    except HttpResponseError as error:
        raise MlopsError(f"Azure ML refused the request in {env}: {error.message or error}") from None
