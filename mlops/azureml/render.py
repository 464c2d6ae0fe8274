"""Render the shared Azure ML definitions (the YAML files beside this module) for one model and one
environment: an Azure ML environment per workload (training, online, batch; pinned from the one lock),
one command component per shared step, the training pipeline, online and batch endpoints and
deployments, compute clusters, the production data asset, the monitoring preprocessing component and
the monitor schedules, ready for ``az ml ... -f`` or for ``MLClient``."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.azureml import lock
from mlops.core import atomic
from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from omegaconf import DictConfig

# what each rendered file is, by the loader that reads it
ENVIRONMENT, COMPONENT, PIPELINE = "environment", "component", "pipeline"
ONLINE_ENDPOINT, ONLINE_DEPLOYMENT = "online_endpoint", "online_deployment"
BATCH_ENDPOINT, BATCH_DEPLOYMENT = "batch_endpoint", "batch_deployment"
COMPUTE, DATA, SCHEDULE = "compute", "data", "schedule"
CONDA = "conda"  # a conda file an environment names; no loader of its own
# endpoint names are unique per Azure region: 3-32 letters, digits and dashes, starting with a letter
ENDPOINT_NAME = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$")
ENDPOINT_LIMIT = 32
MAX_REQUEST_TIMEOUT_MS = 180_000  # the most a managed online deployment allows
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
# vCPUs of the instance types managed online deployments offer (Azure's VM SKU list), for one
# inference server worker per vCPU; another type needs env.azure.online.workers
VCPUS = {
    **{f"standard_ds{n}_v2": vcpus for n, vcpus in ((1, 1), (2, 2), (3, 4), (4, 8), (5, 16))},
    **{f"standard_f{n}s_v2": n for n in (2, 4, 8, 16, 32, 48, 64, 72)},
    **{f"standard_e{n}s_v3": n for n in (2, 4, 8, 16, 32, 48, 64)},
    **{f"standard_d{n}as_v4": n for n in (2, 4, 8, 16, 32, 48, 64, 96)},
}
# the version definitions name when they deploy nothing (validation; the training submission, which
# sends only the pipeline): any number loads and validates the same
PLACEHOLDER_VERSION = "1"
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


def compose(name: str, env: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose the model's config for ``env``, refusing an environment that does not exist."""
    from mlops.models import catalog

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
        **{f"{workload}_environment": f"mlops-{cfg.name}-{workload}" for workload in lock.WORKLOADS},
        "component_prefix": package,
        "preprocess_component": f"{package}_monitor_preprocess",
        "online_endpoint": endpoint_name(cfg.name, suffix),
        "batch_endpoint": endpoint_name(cfg.name, "batch", suffix),
        "monitor": f"{cfg.name}-monitor",
        "training_data": f"{cfg.name}-training",
    }


def conda(cfg: DictConfig, workload: str) -> str:
    """Return the conda file of the model's environment for ``workload`` (training, online or batch):
    its ``environment/conda.yaml`` (channels, Python, conda packages) with the pip list pinned from the
    model's own resolution in the lock (``mlops.azureml.lock``): its requirements, the framework's and the
    runtime's packages."""
    import yaml

    from mlops.models import catalog

    folder = catalog.model_dir(cfg.name) / "environment"
    path = folder / "conda.yaml"
    if not path.is_file():
        raise MlopsError(f"{cfg.name}: {path} is missing; Azure builds the model's environments from it")
    spec = yaml.safe_load(path.read_text())
    dependencies = spec.get("dependencies") or []
    pip = next((item for item in dependencies if isinstance(item, dict) and "pip" in item), None)
    if pip is None:
        raise MlopsError(f"{path} has no pip list under dependencies; add one")
    listed, required = sorted(pip["pip"]), sorted(lock.model_requirements(cfg.name))
    if listed != required:
        differing = sorted(set(listed) ^ set(required))
        raise MlopsError(
            f"{path}: its pip list and requirements.txt differ ({', '.join(differing)}); keep them equal"
        )
    python = next((str(item) for item in dependencies if str(item).startswith("python=")), None)
    if python and python != f"python={lock.PYTHON}":
        raise MlopsError(
            f"{path}: {python}, but the lock resolves for Python {lock.PYTHON}; use python={lock.PYTHON}"
        )
    pip["pip"] = lock.environment(cfg.name, workload)
    spec["name"] = f"{cfg.name}-{workload}"
    text: str = yaml.safe_dump(spec, sort_keys=False)
    return text


