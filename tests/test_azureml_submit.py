"""Submissions at the seam where ``MLClient`` is called: the exact entities (and the REST payloads the
SDK builds from them offline) that train, deploy, monitor and promote would send. Azure itself is out
of reach here, so a recorder stands where the client would be."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml
from azure_runtime import model_with_baseline

from mlops.azureml import submit, workspace
from mlops.core.errors import MlopsError
from mlops.monitoring import baseline, reference
from mlops.registry import digests

# what the pipeline's register step writes to its registration output (tests/test_steps.py runs it)
REGISTERED = {"model": "taxi-fare", "version": "7", "champion": True, "reason": "rmse 2.1 beats 2.4"}
# the online endpoint: green takes most of the traffic and serves version 1
TRAFFIC = {"blue": 10, "green": 90}
SERVES = {"blue": "2", "green": "1"}
WORKSPACE = "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"


class Poller:
    """What a begin_* operation returns: the entity, once done."""

    def __init__(self, entity):
        self.entity = entity

    def result(self):
        return self.entity


class Operations:
    """One operations group of the client (jobs, online_endpoints, ...), recording each call."""

    def __init__(self, client: Recorder, group: str):
        self.client = client
        self.group = group

    def __getattr__(self, method: str):
        def call(*args, **kwargs):
            self.client.calls.append((f"{self.group}.{method}", args, kwargs))
            if self.client.fail:
                raise self.client.fail
            if (self.group, method) in self.client.answers:
                return self.client.answers[self.group, method](*args, **kwargs)
            if method == "get":
                return type("Job", (), {"status": self.client.status})()
            if method == "create_or_update" and self.group == "jobs":
                args[0].name = "sleepy_job_1"
            if (self.group, method) == ("jobs", "download") and self.client.registration:
                folder = Path(kwargs["download_path"]) / "named-outputs" / kwargs["output_name"]
                folder.mkdir(parents=True)
                (folder / "registration.json").write_text(json.dumps(self.client.registration))
            return Poller(args[0]) if method.startswith("begin_") else (args[0] if args else None)

        return call


class Recorder:
    """Stands where MLClient does. With a ``model`` folder it also stands for the workspace a monitor
    reads: an online endpoint (unless ``endpoint`` is False) sending most of its traffic to green,
    which serves version 1, a models.download that lays ``model`` out a level down as Azure's does, and
    data.create_or_update that keeps the files a data asset uploads (``uploaded``, by asset name)."""

    def __init__(
        self,
        status: str = "Completed",
        fail: Exception | None = None,
        registration: dict | None = REGISTERED,
        model: Path | None = None,
        endpoint: bool = True,
    ):
        self.calls: list[tuple[str, tuple, dict]] = []
        self.status = status
        self.fail = fail
        self.registration = registration
        self.model = model
        self.endpoint = endpoint
        self.uploaded: dict[str, dict[str, bytes]] = {}
        self.tags = digests.tag(model) if model else {}  # what registration recorded on the version
        self.answers = {
            ("online_endpoints", "get"): self.online_endpoint,
            ("online_deployments", "get"): lambda name, endpoint_name: SimpleNamespace(
                model=f"{WORKSPACE}/models/taxi-fare/versions/{SERVES[name]}"
            ),
            ("models", "download"): self.download,
            ("models", "get"): lambda name, version=None, label=None: SimpleNamespace(
                version=version or "5", tags=self.tags
            ),
            ("data", "create_or_update"): self.upload,
        }

    def online_endpoint(self, name: str) -> SimpleNamespace:
        from azure.core.exceptions import ResourceNotFoundError

        if not self.endpoint:
            raise ResourceNotFoundError(f"Resource {name} not found")
        return SimpleNamespace(traffic=TRAFFIC)

    def download(self, name: str, version: str, download_path: str) -> None:
        shutil.copytree(self.model, Path(download_path) / name / "model")

    def upload(self, data):
        folder = Path(data.path)
        if folder.is_dir():  # a local folder: the client uploads it now
            self.uploaded[data.name] = {file.name: file.read_bytes() for file in folder.iterdir()}
        return data

    def __getattr__(self, group: str) -> Operations:
        return Operations(self, group)


def submitted(plan_for, client: Recorder | None = None) -> Recorder:
    """Send a plan through a recorder and return it, with the plan it sent as ``client.plan``."""
    client = client or Recorder()
    client.plan = submit.run(plan_for, dry_run=False, echo=quiet, client=client)
    return client


def sent(client: Recorder) -> list[str]:
    return [operation for operation, _, _ in client.calls]


def quiet(_line: str) -> None:
    pass


def test_training_submits_the_environment_and_pipeline_then_streams_it():
    client = submitted(
        lambda folder: submit.training_plan("taxi-fare", "dev", folder, ["estimator.n_estimators=50"])
    )
    assert sent(client) == [
        "environments.create_or_update",
        "jobs.create_or_update",
        "jobs.stream",
        "jobs.get",
        "jobs.download",
    ]
    assert client.calls[-1][1] == ("sleepy_job_1",)
    assert client.calls[-1][2]["output_name"] == "registration"
    assert client.plan.registration == REGISTERED
    environment, job = (args[0] for _, args, _ in client.calls[:2])
    pip = environment.conda_file["dependencies"][-1]["pip"]
    assert environment.name == "mlops-taxi-fare-training"
    assert all("==" in line for line in pip)  # every package pinned from the lock
    names = {line.split("==")[0] for line in pip}
    assert {"mlflow", "scikit-learn", "azureml-mlflow"} <= names  # the steps reach the workspace's MLflow
    assert not {"azureml-inference-server-http", "azureml-core"} & names  # what only serving needs
    assert client.calls[1][2] == {"experiment_name": "taxi-fare"}
    assert job.settings.default_compute == "cpu-cluster"  # the SDK drops the azureml: prefix
    assert job.inputs["overrides"]._data == "estimator.n_estimators=50"
    assert list(job.jobs) == ["prep", "validate", "train", "evaluate", "register"]
    rest = job._to_rest_object().as_dict()["properties"]
    assert (rest["experimentName"], list(rest["jobs"])) == ("taxi-fare", list(job.jobs))
    assert rest["inputs"] == {"overrides": {"value": "estimator.n_estimators=50", "jobInputType": "literal"}}
    assert rest["jobs"]["train"]["inputs"]["overrides"]["value"] == "${{parent.inputs.overrides}}"
    assert rest["jobs"]["register"]["outputs"]["output"]["value"] == "${{parent.outputs.registration}}"
    assert list(rest["outputs"]) == ["registration"]
    assert client.calls[2][1] == ("sleepy_job_1",)


def test_a_job_without_its_registration_output_is_an_error():
    with pytest.raises(MlopsError, match="job sleepy_job_1 completed without its registration output"):
        submitted(
            lambda folder: submit.training_plan("taxi-fare", "dev", folder), Recorder(registration=None)
        )


def test_a_failed_pipeline_is_a_non_zero_exit():
    with pytest.raises(MlopsError, match="Azure ML job sleepy_job_1 ended Failed"):
        submitted(lambda folder: submit.training_plan("taxi-fare", "dev", folder), Recorder(status="Failed"))


def test_online_deploy_creates_the_endpoint_the_deployment_then_the_traffic(model_folder):
    shares = {"blue": 90, "green": 10}
    client = submitted(
        lambda folder: submit.online_plan("credit-default", "staging", folder, "green", "3", shares),
        Recorder(model=model_folder),
    )
    assert sent(client) == [
        "models.get",  # the version's files are checked against its digests before anything is sent
        "models.download",
        "environments.create_or_update",
        "online_endpoints.begin_create_or_update",
        "online_deployments.begin_create_or_update",
        "online_endpoints.begin_create_or_update",
    ]
    assert client.calls[0][2] == {"name": "credit-default", "version": "3"}
    created, deployment, routed = (client.calls[i][1][0] for i in (3, 4, 5))
    assert (created.name, created.auth_mode, created.traffic) == ("credit-default-staging", "key", {})
    assert routed.traffic == shares
    assert (deployment.name, deployment.endpoint_name, deployment.model) == (
        "green",
        "credit-default-staging",
        "credit-default:3",
    )
    rest = deployment._to_rest_object("westeurope").as_dict()
    assert rest["sku"]["capacity"] == 1
    properties = rest["properties"]
    assert (properties["instanceType"], properties["model"]) == ("Standard_DS3_v2", "credit-default:3")
    assert properties["codeConfiguration"]["scoringScript"] == "mlops/azureml/runtime/score.py"
    assert properties["dataCollector"]["collections"] == {
        "model_inputs": {"dataCollectionMode": "enabled", "samplingRate": 1.0},
        "model_outputs": {"dataCollectionMode": "enabled", "samplingRate": 1.0},
    }
    assert properties["environmentVariables"] == {
        "MLOPS_MODEL": "credit-default",
        # the local endpoint's deployment.online settings
        "MLOPS_MAX_REQUEST_BYTES": "1048576",
        "MLOPS_BATCH_WAIT_MS": "2",
        "MLOPS_MAX_BATCH_ROWS": "1024",
        "WORKER_COUNT": "4",  # one inference server worker per vCPU of Standard_DS3_v2
        "GUNICORN_CMD_ARGS": "--threads 4 --keep-alive 0",
    }
    assert properties["requestSettings"]["maxConcurrentRequestsPerInstance"] == 16
    endpoint_rest = routed._to_rest_online_endpoint("westeurope").as_dict()
    assert endpoint_rest["properties"]["traffic"] == shares


def test_prod_deploys_a_version_from_the_registry(model_folder):
    client = Recorder(model=model_folder)  # stands for the workspace and the registry
    submitted(lambda folder: submit.online_plan("taxi-fare", "prod", folder, "blue", "7", {}, client), client)
    deployment = client.calls[4][1][0]
    assert deployment.model == "azureml://registries/mlr-mlops/models/taxi-fare/versions/7"
    assert deployment.instance_count == 2


@pytest.mark.parametrize("kind", ["online", "batch"])
def test_prod_without_a_version_names_the_fix_instead_of_the_latest(kind):
    plans = {
        "online": lambda folder: submit.online_plan("taxi-fare", "prod", folder, "blue", None, {}),
        "batch": lambda folder: submit.batch_plan("taxi-fare", "prod", folder, "blue", None),
    }
    client = Recorder()
    with pytest.raises(
        MlopsError, match=r"prod deploys versions shared into registry mlr-mlops; pass --version N"
    ):
        submitted(plans[kind], client)
    assert client.calls == []


def test_batch_deploy_carries_the_models_batch_settings(model_folder):
    client = submitted(
        lambda folder: submit.batch_plan("taxi-fare", "dev", folder, "blue", "4"),
        Recorder(model=model_folder),
    )
    assert sent(client) == [  # the batch cluster is infrastructure: a submission never writes it
        "models.get",
        "models.download",
        "environments.create_or_update",
        "batch_endpoints.begin_create_or_update",
        "batch_deployments.begin_create_or_update",
    ]
    assert client.calls[0][2] == {"name": "taxi-fare", "version": "4"}  # what the deployment serves
    deployment = client.calls[-1][1][0]
    assert deployment.model == "taxi-fare:4"
    assert deployment.compute == "batch-cluster"
    assert deployment.settings.max_concurrency_per_instance == 2
    assert deployment.settings.retry_settings.max_retries == 3
    rest = deployment._to_rest_object("westeurope").as_dict()["properties"]
    # Azure counts files: 10 per run() call, a file that cannot be scored at all fails the job; the
    # script writes its own predictions with a header (Azure's append_row cannot carry one)
    assert (rest["errorThreshold"], rest["outputAction"], rest["miniBatchSize"]) == (0, "SummaryOnly", 10)


@pytest.mark.parametrize("kind", ["online", "batch"])
def test_a_version_whose_files_changed_since_registration_is_not_deployed(model_folder, tmp_path, kind):
    copy = shutil.copytree(model_folder, tmp_path / "model")
    client = Recorder(model=copy)
    (copy / "MLmodel").write_text((copy / "MLmodel").read_text() + "\n")
    plans = {
        "online": lambda folder: submit.online_plan("taxi-fare", "dev", folder, "blue", "2", {}),
        "batch": lambda folder: submit.batch_plan("taxi-fare", "dev", folder, "blue", "2"),
    }
    with pytest.raises(
        MlopsError, match=r"version 2 of 'taxi-fare' in dev: file 'MLmodel' of the logged model changed"
    ):
        submitted(plans[kind], client)
    assert sent(client) == ["models.get", "models.download"]  # nothing was created


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    """A registered version's MLflow model folder as mlops train logs it, reduced to what a monitor
    reads: the MLmodel file and the monitoring baseline (a sample of training rows with predictions)."""
    return model_with_baseline(tmp_path_factory.mktemp("model"))


def monitored(client: Recorder, own_data: bool, version: str | None = None) -> Recorder:
    """Send taxi-fare's monitor in dev through ``client``."""
    return submitted(
        lambda folder: submit.monitor_plan("taxi-fare", "dev", folder, own_data, version, client), client
    )


