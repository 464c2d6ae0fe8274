"""Submit a model's rendered definitions to Azure ML through ``MLClient``: the training pipeline, the
online or batch endpoint and deployment, the monitor schedule, and promotion of a version between
workspaces through the Azure ML registry. Every submission renders and validates first; ``dry_run``
stops there. azure-ai-ml and azure-identity are imported only on this path."""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.azureml import champion, render, validate, workspace
from mlops.core.errors import MlopsError
from mlops.evaluation import gate

if TYPE_CHECKING:
    from omegaconf import DictConfig

Echo = Callable[[str], None]


@dataclass
class Plan:
    """What a submission sends, in order: (operation, entity) pairs, for the client or a dry run; after
    a training job, the register step's registration (version and the gate's verdict)."""

    cfg: Any
    steps: list[tuple[str, Any]] = field(default_factory=list)
    registration: dict[str, Any] | None = None
    check: Callable[[Any], None] | None = None  # run with the client before anything is sent


class Loaded(dict[str, Any]):
    """The rendered definitions by path, each loaded with the SDK when first asked for."""

    def __init__(self, folder: Path, kinds: dict[str, str]):
        super().__init__()
        self.folder = folder
        self.kinds = kinds

    def __missing__(self, path: str) -> Any:
        self[path] = entity = validate.load(self.folder / path, self.kinds[path])
        return entity


def rendered(
    name: str, env: str, folder: Path, version: str, overrides: Sequence[str] = (), **options: Any
) -> tuple[DictConfig, Loaded]:
    """Render and validate the model's definitions, naming ``version``, into ``folder``; refuse any
    problem, naming it; return the config and each definition freshly loaded, by path (validation's
    copies built REST payloads, which consumes parts of some entities)."""
    cfg = render.compose(name, env, overrides)
    written = render.write(cfg, folder, version, overrides, **options)
    problems = validate.validate(folder, written)
    if problems:
        raise MlopsError(f"{name} ({env}): the definitions do not validate: " + "; ".join(problems[:3]))
    return cfg, Loaded(folder, {item.path: item.kind for item in written})


def training_plan(name: str, env: str, folder: Path, overrides: Sequence[str] = ()) -> Plan:
    """Return what ``mlops train --target azure`` sends: the environment and the pipeline job, whose
    ``overrides`` input carries the Hydra overrides to every step. The cluster is infrastructure
    (infrastructure/ creates it); ``az ml compute create -f compute/training.yml`` does without."""
    cfg, entities = rendered(name, env, folder, render.PLACEHOLDER_VERSION, overrides)
    return Plan(
        cfg,
        [
            ("environments.create_or_update", entities["environments/training.yml"]),
            ("jobs.create_or_update", entities["pipeline.yml"]),
        ],
    )


def online_plan(
    name: str,
    env: str,
    folder: Path,
    deployment: str,
    version: str | None,
    traffic: dict[str, int],
    registry_client: Any = None,
) -> Plan:
    """Return what ``mlops deploy --online --target azure`` sends: the environment, the endpoint
    without traffic (a new endpoint has no deployment to send it to yet), the deployment, then the
    endpoint with its traffic; first the version's files are checked (see ``checked_files``). Without
    ``version``, the champion's number (``mlops.azureml.champion``)."""
    version = champion.version(render.compose(name, env), version)
    cfg, entities = rendered(name, env, folder, version, deployment=deployment, traffic=traffic)
    routed = entities["online-endpoint.yml"]
    created = validate.load(folder / "online-endpoint.yml", render.ONLINE_ENDPOINT)
    created.traffic = {}
    return Plan(
        cfg,
        [
            ("environments.create_or_update", entities["environments/online.yml"]),
            ("online_endpoints.begin_create_or_update", created),
            ("online_deployments.begin_create_or_update", entities[f"online-deployment-{deployment}.yml"]),
            ("online_endpoints.begin_create_or_update", routed),
        ],
        check=lambda client: checked_files(cfg, version, client, registry_client),
    )


