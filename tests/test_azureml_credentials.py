"""The credential of submissions: in a GitHub Actions job it asks a real HTTP endpoint on 127.0.0.1,
standing where GitHub's token service is, for a fresh OIDC token every time."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from mlops.azureml import credentials
from mlops.core.errors import MlopsError

REQUEST_TOKEN = "runtime-token-123"


class TokenService(BaseHTTPRequestHandler):
    """GitHub's ID token endpoint: a new token per request, to a caller with the job's bearer token."""

    issued: ClassVar[list[tuple[str, str]]] = []
    status = 200

    def do_GET(self) -> None:
        self.issued.append((self.path, self.headers.get("Authorization", "")))
        body = json.dumps({"value": f"oidc-{len(self.issued)}"}).encode()
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def github_job(monkeypatch) -> Iterator[type[TokenService]]:
    """The environment of a job with id-token: write and the identity's variables set."""
    TokenService.issued, TokenService.status = [], 200
    server = ThreadingHTTPServer(("127.0.0.1", 0), TokenService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv(
        credentials.REQUEST_URL, f"http://127.0.0.1:{server.server_port}/token?api-version=2.0"
    )
    monkeypatch.setenv(credentials.REQUEST_TOKEN, REQUEST_TOKEN)
    monkeypatch.setenv("AZURE_CLIENT_ID", "00000000-0000-0000-0000-00000000c11d")
    monkeypatch.setenv("AZURE_TENANT_ID", "00000000-0000-0000-0000-0000000007e1")
    yield TokenService
    server.shutdown()


def test_a_github_job_gets_a_fresh_token_for_each_assertion(github_job):
    from azure.identity import ClientAssertionCredential

    assert isinstance(credentials.credential(), ClientAssertionCredential)
    assert [credentials.github_oidc_token(), credentials.github_oidc_token()] == ["oidc-1", "oidc-2"]
    path, authorization = github_job.issued[0]
    assert path == "/token?api-version=2.0&audience=api%3A%2F%2FAzureADTokenExchange"
    assert authorization == f"bearer {REQUEST_TOKEN}"


def test_a_refused_token_request_names_the_permission(github_job):
    github_job.status = 403
    with pytest.raises(MlopsError, match="give the job permissions: id-token: write"):
        credentials.github_oidc_token()


@pytest.mark.parametrize("missing", [credentials.REQUEST_URL, "AZURE_CLIENT_ID"])
def test_elsewhere_the_default_chain_is_used(github_job, monkeypatch, missing):
    from azure.identity import DefaultAzureCredential

    monkeypatch.delenv(missing)
    assert isinstance(credentials.credential(), DefaultAzureCredential)
