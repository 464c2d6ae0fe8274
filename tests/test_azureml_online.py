"""The online deployment as Azure runs it: the rendered online environment (its pip list and nothing
else), the code folder as uploaded, the registered model mounted as Azure mounts it, the deployment's
environment variables, under Azure's own inference server (azmlinfsrv) with its data collector
posting to a receiver on 127.0.0.1. It must answer the whole scoring contract exactly as the local
endpoint does, and what it collects must be what ``mlops monitor`` reads.

Each server costs seconds (a gunicorn worker imports the framework and loads the model), so the
module builds one environment and one code upload, and starts one server per model.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from azure_runtime import (
    REPO,
    InferenceServer,
    Sidecar,
    build_environment,
    mount_model,
    pip_list,
    request,
    upload,
)
from contract_cases import MAX_BYTES, cases
from hostile import KINDS, Rows, generate, send

from mlops import registry
from mlops.azureml import render
from mlops.models import catalog
from mlops.models.features import feature_columns
from mlops.serving import endpoints, keys

pytestmark = pytest.mark.azure_runtime

GENERATED = ["data=generated", "data.n_rows=1500", "estimator.n_estimators=10"]
TRAIN = {
    "taxi-fare": GENERATED,
    "credit-default": GENERATED,
    "ticket-routing": [],
    "disease-progression": [],  # its own training loop in NumPy
    "parcel-delay": ["data.n_rows=1500"],  # native LightGBM
}
# one integer feature of each model, if it has one
MODELS = {
    "taxi-fare": "vendor",
    "credit-default": "sex",
    "ticket-routing": None,
    "disease-progression": "sex",
    "parcel-delay": None,
}
# the columns of the other kinds: ISO 8601 text, true/false, free text
COLUMN_KINDS = {
    "ticket-routing": {"datetime": "opened_at", "boolean": "premium", "text": "subject"},
    "parcel-delay": {"datetime": "shipped_at", "boolean": "fragile"},
}
CLASSIFIERS = ("credit-default", "ticket-routing", "parcel-delay")
# models that answer a double near float64's maximum: a scaler brings it back into range, LightGBM splits
# on doubles (a forest computes in float32 and refuses it)
SCALED = ("ticket-routing", "disease-progression", "parcel-delay")


@pytest.fixture(scope="module")
def store(trained_state, use_state):
    """Every model trained once, each version 1 the champion."""
    folder = trained_state("azure-online-state", [(name, TRAIN[name]) for name in MODELS])
    with use_state(folder):
        for name in MODELS:
            registry.make_champion(name, "1")
        yield folder


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Each model's definitions as ``mlops azure render`` writes them for dev."""
    found = {}
    for name in MODELS:
        folder = tmp_path_factory.mktemp(f"rendered-{name}")
        render.render(name, "dev", folder, version="3")
        found[name] = folder
    return found


@pytest.fixture(scope="module")
def app(tmp_path_factory, rendered) -> dict:
    """/var/azureml-app as Azure fills it: the code as uploaded, and each model's online environment
    built from its rendered conda file (one build per distinct pip list: the lock pins every model's
    packages from the framework's one resolution, so today all share one)."""
    root = tmp_path_factory.mktemp("var") / "azureml-app"
    built: dict[tuple[str, ...], Path] = {}
    bins = {}
    for name, folder in rendered.items():
        packages = tuple(pip_list(folder / "environments" / "online.conda.yaml"))
        if packages not in built:
            built[packages] = build_environment(
                folder / "environments" / "online.conda.yaml", tmp_path_factory.mktemp("env") / "online"
            )
        bins[name] = built[packages]
    # every model's requirements are within the framework's own pins (LightGBM among them): one environment
    assert len(built) == 1
    return {"root": root, "code": upload(REPO, root), "bin": bins}


def deployment_settings(folder: Path) -> dict:
    """Return the rendered online deployment of ``folder``."""
    return yaml.safe_load((folder / "online-deployment-blue.yml").read_text())


@pytest.fixture(scope="module")
def azure(store, use_state, app, rendered, tmp_path_factory):
    """One azmlinfsrv per model, started as Azure starts a deployment; taxi-fare's data collector posts
    to a receiver, credit-default's is off (a deployment without data_collector)."""
    servers, sidecar = {}, None
    try:
        for name in MODELS:
            with use_state(store):
                source = registry.download(
                    registry.champion(name), tmp_path_factory.mktemp(f"download-{name}")
                )
            model_dir = mount_model(source, app["root"], name, "1")
            variables = dict(deployment_settings(rendered[name])["environment_variables"])
            if name == "taxi-fare":
                sidecar = Sidecar(tmp_path_factory.mktemp("collected"), "taxi-fare-dev", "blue")
                variables |= sidecar.config(tmp_path_factory.mktemp("mdc"), ["model_inputs", "model_outputs"])
            log = tmp_path_factory.mktemp(f"log-{name}") / "azmlinfsrv.log"
            servers[name] = InferenceServer(app["bin"][name], app["code"], model_dir, variables, log)
        yield servers, sidecar
    finally:
        for server in servers.values():
            server.stop()
        if sidecar:
            sidecar.stop()