def batch_plan(
    name: str, env: str, folder: Path, deployment: str, version: str | None, registry_client: Any = None
) -> Plan:
    """Return what ``mlops deploy --batch --target azure`` sends: environment, batch endpoint and model
    batch deployment (on the batch cluster the infrastructure creates); first the version's files are
    checked (see ``checked_files``). Without ``version``, the champion's number."""
    version = champion.version(render.compose(name, env), version)
    cfg, entities = rendered(name, env, folder, version, deployment=deployment)
    return Plan(
        cfg,
        [
            ("environments.create_or_update", entities["environments/batch.yml"]),
            ("batch_endpoints.begin_create_or_update", entities["batch-endpoint.yml"]),
            ("batch_deployments.begin_create_or_update", entities["batch-deployment.yml"]),
        ],
        check=lambda client: checked_files(cfg, version, client, registry_client),
    )


def monitor_plan(
    name: str,
    env: str,
    folder: Path,
    byo: bool,
    version: str | None = None,
    client: Any = None,
    registry_client: Any = None,
) -> Plan:
    """Return what ``mlops monitor --target azure`` sends: the reference data asset (the training rows
    of the version monitored, an MLTable built from the baseline inside that version's model folder),
    with own data (``byo``) the production folder asset and the Spark preprocessing component, then
    the monitor schedule, whose signals name that reference version. The version is ``version``, else
    the one the online endpoint serves (whose deployment the collected-data schedule then monitors).
    Without ``client`` (a dry run) nothing is downloaded and nothing asked of the endpoint: the
    schedule names ``version``, else the champion's number (``mlops.azureml.champion``)."""
    from mlops.monitoring import reference

    cfg = render.compose(name, env)
    asset = render.names(cfg)["training_data"]
    table = folder / "reference"
    deployment = None
    if client is not None:
        with workspace.errors(env), tempfile.TemporaryDirectory(dir=folder, prefix="model-") as downloaded:
            if version is None:
                _, deployment, version = served(cfg, client)
            model_folder = fetch(cfg, version, Path(downloaded), client, registry_client)
            reference.write_table(model_folder, table, name, version)
    version = champion.version(cfg, version)
    cfg, entities = rendered(name, env, folder / "definitions", version, deployment=deployment)
    steps = [("data.create_or_update", reference.data_asset(table, asset, name, version))]
    if byo:
        steps += [
            ("data.create_or_update", entities["data/production.yml"]),
            ("components.create_or_update", entities["components/monitor_preprocess.yml"]),
        ]
    schedule = entities["monitor-byo.yml" if byo else "monitor.yml"]
    return Plan(cfg, [*steps, ("schedules.begin_create_or_update", schedule)])


def label(entity: Any) -> str:
    """Return an entity's kind and name (a pipeline job's display name until the service names it)."""
    return f"{type(entity).__name__} {entity.name or getattr(entity, 'display_name', '')}"


def send(plan: Plan, client: Any, echo: Echo) -> list[Any]:
    """Send each step of a plan through ``client``; wait for long-running operations; return results."""
    results = []
    with workspace.errors(str(plan.cfg.env.name)):
        for operation, entity in plan.steps:
            group, method = operation.split(".")
            echo(f"{plan.cfg.name}: {operation.replace('begin_', '')} {label(entity)}")
            if operation == "jobs.create_or_update":
                result = client.jobs.create_or_update(entity, experiment_name=plan.cfg.name)
            else:
                result = getattr(getattr(client, group), method)(entity)
            results.append(result.result() if method.startswith("begin_") else result)
    return results


def stream(plan: Plan, client: Any, job: Any, echo: Echo) -> None:
    """Stream a submitted job's log until it ends; raise unless it completed."""
    with workspace.errors(str(plan.cfg.env.name)):
        echo(f"{plan.cfg.name}: job {job.name} submitted; {getattr(job, 'studio_url', '')}".rstrip("; "))
        client.jobs.stream(job.name)
        status = client.jobs.get(job.name).status
    if status != "Completed":
        raise MlopsError(f"{plan.cfg.name}: Azure ML job {job.name} ended {status}")
    echo(f"{plan.cfg.name}: job {job.name} completed")