@pytest.mark.parametrize("own_data", [False, True])
def test_monitor_creates_the_reference_data_of_the_served_version_before_the_schedule(model_folder, own_data):
    from azure.ai.ml.entities._data.mltable_metadata import MLTableMetadata

    client = monitored(Recorder(model=model_folder), own_data)
    own = ["data.create_or_update", "components.create_or_update"] if own_data else []
    assert sent(client) == [
        "online_endpoints.get",
        "online_deployments.get",
        "models.download",
        "data.create_or_update",
        *own,
        "schedules.begin_create_or_update",
    ]
    assert client.calls[2][2]["version"] == "1"  # what green, with 90% of the traffic, serves
    data = client.calls[3][1][0]
    assert (data.name, data.version, data.type) == ("taxi-fare-training", "1", "mltable")
    uploaded = client.uploaded["taxi-fare-training"]
    assert uploaded == {
        "MLTable": reference.mltable(baseline.SAMPLE_FILE, drop=(baseline.PREDICTION,)).encode(),
        baseline.SAMPLE_FILE: (model_folder / baseline.ARTIFACT_PATH / baseline.SAMPLE_FILE).read_bytes(),
    }
    table = MLTableMetadata._load(yaml.safe_load(uploaded["MLTable"]), Path("MLTable"))  # as the SDK reads it
    assert table.referenced_uris() == [f"./{baseline.SAMPLE_FILE}"]
    schedule = client.calls[-1][1][0]
    assert schedule.name == ("taxi-fare-monitor-byo" if own_data else "taxi-fare-monitor")
    signals = schedule.create_monitor.monitoring_signals
    assert set(signals) == {"data_drift", "prediction_drift", "data_quality"}
    assert {signal.reference_data.input_data.path for signal in signals.values()} == {"taxi-fare-training:1"}
    assert {signal.reference_data.input_data.type for signal in signals.values()} == {"mltable"}
    target = schedule.create_monitor.monitoring_target
    if own_data:
        production, component = client.calls[4][1][0], client.calls[5][1][0]
        assert (production.name, production.type) == ("taxi-fare-production", "uri_folder")
        assert (component.name, component.type) == ("taxi_fare_monitor_preprocess", "spark")
        assert target.endpoint_deployment_id is None
        assert {signal.production_data.pre_processing_component for signal in signals.values()} == {
            "azureml:taxi_fare_monitor_preprocess@latest"
        }
    else:  # the deployment serving the version, whose collected data Azure reads
        assert target.endpoint_deployment_id == "azureml:taxi-fare-dev:green"
        assert {signal.production_data for signal in signals.values()} == {None}
    rest = schedule._to_rest_object().as_dict()
    assert rest["properties"]["trigger"] | {} == {
        "frequency": "day",
        "interval": 1,
        "schedule": {"hours": [3], "minutes": [15]},
        "timeZone": "UTC",
        "triggerType": "Recurrence",
    }