@pytest.fixture(scope="module")
def local(store, use_state):
    """The local endpoint of each model (mlops deploy), the other side of every comparison."""
    with use_state(store):
        served = {}
        try:
            for name in MODELS:
                settings = dict(catalog.load_config(name).deployment.online)
                record = endpoints.deploy(name, "blue", "1", None, None, settings, [])
                served[name] = (record["port"], keys.read(endpoints.folder(name))["primary"])
            yield served
        finally:
            for name in served:
                endpoints.stop(name)


def feature_rows(name: str, count: int = 3) -> list[dict]:
    """Return ``count`` unseen feature rows of ``name``, numbers as JSON numbers in signature order
    (ticket-routing's from its batch file: date-times as the file's ISO 8601 text)."""
    cfg = catalog.load_config(name)
    if name == "disease-progression":
        from disease_progression.data import read

        frame = read("diabetes-batch.csv").head(count)[feature_columns(cfg)]
    elif name == "ticket-routing":
        from ticket_routing.data import read_tickets

        frame = read_tickets("tickets-batch.csv").head(count)[feature_columns(cfg)]
        frame["premium"] = frame["premium"].map({"True": True, "False": False, True: True, False: False})
    else:
        module = __import__(f"{name.replace('-', '_')}.data", fromlist=["load"])
        frame = module.load(n_rows=count, seed=5)[feature_columns(cfg)]
    frame = frame.astype({column: "float64" for column in cfg.schema.numeric})
    return json.loads(frame.to_json(orient="records"))


def ask_local(port: int, key: str, case) -> tuple[int, object]:
    """Send a case to the local endpoint with its key; return status and answer."""
    headers = {**case.headers(), "Authorization": f"Bearer {key}"}
    status, answer, _ = request(port, case.method, "/score", case.body or None, headers)
    return status, answer


@pytest.mark.parametrize("name", list(MODELS))
def test_azure_answers_the_whole_contract_as_the_local_endpoint_does(azure, local, name):
    servers, _ = azure
    port, key = local[name]
    contract = cases(
        feature_rows(name),
        MODELS[name],
        name in CLASSIFIERS,
        COLUMN_KINDS.get(name),
        scaled=name in SCALED,
    )
    differing = []
    for case in contract:
        status, answer, _ = servers[name].score(case.body or None, case.headers(), case.method)
        expected = ask_local(port, key, case)
        if (status, answer) != expected or case.status not in (None, status):
            differing.append(
                f"{case.name}: azure {status} {answer!r:.200} / local {expected[0]} {expected[1]!r:.200}"
            )
        if status != 200:
            assert set(answer) == {"message"}, case.name
    assert not differing, "\n".join(differing)


def test_hostile_requests_never_get_a_5xx_or_a_traceback_from_azures_server(azure):
    servers, _ = azure
    server = servers["taxi-fare"]
    rows = Rows(feature_rows("taxi-fare", 10), numeric="distance", integer="vendor")
    before = server.log.read_text(errors="replace").count("Traceback")
    statuses = {}
    for hostile in generate(rows, 2 * len(KINDS), seed=3):
        status = send(server.port, "no keys here: Azure's front end checks them", hostile)
        statuses.setdefault(status, set()).add(hostile.kind)
    assert not {status: kinds for status, kinds in statuses.items() if status >= 500}
    assert server.log.read_text(errors="replace").count("Traceback") == before
    body = json.dumps({"dataframe_records": rows.rows[:2]}).encode()
    assert server.score(body, {"Content-Type": "application/json"})[0] == 200


def test_classifier_probabilities_are_class_objects(azure):
    servers, _ = azure
    rows = feature_rows("credit-default")
    body = json.dumps({"dataframe_records": rows, "params": {"probabilities": True}}).encode()
    status, answer, _ = servers["credit-default"].score(body, {"Content-Type": "application/json"})
    assert status == 200
    assert len(answer["probabilities"]) == len(rows)
    for predicted, probabilities in zip(answer["predictions"], answer["probabilities"], strict=True):
        assert set(probabilities) == {"0", "1"} and sum(probabilities.values()) == pytest.approx(1)
        assert predicted == int(max(probabilities, key=probabilities.get))


