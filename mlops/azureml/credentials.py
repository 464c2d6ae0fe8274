"""The Azure credential of every submission. In a GitHub Actions job that may request OpenID Connect
tokens, it asks GitHub for a fresh token whenever Entra ID needs one: the copy ``azure/login`` hands
to the Azure CLI expires after 10 minutes and the CLI cannot renew it, so a long training stream
would fail once the CLI's access token runs out (Azure/login#180). Elsewhere it is
``DefaultAzureCredential`` (Azure CLI, workload identity, environment variables)."""

from __future__ import annotations

import json
import os
import urllib.parse
import urllib.request
from typing import Any

from mlops.core.errors import MlopsError

# set by GitHub in a job whose permissions include id-token: write
REQUEST_URL = "ACTIONS_ID_TOKEN_REQUEST_URL"
REQUEST_TOKEN = "ACTIONS_ID_TOKEN_REQUEST_TOKEN"
# the audience Entra ID's federated credentials expect (infrastructure/modules/identity.bicep)
AUDIENCE = "api://AzureADTokenExchange"
# seconds a credential that shells out (Azure CLI, azd, PowerShell) may take before it counts as failed
PROCESS_TIMEOUT = 10


def github_oidc_token() -> str:
    """Return a fresh OpenID Connect token of the running GitHub Actions job, for Entra ID."""
    url = f"{os.environ[REQUEST_URL]}&audience={urllib.parse.quote(AUDIENCE, safe='')}"
    request = urllib.request.Request(url, headers={"Authorization": f"bearer {os.environ[REQUEST_TOKEN]}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return str(json.load(response)["value"])
    except (OSError, ValueError, KeyError) as error:
        raise MlopsError(
            f"GitHub did not issue an OpenID Connect token ({error}); give the job "
            "permissions: id-token: write"
        ) from None


def from_github() -> bool:
    """Whether this is a GitHub Actions job that may request OIDC tokens, with the identity to use."""
    names = (REQUEST_URL, REQUEST_TOKEN, "AZURE_CLIENT_ID", "AZURE_TENANT_ID")
    return all(os.environ.get(name) for name in names)


def credential() -> Any:
    """Return the credential submissions authenticate with (see the module docstring)."""
    from azure.identity import ClientAssertionCredential, DefaultAzureCredential

    if from_github():
        return ClientAssertionCredential(
            os.environ["AZURE_TENANT_ID"], os.environ["AZURE_CLIENT_ID"], github_oidc_token
        )
    return DefaultAzureCredential(process_timeout=PROCESS_TIMEOUT)
