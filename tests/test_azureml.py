"""The Azure ML definitions: every model in every environment renders and loads with azure-ai-ml's own
loaders offline, and the strict layer names the file and field of what the loaders let through."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mlops.azureml import lock, render, validate
from mlops.core.errors import MlopsError
from mlops.models import catalog

MODELS = catalog.model_names()
ENVIRONMENTS = ["dev", "staging", "prod"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[tuple[str, str], tuple[Path, list[render.Rendered]]]:
    """Render every model in every environment once."""
    done = {}
    for name in MODELS:
        for env in ENVIRONMENTS:
            folder = tmp_path_factory.mktemp(f"{name}-{env}")
            done[name, env] = folder, render.render(name, env, folder, version="3")
    return done


def spec(folder: Path, path: str) -> dict:
    return yaml.safe_load((folder / path).read_text())


@pytest.mark.parametrize("env", ENVIRONMENTS)
@pytest.mark.parametrize("name", MODELS)
def test_every_model_and_environment_validates_offline(rendered, name, env):
    folder, written = rendered[name, env]
    assert validate.validate(folder, written) == []
    kinds = {item.kind for item in written}
    assert kinds == {
        "environment",
        "component",
        "pipeline",
        "online_endpoint",
        "online_deployment",
        "batch_endpoint",
        "batch_deployment",
        "compute",
        "data",
        "schedule",
    }
    for item in written:
        assert (folder / item.path).read_text().startswith("$schema: https://azuremlschemas.azureedge.net/")


def test_components_run_the_local_step_entries(rendered):
    folder, written = rendered["taxi-fare", "dev"]
    components = [item.path for item in written if item.kind == "component"]
    # the steps' command components, and the monitor's Spark preprocessing (tests/test_azureml_spark.py)
    assert sorted(Path(path).stem for path in components) == sorted([*render.steps(), "monitor_preprocess"])
    for step in render.steps():
        command = spec(folder, f"components/{step}.yml")["command"]
        assert command.startswith(f"python -m mlops.steps.{step} --model taxi-fare")
        assert (Path(catalog.project.root()) / "mlops" / "steps" / f"{step}.py").is_file()


def test_steps_that_read_the_data_source_or_the_registry_are_never_reused(rendered):
    folder, _ = rendered["taxi-fare", "dev"]
    reused = {
        step: validate.load(folder / f"components/{step}.yml", render.COMPONENT).is_deterministic
        for step in render.steps()
    }
    assert reused == {
        "prep": False,
        "validate": True,
        "train": True,
        "evaluate": False,
        "register": False,
        "batch_score": False,
    }


def test_the_pipeline_chains_the_steps_and_passes_overrides(rendered, tmp_path):
    folder, _ = rendered["credit-default", "staging"]
    pipeline = spec(folder, "pipeline.yml")
    assert list(pipeline["jobs"]) == ["prep", "validate", "train", "evaluate", "register"]
    assert pipeline["jobs"]["train"]["inputs"]["data"] == "${{parent.jobs.validate.outputs.output}}"
    assert pipeline["settings"]["default_compute"] == "azureml:cpu-cluster"
    assert "inputs" not in pipeline and "inputs" not in pipeline["jobs"]["prep"]
    written = render.render("credit-default", "staging", tmp_path, ["estimator.max_depth=4"], version="3")
    assert validate.validate(tmp_path, written) == []
    pipeline = spec(tmp_path, "pipeline.yml")
    assert pipeline["inputs"] == {"overrides": "estimator.max_depth=4"}
    assert all(
        job["inputs"]["overrides"] == "${{parent.inputs.overrides}}" for job in pipeline["jobs"].values()
    )


def test_deployments_carry_the_environment_and_the_model_settings(rendered):
    folder, _ = rendered["taxi-fare", "prod"]
    online = spec(folder, "online-deployment-blue.yml")
    assert online["instance_count"] == 2  # prod overrides the shared value
    assert online["data_collector"]["collections"] == {
        "model_inputs": {"enabled": "True"},
        "model_outputs": {"enabled": "True"},
    }
    endpoint = spec(folder, "online-endpoint.yml")
    assert (endpoint["name"], endpoint["auth_mode"], endpoint["traffic"]) == (
        "taxi-fare-prod",
        "key",
        {"blue": 100},
    )
    settings = spec(folder, "batch-deployment.yml")["settings"]
    batch = catalog.load_config("taxi-fare").deployment.batch
    assert settings["max_concurrency_per_instance"] == batch.max_concurrency_per_instance
    # Azure counts files: its mini-batch, threshold and timeout come from deployment.batch.azure
    assert (settings["mini_batch_size"], settings["error_threshold"]) == (10, 0)
    assert settings["retry_settings"] == {"max_retries": 3, "timeout": 300}
    # the script writes predictions with a header itself; Azure's append_row cannot carry one
    assert settings["output_action"] == "summary_only" and "output_file_name" not in settings
    assert settings["environment_variables"] == {
        "MLOPS_MODEL": "taxi-fare",
        "MLOPS_OUTPUT_ACTION": "append_row",
        "MLOPS_CHUNK_ROWS": "50000",
    }


def test_the_monitor_schedule_comes_from_the_monitoring_config(rendered):
    folder, _ = rendered["taxi-fare", "dev"]
    signals = spec(folder, "monitor.yml")["create_monitor"]["monitoring_signals"]
    assert set(signals) == {"data_drift", "prediction_drift", "data_quality"}
    drift = signals["data_drift"]
    assert drift["features"] == {"top_n_feature_importance": 10}
    assert drift["feature_type_override"]["pickup_minute"] == "numerical"
    assert signals["data_quality"]["metric_thresholds"]["numerical"]["out_of_bounds_rate"] == 0.01
    # the version's training rows, an MLTable asset (its version at submission), and no production data:
    # Azure reads what the deployment collected
    assert drift["reference_data"]["input_data"] == {
        "path": "azureml:taxi-fare-training:3",
        "type": "mltable",
    }
    assert "production_data" not in drift
    byo = spec(folder, "monitor-byo.yml")["create_monitor"]["monitoring_signals"]["data_drift"][
        "production_data"
    ]
    assert byo["pre_processing_component"] == "azureml:taxi_fare_monitor_preprocess@latest"
    assert byo["input_data"]["path"] == "azureml:taxi-fare-production@latest"
    assert spec(folder, "data/production.yml")["type"] == "uri_folder"
    assert byo["data_window"] == {"lookback_window_size": "P7D", "lookback_window_offset": "P0D"}


def test_the_conda_file_agrees_with_the_requirements_the_nox_session_uses():
    for name in MODELS:
        folder = catalog.model_dir(name) / "environment"
        conda = yaml.safe_load((folder / "conda.yaml").read_text())
        pip = next(item["pip"] for item in conda["dependencies"] if isinstance(item, dict))
        requirements = [
            line.strip()
            for line in (folder / "requirements.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")
        ]
        assert sorted(pip) == sorted(requirements), name


def mutate(folder: Path, path: str, change) -> None:
    data = spec(folder, path)
    change(data)
    (folder / path).write_text(yaml.safe_dump(data, sort_keys=False))


@pytest.mark.parametrize(
    ("path", "change", "message"),
    [
        (
            "components/train.yml",
            lambda d: d.update(comand="python x.py"),
            "components/train.yml: comand: unknown field",
        ),
        (
            "components/train.yml",
            lambda d: d.update(command=d["command"] + " --x ${{inputs.nope}}"),
            "components/train.yml: command: ${{inputs.nope}} names no declared input or output",
        ),
        (
            "components/monitor_preprocess.yml",
            lambda d: d.update(args=d["args"] + " --x ${{inputs.nope}}"),
            "components/monitor_preprocess.yml: args: ${{inputs.nope}} names no declared input or output",
        ),
        (
            "components/prep.yml",
            lambda d: d.update(code="/no/such/folder"),
            "components/prep.yml: code: /no/such/folder does not exist",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["train"]["inputs"].update(data="${{parent.jobs.prep.outputs.nope}}"),
            "pipeline.yml: jobs.train.inputs.data: job 'prep' has no output 'nope'",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["evaluate"]["inputs"].update(
                model_dir="${{parent.jobs.trian.outputs.output}}"
            ),
            "pipeline.yml: jobs.evaluate.inputs.model_dir: there is no job 'trian'",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["train"].update(compte="x"),
            "pipeline.yml: jobs.train.compte: unknown field",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["train"]["inputs"].update(overrides=5),
            "pipeline.yml: jobs.train.inputs.overrides: 5 is not a string",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["train"]["inputs"].update(epochs=3),
            "pipeline.yml: jobs.train.inputs.epochs: the component declares no input 'epochs'",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["register"]["outputs"].update(output="${{parent.outputs.registraton}}"),
            "pipeline.yml: jobs.register.outputs.output: the pipeline has no output 'registraton'",
        ),
        (
            "pipeline.yml",
            lambda d: d["jobs"]["register"].update(outputs={"result": "${{parent.outputs.registration}}"}),
            "pipeline.yml: jobs.register.outputs.result: the component declares no output 'result'",
        ),
        (
            "environments/online.yml",
            lambda d: d.pop("image"),
            "environments/online.yml: image: an environment needs an image or a build",
        ),
        ("online-endpoint.yml", lambda d: d.update(auth="key"), "online-endpoint.yml: auth: Unknown field."),
        (
            "monitor.yml",
            lambda d: d["create_monitor"]["monitoring_signals"]["data_drift"].update(treshold=1),
            "monitor.yml: ",
        ),
        (
            "batch-deployment.yml",
            lambda d: d["settings"].update(mini_batch_size="many"),
            "batch-deployment.yml: mini_batch_size: Not a valid integer.",
        ),
    ],
)
def test_mistakes_name_the_file_and_field(tmp_path, path, change, message):
    written = render.render("taxi-fare", "dev", tmp_path, version="3")
    mutate(tmp_path, path, change)
    problems = validate.validate(tmp_path, written)
    assert problems[0].startswith(message), problems
    if path.startswith("components/"):  # the pipeline waits for its components
        assert problems[1:] == [f"pipeline.yml: jobs: not loaded until {path} load"]
    else:
        assert problems[1:] == []
    assert all("\n" not in problem and "Traceback" not in problem for problem in problems)


def test_the_monitor_schedule_error_is_unwrapped(tmp_path):
    written = render.render("taxi-fare", "dev", tmp_path, version="3")
    mutate(tmp_path, "monitor.yml", lambda d: d["create_monitor"]["compute"].update(runtime_version="2.0"))
    (problem,) = validate.validate(tmp_path, written)
    assert problem.startswith("monitor.yml: ") and "NotImplementedError" not in problem
    assert re.search(r"runtime|3\.4", problem), problem


def test_names_and_environments_are_checked_before_anything_is_written(tmp_path):
    with pytest.raises(MlopsError, match="unknown environment 'qa'; use one of dev, prod, staging"):
        render.render("taxi-fare", "qa", tmp_path / "out", version="3")
    with pytest.raises(
        MlopsError, match=r"endpoint name 't-.*-batch-way-too-long-suffix-x' breaks Azure's rule"
    ):
        render.render(
            "taxi-fare",
            "dev",
            tmp_path / "out",
            ["env.azure.endpoint_suffix=way-too-long-suffix-x"],
            version="3",
        )
    assert not (tmp_path / "out").exists()


def test_long_model_names_are_shortened_to_a_unique_endpoint_name():
    shortened = render.endpoint_name("customer-lifetime-value-forecast", "prod")
    assert shortened == "customer-lifetime-valu-c6bc-prod" and len(shortened) == 32
    assert render.endpoint_name("customer-lifetime-value-forecasts", "prod") != shortened
    assert render.endpoint_name("taxi-fare", "batch", "dev") == "taxi-fare-batch-dev"


def test_the_cli_validates_every_model(run_mlops):
    result = run_mlops("azure", "validate", "--all", "--env", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("(prod): 20 definitions, ok") == len(MODELS)


def test_the_cli_renders_for_az_ml(run_mlops, tmp_path):
    out = tmp_path / "r"
    result = run_mlops("azure", "render", "taxi-fare", "--env", "dev", "--out", str(out), "--version", "4")
    assert result.returncode == 0, result.stderr
    assert spec(out, "online-deployment-blue.yml")["model"] == "azureml:taxi-fare:4"
    assert spec(out, "batch-deployment.yml")["model"] == "azureml:taxi-fare:4"
    assert (tmp_path / "r" / "pipeline.yml").is_file() and (tmp_path / "r" / "monitor.yml").is_file()
    bad = run_mlops("azure", "validate", "taxi-fare", "--env", "qa")
    assert bad.returncode == 2 and bad.stderr.startswith("error: unknown environment 'qa'")


def test_every_environment_is_pinned_alike_in_dev_staging_and_prod(rendered):
    for name in MODELS:
        for workload in lock.WORKLOADS:
            texts = {
                (rendered[name, env][0] / "environments" / f"{workload}.conda.yaml").read_text()
                for env in ENVIRONMENTS
            }
            assert len(texts) == 1, (name, workload)
            pip = next(
                item["pip"] for item in yaml.safe_load(texts.pop())["dependencies"] if isinstance(item, dict)
            )
            assert all(re.fullmatch(r"[a-z0-9-]+==[^=<>~!]+", line) for line in pip), (name, workload)
    runtimes = {
        workload: {line.split("==")[0] for line in lock.environment("taxi-fare", workload)}
        for workload in lock.WORKLOADS
    }
    assert "azureml-inference-server-http" in runtimes["online"] - runtimes["training"] - runtimes["batch"]
    assert "azureml-core" in runtimes["batch"] - runtimes["online"]
    assert "azureml-mlflow" in runtimes["training"] - runtimes["online"]


def test_the_lock_is_current_and_says_what_changed_when_it_is_not(run_mlops, monkeypatch):
    result = run_mlops("azure", "lock", "--check")
    assert result.returncode == 0 and "is current" in result.stdout, result.stderr
    monkeypatch.setitem(lock.RUNTIMES, "online", [*lock.RUNTIMES["online"], "xgboost>=2"])
    assert lock.check() == [
        "xgboost>=2 was added since the lock was resolved",
        "xgboost>=2 is not in the lock",
    ]
    monkeypatch.setattr(lock, "model_requirements", lambda name: ["scikit-learn>=99"])
    with pytest.raises(
        MlopsError, match=r"does not cover the online environment \(scikit-learn>=99 is locked"
    ):
        lock.environment("taxi-fare", "online")


def test_rendering_refuses_a_conda_file_that_lists_other_packages(monkeypatch, tmp_path):
    required = [*lock.model_requirements("taxi-fare"), "xgboost>=2"]
    monkeypatch.setattr(lock, "model_requirements", lambda name: required)
    with pytest.raises(MlopsError, match=r"requirements.txt differ \(xgboost>=2\); keep them equal"):
        render.render("taxi-fare", "dev", tmp_path / "out", version="3")
    assert not (tmp_path / "out").exists()
