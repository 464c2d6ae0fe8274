"""Registration against a real MLflow tracking server that, like Azure ML's, answers 404 on every
route of MLflow 3's logged-models API (Azure/azure-sdk-for-python#44896): a reverse proxy in front of
``mlflow server`` forwards every other request unchanged and records the ones it refuses."""

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlops import catalog, registry
from mlops.features import feature_columns
from mlops.monitoring import baseline
from mlops.training import train_model

REFUSED = "/mlflow/logged-models"
AZURE_NOT_FOUND = {"error": {"code": "UserError", "message": "The requested route was not found."}}
# response headers the proxy sets itself: it sends whole bodies with their own length
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length"}


def free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real ``mlflow server`` on a SQLite store that proxies artifacts; yields its port."""
    folder = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    env |= {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_DISABLE_TELEMETRY": "true"}
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", "1", "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    command += ["--artifacts-destination", str(folder / "artifacts")]
    with open(folder / "server.log", "wb") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + 90
    while True:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1).close()
            break
        except OSError:
            if server.poll() is not None or time.monotonic() > deadline:
                server.kill()
                pytest.fail(f"mlflow server did not start:\n{(folder / 'server.log').read_text()[-3000:]}")
            time.sleep(0.2)
    yield port
    server.terminate()
    server.wait(timeout=30)


class RefusingProxy(ThreadingHTTPServer):
    """Forwards each request to the upstream port as it came, except the logged-models routes,
    which it answers 404 like Azure ML; records the paths of both."""

    daemon_threads = True

    def __init__(self, upstream: int):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream = upstream
        self.forwarded: list[str] = []
        self.refused: list[str] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class ProxyHandler(BaseHTTPRequestHandler):
    server: RefusingProxy

    def forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = f"{self.command} {self.path.split('?')[0]}"
        if REFUSED in self.path:
            self.server.refused.append(route)
            self.answer(404, [("Content-Type", "application/json")], json.dumps(AZURE_NOT_FOUND).encode())
            return
        self.server.forwarded.append(route)
        upstream = http.client.HTTPConnection("127.0.0.1", self.server.upstream, timeout=60)
        try:
            upstream.request(self.command, self.path, body=body, headers=dict(self.headers))
            response = upstream.getresponse()
            headers = [(key, value) for key, value in response.getheaders() if key.lower() not in HOP_BY_HOP]
            self.answer(response.status, headers, response.read())
        finally:
            upstream.close()

    def answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response(status)
        for key, value in headers:
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = forward

    def log_message(self, *args) -> None:
        """Keep the test's output to what the test prints."""


@pytest.fixture(scope="module")
def proxy(mlflow_server):
    """The refusing proxy in front of the server, serving from a thread."""
    server = RefusingProxy(mlflow_server)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_training_registers_through_a_server_without_logged_models(proxy, monkeypatch, tmp_path):
    from mlflow.models import Model

    monkeypatch.setenv("MLFLOW_TRACKING_URI", proxy.url)
    outcome = train_model(
        "taxi-fare",
        ["data=generated", "data.n_rows=1500", "estimator.n_estimators=10"],
        echo=lambda _line: None,
    )
    # the old path (mlflow.sklearn.log_model) failed here on POST /api/2.0/mlflow/logged-models
    assert proxy.refused == []
    assert "POST /api/2.0/mlflow/model-versions/create" in proxy.forwarded
    assert any(route.startswith("PUT /api/2.0/mlflow-artifacts/") for route in proxy.forwarded)

    assert (outcome.version, outcome.promoted) == ("1", True)
    version = registry.champion("taxi-fare")
    assert str(version.version) == "1"
    assert version.source == f"runs:/{version.run_id}/model"
    run = registry.client().get_run(version.run_id)
    assert run.info.run_name == "train"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # stored by the server, through the proxy

    folder = registry.download(version, tmp_path)
    features = feature_columns(catalog.load_config("taxi-fare"))
    signature = Model.load(str(folder)).signature
    assert signature.inputs.input_names() == features
    assert Model.load(version.source).signature == signature  # what batch scoring reads
    assert (folder / "input_example.json").is_file()
    assert (folder / "serving_input_example.json").is_file()
    recorded = baseline.load(folder, registry.described("taxi-fare", "1"), "taxi-fare")
    assert set(recorded.columns) == {*features, baseline.PREDICTION}
    assert len(recorded.sample) > 0
    assert recorded.profile["test_metrics"] == pytest.approx(outcome.metrics)
    # reading a runs:/ source also looks for a logged model of the run; MLflow ignores the refusal
    assert set(proxy.refused) == {"POST /api/2.0/mlflow/logged-models/search"}

    assert registry.metrics_of(version) == pytest.approx(outcome.metrics)
    tags = version.tags
    assert tags["gate"] == "promoted"
    assert len(tags["git_commit"]) == 40
    assert len(tags["data_fingerprint"]) == 64
    assert tags["split_seed"] == "42"
    assert tags["overrides"] == "data=generated data.n_rows=1500 estimator.n_estimators=10"