def signal_definitions(cfg: DictConfig) -> list[dict[str, Any]]:
    """Return the monitor schedule's signals from the ``monitoring`` config: one per enabled drift and
    quality signal, and one more per column with its own thresholds (Azure has no per-feature ones).

    Azure's signals run on the raw columns, where a date-time's moments never recur and nearly every
    text is new, so the model's date-time and text columns are left out of them (``mlops monitor``
    compares their parts instead, see ``mlops.monitoring.views``): the features then name the other
    columns, every one of them for all_features and top_n_feature_importance (Azure would rank the
    left-out columns too), and the thresholds or type of a left-out column or of its parts are not sent."""
    from mlops.models.features import column_kinds
    from mlops.monitoring import signals, views

    settings = signals.as_dict(cfg.monitoring)
    kinds = column_kinds(cfg)
    parts = views.columns(kinds)
    left_out = {name for column in kinds if kinds[column] in views.PARTS for name in (column, *parts[column])}
    kept = [column for column in kinds if column not in left_out]
    overrides = {
        column: kind
        for column, kind in (settings.get("feature_type_override") or {}).items()
        if column not in left_out
    }
    result = []
    for signal, context in DRIFT_SIGNALS.items():
        chosen = (settings.get("signals") or {}).get(signal) or {}
        if not chosen.get("enabled", True):
            continue
        features = chosen.get("features", signals.ALL_FEATURES) if signal != "prediction_drift" else None
        if isinstance(features, list):
            features = [column for column in features if column not in left_out]
            if not features:  # it named left-out columns only: Azure has nothing of it to monitor
                continue
        elif features is not None and left_out:
            features = kept
        elif features == signals.TOP_N:
            features = {signals.TOP_N: chosen.get(signals.TOP_N, 10)}
        base = {"type": signal, "context": context, "type_override": overrides if features else {}}
        result.append(
            {**base, "name": signal, "features": features, "thresholds": chosen["metric_thresholds"]}
        )
        for column, own in (chosen.get("feature_thresholds") or {}).items():
            if column in left_out:
                continue
            kind = overrides.get(column) or "numerical"
            thresholds = {kind: own}
            result.append(
                {**base, "name": f"{signal}_{column}", "features": [column], "thresholds": thresholds}
            )
    return result


def online_settings(cfg: DictConfig) -> dict[str, Any]:
    """Return what the online deployment serves with: one Azure inference server worker process per
    vCPU of the instance type (or ``env.azure.online.workers``), each serving ``threads`` requests at
    once that share predict calls, as many concurrent requests per instance as that makes (Azure's
    guidance: max_concurrent_requests_per_instance matches what the server takes at once), the
    request timeout, and the local endpoint's request size limit and micro-batching."""
    online = cfg.env.azure.online
    workers = online.get("workers") or VCPUS.get(str(online.instance_type).lower())
    if not isinstance(workers, int) or workers < 1:
        raise MlopsError(
            f"{cfg.name}: env.azure.online.workers is {online.get('workers')!r} and the vCPUs of "
            f"instance type {online.instance_type} are not known; set env.azure.online.workers to the "
            "number of inference server workers per instance (one per vCPU)"
        )
    threads = online.threads
    if not isinstance(threads, int) or threads < 1:
        raise MlopsError(f"{cfg.name}: env.azure.online.threads is {threads!r}; use 1 or more")
    timeout = online.request_timeout_ms
    if not isinstance(timeout, int) or not 1 <= timeout <= MAX_REQUEST_TIMEOUT_MS:
        raise MlopsError(
            f"{cfg.name}: env.azure.online.request_timeout_ms is {timeout!r}; "
            f"use 1 to {MAX_REQUEST_TIMEOUT_MS} milliseconds (Azure's limit)"
        )
    local = cfg.deployment.online
    return {
        "workers": workers,
        "threads": threads,
        "concurrent_requests": workers * threads,
        "request_timeout_ms": timeout,
        "max_request_bytes": int(local.max_request_bytes),
        "batch_wait_ms": int(local.batch_wait_ms),
        "max_batch_rows": int(local.max_batch_rows),
    }


