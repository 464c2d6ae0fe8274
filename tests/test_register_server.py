"""Registration against a real MLflow tracking server that, like Azure ML's, answers 404 on every
route of MLflow 3's logged-models API (Azure/azure-sdk-for-python#44896): a reverse proxy in front of
``mlflow server`` forwards every other request unchanged and records the ones it refuses. A second
kind of proxy also refuses the registered-model alias routes, which Azure ML's registry documents none
of: the champion then lives in the ``mlops.champion`` tag, and register, the gate's compare-and-set,
promote, rollback and the version a deploy resolves work the same."""

import contextlib
import hashlib
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
from pathlib import Path

import pytest
import yaml
from omegaconf import OmegaConf

from mlops import registry
from mlops.core.errors import MlopsError
from mlops.models import catalog
from mlops.models.features import feature_columns
from mlops.monitoring import baseline
from mlops.training.run import train_model

REFUSED = "/mlflow/logged-models"
ALIAS_ROUTE = "/mlflow/registered-models/alias"  # get, set (POST) and delete an alias
AZURE_NOT_FOUND = {"error": {"code": "UserError", "message": "The requested route was not found."}}
# how a store that lacks a route answers: Azure's tracking server a 404 with no body (#44896)
EMPTY_404 = (404, b"")
ENDPOINT_NOT_FOUND = (
    404,
    json.dumps({"error_code": "ENDPOINT_NOT_FOUND", "message": "no such route"}).encode(),
)
REFUSALS = {
    "empty 404": EMPTY_404,
    "ENDPOINT_NOT_FOUND": ENDPOINT_NOT_FOUND,
    "empty 405": (405, b""),
    "NOT_IMPLEMENTED": (501, json.dumps({"error_code": "NOT_IMPLEMENTED", "message": "no aliases"}).encode()),
}
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
    which it answers 404 like Azure ML, and the routes of ``refusals`` (a part of the path: the status
    and body it answers with); records the paths of both."""

    daemon_threads = True

    def __init__(self, upstream: int, refusals: dict[str, tuple[int, bytes]] | None = None):
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        self.upstream = upstream
        self.refusals = {REFUSED: (404, json.dumps(AZURE_NOT_FOUND).encode()), **(refusals or {})}
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
        for part, (status, answer) in self.server.refusals.items():
            if part in self.path:
                self.server.refused.append(route)
                self.answer(status, [("Content-Type", "application/json")] if answer else [], answer)
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


@contextlib.contextmanager
def serving(server: RefusingProxy):
    """Serve ``server`` from a thread inside the block."""
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def proxy(mlflow_server):
    """The proxy refusing logged models in front of the server."""
    with serving(RefusingProxy(mlflow_server)) as server:
        yield server


@pytest.fixture(scope="module")
def aliasless(mlflow_server):
    """A proxy in front of the same server that also refuses every alias route as Azure ML's tracking
    server refuses a route it lacks: 404 with no body."""
    with serving(RefusingProxy(mlflow_server, {ALIAS_ROUTE: EMPTY_404})) as server:
        yield server


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
    # every tag written, on the version and on the registered model, fits the registry's limit, on the
    # example whose resolved config is the largest (more than the limit: it travels as config.yaml)
    sizes = {
        name: len(OmegaConf.to_yaml(catalog.load_config(name), resolve=True))
        for name in catalog.model_names()
    }
    assert max(sizes, key=sizes.get) == "taxi-fare", "register the largest example config here"
    model_tags = registry.client().get_registered_model("taxi-fare").tags
    assert max(len(value) for value in {**tags, **model_tags}.values()) <= registry.TAG_LIMIT
    config = registry.client().download_artifacts(version.run_id, "config.yaml", str(tmp_path))
    text = Path(config).read_text()
    assert len(text) > registry.TAG_LIMIT  # the whole config, as trained
    assert tags["config"] == f"runs:/{version.run_id}/config.yaml"
    assert tags["config_sha256"] == hashlib.sha256(text.encode()).hexdigest()


FAST = ["data=generated", "data.n_rows=1500", "estimator.n_estimators=20"]
MODEL = "credit-default"  # the model the alias-refusing store holds (taxi-fare has an alias upstream)


def quiet(_line: str) -> None:
    pass


def alias_requests(server: RefusingProxy) -> list[str]:
    return [route for route in server.refused if ALIAS_ROUTE in route]


@pytest.fixture(scope="module")
def first(aliasless):
    """The first version of MODEL, trained through the alias-refusing proxy."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", aliasless.url)
        yield train_model(MODEL, FAST, echo=quiet)