def test_monitor_of_a_given_version_asks_no_endpoint(model_folder):
    client = monitored(Recorder(model=model_folder, endpoint=False), True, "3")
    assert sent(client)[:2] == ["models.download", "data.create_or_update"]
    assert client.calls[0][2]["version"] == "3"
    assert client.calls[1][1][0].version == "3"
    signals = client.calls[-1][1][0].create_monitor.monitoring_signals
    assert {signal.reference_data.input_data.path for signal in signals.values()} == {"taxi-fare-training:3"}


def test_own_data_without_an_endpoint_needs_a_version(model_folder):
    client = Recorder(model=model_folder, endpoint=False)
    with pytest.raises(
        MlopsError, match=r"there is no online endpoint taxi-fare-dev in dev; .* or pass --version"
    ):
        monitored(client, True)
    assert sent(client) == ["online_endpoints.get"]


def test_a_version_without_a_baseline_is_refused(tmp_path):
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client = Recorder(model=tmp_path)
    with pytest.raises(MlopsError, match="version 1 of 'taxi-fare' has no monitoring baseline"):
        monitored(client, False)
    assert "data.create_or_update" not in sent(client)


def test_a_monitor_dry_run_names_the_reference_version_it_is_given():
    lines: list[str] = []
    plan = submit.run(
        lambda folder: submit.monitor_plan("taxi-fare", "dev", folder, False, "3"), True, lines.append
    )
    assert lines == [
        "taxi-fare: would data.create_or_update Data taxi-fare-training",
        "taxi-fare: would schedules.create_or_update MonitorSchedule taxi-fare-monitor",
    ]
    data, schedule = (entity for _, entity in plan.steps)
    assert (data.name, data.version, data.type) == ("taxi-fare-training", "3", "mltable")
    signals = schedule.create_monitor.monitoring_signals
    assert {signal.reference_data.input_data.path for signal in signals.values()} == {"taxi-fare-training:3"}