def test_the_deployment_renders_the_local_endpoint_settings_and_fits_the_instance(rendered):
    deployment = deployment_settings(rendered["taxi-fare"])
    variables = deployment["environment_variables"]
    online = catalog.load_config("taxi-fare").deployment.online
    assert variables["MLOPS_MAX_REQUEST_BYTES"] == str(MAX_BYTES) == str(online.max_request_bytes)
    assert (variables["MLOPS_BATCH_WAIT_MS"], variables["MLOPS_MAX_BATCH_ROWS"]) == (
        str(online.batch_wait_ms),
        str(online.max_batch_rows),
    )
    assert variables["WORKER_COUNT"] == "4"  # Standard_DS3_v2 has 4 vCPUs: one worker each
    assert variables["GUNICORN_CMD_ARGS"] == "--threads 4 --keep-alive 0"
    assert deployment["request_settings"] == {
        "request_timeout_ms": 5000,
        "max_concurrent_requests_per_instance": 16,  # 4 workers x 4 threads
    }


def collected_rows(root: Path, ids: set[str]) -> list[dict]:
    """Wait until the receiver stored both records of every request id; return the monitor's rows."""
    from datetime import UTC, datetime, timedelta

    from mlops.monitoring import production

    deadline = time.monotonic() + 30
    while True:
        window = production.Window(
            datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC) + timedelta(hours=1)
        )
        columns = feature_columns(catalog.load_config("taxi-fare"))
        reader = production.Reader(columns, window)
        frames = list(reader.chunks(production.files(root))) if any(root.rglob("*.jsonl")) else []
        rows = [row for frame in frames for row in frame.to_dict("records")]
        keys = {row["correlationid"].rsplit("_", 1)[0] for row in rows if row["prediction"] is not None}
        if ids <= keys or time.monotonic() > deadline:
            return rows
        time.sleep(0.2)


def test_what_azure_collects_is_what_the_monitor_reads(azure):
    servers, sidecar = azure
    rows = feature_rows("taxi-fare", 4)
    answered = {}
    for number in range(3):
        request_id = f"request-{number}"
        body = json.dumps({"dataframe_records": rows[number : number + 2]}).encode()
        status, answer, headers = servers["taxi-fare"].score(
            body, {"Content-Type": "application/json", "x-request-id": request_id}
        )
        assert status == 200 and headers["azureml-correlation-id"] == request_id
        answered[request_id] = answer["predictions"]
    refused = servers["taxi-fare"].score(b"{}", {"Content-Type": "application/json", "x-request-id": "bad"})
    assert refused[0] == 400
    read = collected_rows(sidecar.root, set(answered))
    by_request = {}
    for row in read:
        request_id, index = row["correlationid"].rsplit("_", 1)
        by_request.setdefault(request_id, {})[int(index)] = row
    assert set(answered) <= set(by_request) and "bad" not in by_request  # nothing of the refused request
    for request_id, predictions in answered.items():
        number = int(request_id.rsplit("-", 1)[1])
        got = by_request[request_id]
        assert [got[index]["prediction"] for index in sorted(got)] == pytest.approx(predictions)
        assert [got[index]["distance"] for index in sorted(got)] == [
            row["distance"] for row in rows[number : number + 2]
        ]
    posted = {post["headers"]["ce-type"] for post in sidecar.posts}
    assert posted == {"azureml.inference.model_inputs", "azureml.inference.model_outputs"}
    assert all(post["path"] == "/modeldata/log" for post in sidecar.posts)


def test_without_collection_the_server_scores_and_warns_once_per_worker(azure):
    servers, _ = azure
    server = servers["credit-default"]
    before = server.log.read_text().count("data collection is off")
    body = json.dumps({"dataframe_records": feature_rows("credit-default")}).encode()
    for _ in range(5):
        assert server.score(body, {"Content-Type": "application/json"})[0] == 200
    assert before >= 1 and server.log.read_text().count("data collection is off") == before


def test_a_broken_import_path_or_a_missing_server_fails_naming_the_cause(app, tmp_path):
    code = upload(REPO, tmp_path / "app")
    script = code / "mlops" / "azureml" / "runtime" / "score.py"
    script.write_text(script.read_text().replace("    sys.path.insert(0, str(CODE))", "    pass"))
    model_dir = tmp_path / "app" / "azureml-models" / "taxi-fare" / "1"
    variables = {"MLOPS_MODEL": "taxi-fare"}
    with pytest.raises(AssertionError, match="No module named 'mlops'"):
        InferenceServer(app["bin"]["taxi-fare"], code, model_dir, variables, tmp_path / "broken.log")
    subprocess.run([shutil.which("uv") or "uv", "venv", "--quiet", str(tmp_path / "bare")], check=True)
    with pytest.raises(AssertionError, match="lacks azureml-inference-server-http"):
        InferenceServer(tmp_path / "bare" / "bin", code, model_dir, variables, tmp_path / "bare.log")
