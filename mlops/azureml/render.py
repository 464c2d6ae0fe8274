"""Render the shared Azure ML definitions (the YAML files beside this module) for one model and one
environment: the environment, one command component per shared step, the training pipeline, online
and batch endpoints and deployments, compute clusters, the training data asset and the monitor
schedules, ready for ``az ml ... -f`` or for ``MLClient``."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.errors import MlopsError

if TYPE_CHECKING:
    from omegaconf import DictConfig

# what each rendered file is, by the loader that reads it
ENVIRONMENT, COMPONENT, PIPELINE = "environment", "component", "pipeline"
ONLINE_ENDPOINT, ONLINE_DEPLOYMENT = "online_endpoint", "online_deployment"
BATCH_ENDPOINT, BATCH_DEPLOYMENT = "batch_endpoint", "batch_deployment"
COMPUTE, DATA, SCHEDULE = "compute", "data", "schedule"
# endpoint names are unique per Azure region: 3-32 letters, digits and dashes, starting with a letter
ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
ENDPOINT_LIMIT = 32
# the training pipeline: each node's inputs bound to an earlier node's output
TRAINING = {
    "prep": {},
    "validate": {"data": "prep.outputs.output"},
    "train": {"data": "validate.outputs.output"},
    "evaluate": {"data": "validate.outputs.output", "model_dir": "train.outputs.output"},
    "register": {
        "data": "validate.outputs.output",
        "model_dir": "train.outputs.output",
        "evaluation": "evaluate.outputs.output",
    },
}
# node outputs the training pipeline publishes as its own (step -> {step output: pipeline output}); the
# submission reads the register step's verdict back from the job's "registration" output
REGISTRATION = "registration"
PUBLISHED = {"register": {"output": REGISTRATION}}
# what runs only on Azure: the data collector the online scoring script writes model inputs and outputs
# with, and the MLflow plugin that lets the steps reach the workspace's tracking and registry (Azure ML
# sets MLFLOW_TRACKING_URI=azureml://... in every job). azureml-mlflow 1.62 caps mlflow at 3.15.0, so
# Azure builds that version; the framework's floor (pyproject.toml) allows it.
AZURE_RUNTIME = ["azureml-ai-monitoring>=1.0", "azureml-mlflow>=1.62"]
DRIFT_SIGNALS = {
    "data_drift": "model_inputs",
    "prediction_drift": "model_outputs",
    "data_quality": "model_inputs",
}


@dataclass(frozen=True)
class Rendered:
    """One written definition: its path inside the output folder and what it defines."""

    path: str
    kind: str


def environments() -> list[str]:
    """Return the environments of the shared ``env`` config group (dev, staging, prod)."""
    folder = resources.files("mlops").joinpath("conf/env")
    return sorted(item.name.removesuffix(".yaml") for item in folder.iterdir() if item.name.endswith(".yaml"))


def compose(name: str, env: str, overrides: tuple[str, ...] | list[str] = ()) -> DictConfig:
    """Compose the model's config for ``env``, refusing an environment that does not exist."""
    from mlops import catalog

    if env not in environments():
        raise MlopsError(f"unknown environment '{env}'; use one of {', '.join(environments())}")
    return catalog.load_config(name, [f"env={env}", *overrides])


def endpoint_name(model: str, *rest: str) -> str:
    """Return ``model-rest...`` as an endpoint name Azure accepts: when it would pass 32 characters,
    the model part is shortened and a hash of the full model name keeps it unique."""
    import hashlib

    tail = "-".join(part for part in rest if part)
    name = f"{model}-{tail}" if tail else model
    if len(name) > ENDPOINT_LIMIT:
        digest = hashlib.sha1(model.encode()).hexdigest()[:4]
        room = ENDPOINT_LIMIT - len(tail) - len(digest) - 2
        name = f"{model[: max(room, 1)].rstrip('-')}-{digest}-{tail}"
    if not ENDPOINT_NAME.match(name):
        raise MlopsError(
            f"endpoint name '{name}' breaks Azure's rule (3-32 letters, digits and dashes, starting with a "
            "letter, not ending with a dash); shorten env.azure.endpoint_suffix"
        )
    return name


def names(cfg: DictConfig) -> dict[str, str]:
    """Return the Azure names of the model's assets in this environment: one scheme for every model."""
    package = cfg.name.replace("-", "_")
    suffix = str(cfg.env.azure.endpoint_suffix)
    return {
        "environment": f"mlops-{cfg.name}",
        "component_prefix": package,
        "preprocess_component": f"{package}_monitor_preprocess",
        "online_endpoint": endpoint_name(cfg.name, suffix),
        "batch_endpoint": endpoint_name(cfg.name, "batch", suffix),
        "monitor": f"{cfg.name}-monitor",
        "training_data": f"{cfg.name}-training",
    }