@pytest.mark.parametrize(
    "command",
    [
        ("monitor", "taxi-fare", "--target", "azure", "--dry-run", "--own-data"),
        ("deploy", "taxi-fare", "--batch", "--target", "azure", "--dry-run"),
        ("azure", "render", "taxi-fare", "--env", "dev", "--out", "{out}"),
    ],
)
def test_without_a_version_or_the_workspace_registry_the_cli_names_the_fix(
    run_mlops, monkeypatch, tmp_path, command
):
    """The champion is the workspace's: the local store's champion would name another version."""
    import importlib.util

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    result = run_mlops(*(part.format(out=tmp_path / "rendered") for part in command))
    assert not (tmp_path / "rendered").exists()
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.rstrip().endswith("pass --version N")
    if importlib.util.find_spec("azureml.mlflow") is None:
        assert "needs azureml-mlflow (pip install azureml-mlflow)" in result.stderr


def test_a_dry_run_sends_nothing():
    client = Recorder()
    lines: list[str] = []
    plan = submit.run(
        lambda folder: submit.training_plan("taxi-fare", "dev", folder), True, lines.append, client
    )
    assert client.calls == []
    assert lines[-1] == "taxi-fare: would jobs.create_or_update PipelineJob taxi-fare training (dev)"
    assert [operation for operation, _ in plan.steps][-1] == "jobs.create_or_update"