def test_without_alias_routes_the_champion_is_a_tag_moved_by_the_gate_promote_and_rollback(
    aliasless, first, monkeypatch
):
    from click.testing import CliRunner

    from mlops.cli import cli
    from mlops.cli.serving import by_alias

    monkeypatch.setenv("MLFLOW_TRACKING_URI", aliasless.url)
    # the first evaluate read the refused alias route as "look in the tag", not as a store failure
    assert (first.version, first.promoted) == ("1", True)
    assert alias_requests(aliasless) == [f"GET /api/2.0{ALIAS_ROUTE}"]  # the probe, once per store
    model = registry.client().get_registered_model(MODEL)
    assert (model.tags["mlops.champion"], model.aliases) == ("1", {})
    assert str(registry.champion(MODEL).version) == "1"

    second = train_model(MODEL, [*FAST, "data.seed=7"], echo=quiet)  # the gate compares with the tag's
    assert registry.get_version(MODEL, second.version).tags["compared_with_champion"] == "1"
    held = "1" if not second.promoted else second.version
    assert str(registry.champion(MODEL).version) == held

    runner = CliRunner()
    chosen = "2" if held == "1" else "1"
    promoted = runner.invoke(cli, ["promote", MODEL, chosen, "--reason", "picked by hand"])
    assert promoted.exit_code == 0, promoted.output
    assert str(registry.champion(MODEL).version) == chosen
    assert registry.client().get_registered_model(MODEL).tags["mlops.champion"] == chosen
    third = train_model(MODEL, [*FAST, "data.seed=8"], echo=quiet)  # compared with the champion of now
    assert registry.get_version(MODEL, third.version).tags["compared_with_champion"] == chosen
    now = third.version if third.promoted else chosen
    assert registry.history(MODEL)[-1] == now

    rolled = runner.invoke(cli, ["rollback", MODEL, "--reason", "back"])
    assert rolled.exit_code == 0, rolled.output
    before = registry.history(MODEL)[-1]
    assert before != now and str(registry.champion(MODEL).version) == before
    assert [move["action"] for move in registry.moves(MODEL)][-1] == "rollback"
    # what a deploy, a batch job, a monitor and a card resolve: the tag's version
    assert str(by_alias(MODEL, registry.CHAMPION).version) == before
    assert str(registry.find_version(MODEL, None, registry.CHAMPION).version) == before
    assert registry.aliases(registry.get_version(MODEL, before)) == [registry.CHAMPION]
    assert alias_requests(aliasless) == [f"GET /api/2.0{ALIAS_ROUTE}"]  # still only the probe


def test_azure_definitions_name_the_champions_number_never_latest(aliasless, first, monkeypatch, tmp_path):
    from mlops.azureml import render, submit

    monkeypatch.setenv("MLFLOW_TRACKING_URI", aliasless.url)  # as inside Azure ML, the workspace's store
    champion = str(registry.champion(MODEL).version)
    render.render(MODEL, "dev", tmp_path / "r")
    rendered = {path.name: path.read_text() for path in (tmp_path / "r").rglob("*.yml")}
    assert not [
        name for name, text in rendered.items() if f"{MODEL}@latest" in text or "labels/latest" in text
    ]
    online = yaml.safe_load(rendered["online-deployment-blue.yml"])
    assert online["model"] == f"azureml:{MODEL}:{champion}"
    assert yaml.safe_load(rendered["batch-deployment.yml"])["model"] == f"azureml:{MODEL}:{champion}"
    signals = yaml.safe_load(rendered["monitor.yml"])["create_monitor"]["monitoring_signals"]
    paths = {signal["reference_data"]["input_data"]["path"] for signal in signals.values()}
    assert paths == {f"azureml:{MODEL}-training:{champion}"}
    # the submissions' dry runs resolve it the same way
    batch = submit.run(lambda folder: submit.batch_plan(MODEL, "dev", folder, "blue", None), True, quiet)
    assert batch.steps[-1][1].model == f"{MODEL}:{champion}"
    online_plan = submit.run(
        lambda folder: submit.online_plan(MODEL, "dev", folder, "blue", None, {}), True, quiet
    )
    assert online_plan.steps[2][1].model == f"{MODEL}:{champion}"
    monitor = submit.run(lambda folder: submit.monitor_plan(MODEL, "dev", folder, False, None), True, quiet)
    assert monitor.steps[0][1].version == champion


def test_a_model_with_no_champion_is_one_line_naming_the_model_and_the_fix(aliasless, first, monkeypatch):
    from mlops.azureml import champion, render

    monkeypatch.setenv("MLFLOW_TRACKING_URI", aliasless.url)
    with pytest.raises(MlopsError) as raised:
        champion.version(render.compose("breast-cancer", "dev"), None)
    assert str(raised.value) == (
        "model 'breast-cancer' has no champion; train it first (mlops train breast-cancer) or pass --version"
    )


@pytest.mark.parametrize("refusal", sorted(set(REFUSALS) - {"empty 404"}))
def test_every_way_a_store_refuses_alias_routes_reads_the_champion_tag(
    mlflow_server, first, monkeypatch, refusal
):
    with serving(RefusingProxy(mlflow_server, {ALIAS_ROUTE: REFUSALS[refusal]})) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        assert registry.serves_aliases(server.url) is False
        tagged = registry.client().get_registered_model(MODEL).tags["mlops.champion"]
        assert str(registry.champion(MODEL).version) == tagged
        assert alias_requests(server) == [f"GET /api/2.0{ALIAS_ROUTE}"]


def test_a_store_that_fails_is_still_an_error_never_no_champion(mlflow_server, first, monkeypatch):
    with serving(RefusingProxy(mlflow_server, {"/mlflow/registered-models/": (500, b"")})) as server:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", server.url)
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # answer at once, not after backoff
        with pytest.raises(MlopsError, match=rf"cannot read the champion of '{MODEL}': the registry store"):
            registry.champion(MODEL)