def conda(cfg: DictConfig) -> str:
    """Return the model's ``environment/conda.yaml`` with the framework's own dependencies (and Azure's
    data collector for the scoring script) added to its pip list, so every ``python -m mlops.steps...``
    command and both scoring scripts run in it."""
    from importlib.metadata import requires

    import yaml

    from mlops import catalog

    path = catalog.model_dir(cfg.name) / "environment" / "conda.yaml"
    if not path.is_file():
        raise MlopsError(f"{cfg.name}: {path} is missing; Azure builds the model's environment from it")
    spec = yaml.safe_load(path.read_text())
    pip = next((item["pip"] for item in spec.get("dependencies", []) if isinstance(item, dict)), None)
    if pip is None:
        raise MlopsError(f"{path} has no pip list under dependencies; add one")
    listed = {requirement_name(line) for line in pip}
    framework = [line.split(";")[0].strip() for line in requires("mlops") or [] if "extra ==" not in line]
    pip.extend(line for line in [*framework, *AZURE_RUNTIME] if requirement_name(line) not in listed)
    return yaml.safe_dump(spec, sort_keys=False)


def requirement_name(line: str) -> str:
    """Return the normalised package name of a requirement line."""
    return re.split(r"[<>=!~\[; ]", line.strip(), maxsplit=1)[0].lower().replace("_", "-")


def signal_definitions(cfg: DictConfig) -> list[dict[str, Any]]:
    """Return the monitor schedule's signals from the ``monitoring`` config: one per enabled drift and
    quality signal, and one more per column with its own thresholds (Azure has no per-feature ones)."""
    from mlops.monitoring import signals

    settings = signals.as_dict(cfg.monitoring)
    overrides = settings.get("feature_type_override") or {}
    result = []
    for signal, context in DRIFT_SIGNALS.items():
        chosen = (settings.get("signals") or {}).get(signal) or {}
        if not chosen.get("enabled", True):
            continue
        features = chosen.get("features", signals.ALL_FEATURES) if signal != "prediction_drift" else None
        if features == signals.TOP_N:
            features = {signals.TOP_N: chosen.get(signals.TOP_N, 10)}
        base = {"type": signal, "context": context, "type_override": overrides if features else {}}
        result.append(
            {**base, "name": signal, "features": features, "thresholds": chosen["metric_thresholds"]}
        )
        for column, own in (chosen.get("feature_thresholds") or {}).items():
            kind = overrides.get(column) or "numerical"
            thresholds = {kind: own}
            result.append(
                {**base, "name": f"{signal}_{column}", "features": [column], "thresholds": thresholds}
            )
    return result


def model_reference(cfg: DictConfig, version: str | None) -> str:
    """Return how a deployment names its model: a version (default the latest) in the workspace, or in
    the Azure ML registry where ``env.azure.models_from_registry`` says versions are promoted to."""
    if cfg.env.azure.models_from_registry:
        where = f"versions/{version}" if version else "labels/latest"
        return f"azureml://registries/{cfg.env.azure.registry}/models/{cfg.name}/{where}"
    return f"azureml:{cfg.name}:{version}" if version else f"azureml:{cfg.name}@latest"