def test_promotion_shares_the_version_into_the_registry():
    client = Recorder()
    lines: list[str] = []
    submit.promote("taxi-fare", "4", "staging", "prod", client=client, echo=lines.append)
    assert client.calls == [
        (
            "models.share",
            ("taxi-fare", "4"),
            {"share_with_name": "taxi-fare", "share_with_version": "4", "registry_name": "mlr-mlops"},
        )
    ]
    assert "azureml://registries/mlr-mlops/models/taxi-fare/versions/4" in lines[0]


def test_promotion_needs_one_registry(monkeypatch):
    monkeypatch.setenv("AZURE_ML_REGISTRY", "mlr-other")
    with pytest.raises(MlopsError, match="unknown environment 'qa'"):
        submit.promote("taxi-fare", "4", "staging", "qa", client=Recorder())


def test_authentication_failure_is_one_line():
    from azure.core.exceptions import ClientAuthenticationError

    client = Recorder(
        fail=ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token.\nmore")
    )
    with pytest.raises(MlopsError) as raised:
        submitted(lambda folder: submit.training_plan("taxi-fare", "dev", folder), client)
    message = str(raised.value)
    assert message.startswith("Azure authentication failed for the dev workspace") and "\n" not in message
    assert "az login" in message


def test_without_credentials_the_cli_fails_with_one_line(run_mlops, monkeypatch):
    for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(
        "AZURE_TOKEN_CREDENTIALS", "dev"
    )  # developer credentials only: no managed identity probe
    result = run_mlops("train", "taxi-fare", "--target", "azure", "--env", "dev")
    assert result.returncode == 2
    assert result.stderr.startswith("error: Azure authentication failed for the dev workspace")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


@pytest.mark.parametrize("missing", ["azure.ai.ml", "azure.identity"])
def test_without_the_azure_extra_the_error_says_how_to_install_it(monkeypatch, missing):
    import sys

    from mlops.azureml import render

    monkeypatch.setitem(sys.modules, missing, None)  # the next import of it fails
    with pytest.raises(
        MlopsError, match=rf"{missing} is not installed; install the Azure extra: pip install"
    ):
        workspace.client(render.compose("taxi-fare", "dev"))