def registration(plan: Plan, client: Any, job: Any, echo: Echo) -> dict[str, Any]:
    """Download a completed training job's registration output and report the gate's verdict."""
    import json

    from mlops.registry.artifacts import REGISTRATION_FILE

    with (
        tempfile.TemporaryDirectory(prefix="mlops-registration-") as folder,
        workspace.errors(str(plan.cfg.env.name)),
    ):
        client.jobs.download(job.name, download_path=folder, output_name=render.REGISTRATION)
        file = Path(folder) / "named-outputs" / render.REGISTRATION / REGISTRATION_FILE
        if not file.is_file():
            raise MlopsError(
                f"{plan.cfg.name}: job {job.name} completed without its {render.REGISTRATION} output; "
                "see the register step's log in the studio"
            )
        found: dict[str, Any] = json.loads(file.read_text())
    verdict = gate.Verdict(found.get("verdict") or ("promote" if found["champion"] else "reject")).said
    echo(f"{plan.cfg.name}: version {found['version']} {verdict}: {found['reason']}")
    return found


def run(plan_for: Callable[[Path], Plan], dry_run: bool, echo: Echo, client: Any = None) -> Plan:
    """Render and validate through ``plan_for``; unless ``dry_run``, send the plan (through ``client``,
    default an authenticated ``MLClient``), stream a submitted training job and read back its
    registration."""
    with tempfile.TemporaryDirectory(prefix="mlops-azure-") as folder:
        plan = plan_for(Path(folder))
        if dry_run:
            for operation, entity in plan.steps:
                echo(f"{plan.cfg.name}: would {operation.replace('begin_', '')} {label(entity)}")
            return plan
        client = client or workspace.client(plan.cfg)
        if plan.check:
            with workspace.errors(plan.cfg.env.name):
                plan.check(client)
        results = send(plan, client, echo)
    if plan.steps and plan.steps[-1][0] == "jobs.create_or_update":
        stream(plan, client, results[-1], echo)
        plan.registration = registration(plan, client, results[-1], echo)
    return plan


def promote(name: str, version: str, source: str, target: str, client: Any = None, echo: Echo = print) -> Any:
    """Share ``version`` of ``name`` from the ``source`` workspace into the Azure ML registry, where
    the ``target`` workspace deploys it from; both environments must use the same registry."""
    source_cfg, target_cfg = render.compose(name, source), render.compose(name, target)
    registry_name = str(source_cfg.env.azure.registry)
    if str(target_cfg.env.azure.registry) != registry_name:
        raise MlopsError(
            f"{source} and {target} use different registries ({registry_name}, "
            f"{target_cfg.env.azure.registry}); set env.azure.registry to one they share"
        )
    client = client or workspace.client(source_cfg)
    with workspace.errors(source):
        shared = client.models.share(
            name,
            str(version),
            share_with_name=name,
            share_with_version=str(version),
            registry_name=registry_name,
        )
    reference = f"azureml://registries/{registry_name}/models/{name}/versions/{version}"
    echo(f"{name}: version {version} of {source} is in registry {registry_name} ({reference})")
    echo(f"deploy it with: mlops deploy {name} --online --target azure --env {target} --version {version}")
    return shared