def context(
    cfg: DictConfig,
    deployment: str,
    traffic: dict[str, int],
    version: str | None,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Return what the templates are rendered with."""
    from omegaconf import OmegaConf

    from mlops import project

    named = names(cfg)
    endpoint = named["online_endpoint"]
    return {
        "model": {"name": cfg.name, "task": cfg.task, "target": cfg.schema.target},
        "env": str(cfg.env.name),
        "azure": OmegaConf.to_container(cfg.env.azure, resolve=True),
        "names": named,
        "code": str(project.root()),
        "overrides": " ".join(overrides),
        "deployment": deployment,
        "traffic": traffic or {deployment: 100},
        "model_reference": model_reference(cfg, version),
        "batch": OmegaConf.to_container(cfg.deployment.batch, resolve=True),
        "training": TRAINING,
        "published": PUBLISHED,
        "signals": signal_definitions(cfg),
        "window": str(cfg.monitoring.window),
        "production": {
            context_name: f"azureml:{endpoint}-{deployment}-{context_name}@latest"
            for context_name in ("model_inputs", "model_outputs")
        },
    }


def template(name: str) -> Any:
    """Return the shared definition ``name`` as a Jinja template."""
    import jinja2

    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    environment.filters["tojson"] = lambda value: json.dumps(value)
    return environment.from_string(resources.files("mlops.azureml").joinpath(name).read_text())


def steps() -> dict[str, dict[str, Any]]:
    """Return the shared steps rendered as components (``steps.yaml``)."""
    import yaml

    return yaml.safe_load(resources.files("mlops.azureml").joinpath("steps.yaml").read_text())


def files(cfg: DictConfig, values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Return every definition as {relative path: (kind, text)}."""
    rendered = {
        "conda.yaml": ("conda", conda(cfg)),
        "environment.yml": (ENVIRONMENT, template("environment.yml").render(values)),
        "pipeline.yml": (PIPELINE, template("pipeline.yml").render(values)),
        "online-endpoint.yml": (ONLINE_ENDPOINT, template("online-endpoint.yml").render(values)),
        f"online-deployment-{values['deployment']}.yml": (
            ONLINE_DEPLOYMENT,
            template("online-deployment.yml").render(values),
        ),
        "batch-endpoint.yml": (BATCH_ENDPOINT, template("batch-endpoint.yml").render(values)),
        "batch-deployment.yml": (BATCH_DEPLOYMENT, template("batch-deployment.yml").render(values)),
        "data/training.yml": (DATA, template("data.yml").render(values, data=training_data(cfg))),
        "data/production.yml": (DATA, template("data.yml").render(values, data=production_data(cfg))),
    }
    for step, definition in steps().items():
        step_values = {**definition, "name": step, "parameters": definition.get("parameters") or {}}
        component = {"name": f"{values['names']['component_prefix']}_{step}"}
        text = template("component.yml").render(values, step=step_values, component=component)
        rendered[f"components/{step}.yml"] = (COMPONENT, text)
    for role in ("training_compute", "batch_compute"):
        text = template("compute.yml").render(values, cluster=values["azure"][role])
        rendered[f"compute/{role.removesuffix('_compute')}.yml"] = (COMPUTE, text)
    for byo in (False, True):
        own = f"azureml:{production_data(cfg)['name']}@latest"
        signals_here = [
            {**signal, "production": own if byo else values["production"][signal["context"]]}
            for signal in values["signals"]
        ]
        text = template("monitor.yml").render(values, byo=byo, signals=signals_here)
        rendered["monitor-byo.yml" if byo else "monitor.yml"] = (SCHEDULE, text)
    return rendered


def training_data(cfg: DictConfig) -> dict[str, str]:
    """Return the training data asset: the model's data file when it trains on one, else the folder
    the training pipeline's prep step writes its split to."""
    path = cfg.data.get("path")
    if path:
        return {
            "name": f"{cfg.name}-training",
            "type": "uri_file",
            "path": str(Path(str(path)).resolve()),
            "description": f"The file {cfg.name} trains on",
        }
    return {
        "name": f"{cfg.name}-training",
        "type": "uri_folder",
        "path": f"azureml://datastores/workspaceblobstore/paths/mlops/{cfg.name}/training/",
        "description": f"The training rows of {cfg.name}, as its prep step writes them",
    }


def production_data(cfg: DictConfig) -> dict[str, str]:
    """Return the bring-your-own production data asset: a folder of files with a timestamp column,
    which the monitor's preprocessing component cuts to each window."""
    return {
        "name": f"{cfg.name}-production",
        "type": "uri_folder",
        "path": f"azureml://datastores/workspaceblobstore/paths/mlops/{cfg.name}/production/",
        "description": f"Production rows of {cfg.name} with a {cfg.monitoring.timestamp_column} column",
    }


def render(
    name: str,
    env: str,
    out: Path,
    overrides: tuple[str, ...] | list[str] = (),
    deployment: str | None = None,
    traffic: dict[str, int] | None = None,
    version: str | None = None,
) -> list[Rendered]:
    """Write every definition of ``name`` in ``env`` into ``out`` (rendered in full before any file
    is written; other files in ``out`` are left alone); return them."""
    return write(compose(name, env, overrides), out, overrides, deployment, traffic, version)


def write(
    cfg: DictConfig,
    out: Path,
    overrides: Sequence[str] = (),
    deployment: str | None = None,
    traffic: dict[str, int] | None = None,
    version: str | None = None,
) -> list[Rendered]:
    """Write every definition of a composed model config into ``out``; return them."""
    values = context(
        cfg, deployment or str(cfg.deployment.online.deployment), traffic or {}, version, overrides
    )
    written = files(cfg, values)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as staging:
        for relative, (_, text) in written.items():
            target = Path(staging) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        shutil.copytree(staging, out, dirs_exist_ok=True)
    return [Rendered(path, kind) for path, (kind, _) in written.items() if kind != "conda"]