def model_reference(cfg: DictConfig, version: str) -> str:
    """Return how a deployment names its model: version ``version`` in the workspace, or in the Azure
    ML registry where ``env.azure.models_from_registry`` says versions are promoted to. Always a
    number: a label such as ``@latest`` would serve the last registered version, even a rejected one."""
    if cfg.env.azure.models_from_registry:
        return f"azureml://registries/{cfg.env.azure.registry}/models/{cfg.name}/versions/{version}"
    return f"azureml:{cfg.name}:{version}"


def context(
    cfg: DictConfig,
    deployment: str,
    traffic: dict[str, int],
    version: str,
    overrides: Sequence[str] = (),
) -> dict[str, Any]:
    """Return what the templates are rendered with."""
    from omegaconf import OmegaConf

    from mlops.core import project

    named = names(cfg)
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
        "online": online_settings(cfg),
        "batch": OmegaConf.to_container(cfg.deployment.batch, resolve=True),
        "training": TRAINING,
        "published": PUBLISHED,
        "signals": signal_definitions(cfg),
        "window": str(cfg.monitoring.window),
        "timestamp_column": str(cfg.monitoring.timestamp_column),
        "production": production_data(cfg),
        "reference_data": f"azureml:{named['training_data']}:{version}",
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

    found: dict[str, dict[str, Any]] = yaml.safe_load(
        resources.files("mlops.azureml").joinpath("steps.yaml").read_text()
    )
    return found


def files(cfg: DictConfig, values: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """Return every definition as {relative path: (kind, text)}."""
    rendered = {
        "pipeline.yml": (PIPELINE, template("pipeline.yml").render(values)),
        "online-endpoint.yml": (ONLINE_ENDPOINT, template("online-endpoint.yml").render(values)),
        f"online-deployment-{values['deployment']}.yml": (
            ONLINE_DEPLOYMENT,
            template("online-deployment.yml").render(values),
        ),
        "batch-endpoint.yml": (BATCH_ENDPOINT, template("batch-endpoint.yml").render(values)),
        "batch-deployment.yml": (BATCH_DEPLOYMENT, template("batch-deployment.yml").render(values)),
        "data/production.yml": (DATA, template("data.yml").render(values, data=values["production"])),
        "components/monitor_preprocess.yml": (COMPONENT, template("preprocess-component.yml").render(values)),
        "monitor.yml": (SCHEDULE, template("monitor.yml").render(values, byo=False)),
        "monitor-byo.yml": (SCHEDULE, template("monitor.yml").render(values, byo=True)),
    }
    for workload in lock.WORKLOADS:
        rendered[f"environments/{workload}.conda.yaml"] = (CONDA, conda(cfg, workload))
        text = template("environment.yml").render(values, workload=workload)
        rendered[f"environments/{workload}.yml"] = (ENVIRONMENT, text)
    for step, definition in steps().items():
        step_values = {**definition, "name": step}
        component = {"name": f"{values['names']['component_prefix']}_{step}"}
        text = template("component.yml").render(values, step=step_values, component=component)
        rendered[f"components/{step}.yml"] = (COMPONENT, text)
    for role in ("training_compute", "batch_compute"):
        text = template("compute.yml").render(values, cluster=values["azure"][role])
        rendered[f"compute/{role.removesuffix('_compute')}.yml"] = (COMPUTE, text)
    return rendered


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
    is written; other files in ``out`` are left alone); return them. The deployments and the monitor
    name ``version``, else the model's champion in the environment (``mlops.azureml.champion``)."""
    from mlops.azureml import champion

    cfg = compose(name, env, overrides)
    return write(cfg, out, champion.version(cfg, version), overrides, deployment, traffic)


def write(
    cfg: DictConfig,
    out: Path,
    version: str,
    overrides: Sequence[str] = (),
    deployment: str | None = None,
    traffic: dict[str, int] | None = None,
) -> list[Rendered]:
    """Write every definition of a composed model config, its deployments and monitor naming
    ``version``, into ``out``, all or none; return them."""
    values = context(
        cfg, deployment or str(cfg.deployment.online.deployment), traffic or {}, version, overrides
    )
    written = files(cfg, values)
    atomic.write_all(out, {relative: text for relative, (_, text) in written.items()})
    return [Rendered(path, kind) for path, (kind, _) in written.items() if kind != CONDA]