def served(cfg: DictConfig, client: Any) -> tuple[str, str, str]:
    """Return the online endpoint, the deployment taking most of its traffic and the version that
    deployment serves."""
    from azure.core.exceptions import ResourceNotFoundError

    endpoint = render.names(cfg)["online_endpoint"]
    deploy = f"mlops deploy {cfg.name} --online --target azure --env {cfg.env.name}"
    try:
        routed = client.online_endpoints.get(endpoint).traffic or {}
    except ResourceNotFoundError:
        raise MlopsError(
            f"{cfg.name}: there is no online endpoint {endpoint} in {cfg.env.name}; deploy it ({deploy}) "
            "or pass --version"
        ) from None
    traffic = {key: int(value) for key, value in routed.items()}
    if not any(traffic.values()):
        raise MlopsError(
            f"{cfg.name}: online endpoint {endpoint} in {cfg.env.name} sends no traffic to a "
            f"deployment; deploy it ({deploy}) or pass --version"
        )
    deployment = max(sorted(traffic), key=traffic.__getitem__)
    model = client.online_deployments.get(name=deployment, endpoint_name=endpoint).model
    reference = str(getattr(model, "id", None) or model)
    found = re.search(r"(?:/versions/|^azureml:[^:/]+:)([^/:@]+)$", reference)
    if not found:
        raise MlopsError(
            f"{cfg.name}: cannot tell which version deployment {deployment} of {endpoint} serves "
            f"({reference}); pass --version"
        )
    return endpoint, deployment, found.group(1)


def checked_files(cfg: DictConfig, version: str, client: Any, registry_client: Any = None) -> None:
    """Download ``version`` of the model from where the environment deploys it from and raise naming
    the file when its files differ from the digests registered on it."""
    from mlops.registry import digests

    from_registry = bool(cfg.env.azure.models_from_registry)
    models = (registry_client or workspace.client(cfg, registry=True)) if from_registry else client
    found = models.models.get(name=cfg.name, version=str(version))
    with tempfile.TemporaryDirectory() as temporary:
        folder = fetch(cfg, str(found.version), Path(temporary), client, models)
        where = f"version {found.version} of '{cfg.name}' in {cfg.env.name}"
        digests.check(folder, dict(found.tags or {}), where)


def fetch(cfg: DictConfig, version: str, into: Path, client: Any, registry_client: Any = None) -> Path:
    """Download ``version`` of the model into the folder ``into``, from the workspace of ``client`` or,
    where the environment deploys from it, from the Azure ML registry; return the MLflow model folder
    inside it (its monitoring baseline included)."""
    from mlops.registry import modelio

    from_registry = bool(cfg.env.azure.models_from_registry)
    models = (registry_client or workspace.client(cfg, registry=True)) if from_registry else client
    models.models.download(name=cfg.name, version=version, download_path=str(into))
    try:
        return modelio.find(into)
    except MlopsError:
        raise MlopsError(
            f"{cfg.name}: version {version} in {cfg.env.name} is not one MLflow model folder (no single "
            "MLmodel file); only versions that mlops train registered can be downloaded"
        ) from None


def download(
    name: str,
    env: str,
    out: Path,
    version: str | None = None,
    client: Any = None,
    registry_client: Any = None,
    echo: Echo = print,
) -> dict[str, Any]:
    """Download ``version`` of ``name`` (default the version its online endpoint in ``env`` serves) from
    the workspace, or from the registry where ``env`` deploys from it, into ``out`` as an MLflow model
    folder, its monitoring baseline included; ``out`` is written whole or not at all."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise MlopsError(f"{out} is not an empty folder; pass a new or empty folder to --out")
    cfg = render.compose(name, env)
    from_registry = bool(cfg.env.azure.models_from_registry)
    if version is None or not from_registry:  # the workspace serves, or holds, the version
        client = client or workspace.client(cfg)
    endpoint = deployment = None
    with workspace.errors(env):
        if version is None:
            endpoint, deployment, version = served(cfg, client)
        out.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.name}-") as partial:
            folder = fetch(cfg, str(version), Path(partial), client, registry_client)
            if out.exists():
                out.rmdir()
            shutil.move(str(folder), str(out))
    where = f"registry {cfg.env.azure.registry}" if from_registry else f"the {env} workspace"
    serving = f" (served by {endpoint}/{deployment})" if deployment else ""
    echo(f"{name}: version {version} from {where}{serving} in {out}")
    return {
        "model": name,
        "env": env,
        "version": str(version),
        "endpoint": endpoint,
        "deployment": deployment,
        "path": str(out),
    }
