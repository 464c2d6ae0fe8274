"""The endpoint commands: deploy, endpoints, stop, keys, invoke. Heavy libraries load inside them."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from mlops.cli.targets import check_target, elsewhere, env_manager_option, target_options
from mlops.core.console import echo_table
from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion


@click.command()
@click.argument("name")
@click.option("--online", is_flag=True, help="Serve NAME on an online endpoint (locally: the only kind).")
@click.option("--batch", is_flag=True, help="With --target azure: a batch endpoint and deployment.")
@click.option("--deployment", help="Deployment to add or update [default: deployment.online.deployment].")
@click.option("--version", help="Registered version to serve.")
@click.option("--alias", help="Serve the version holding this alias [default: champion].")
@click.option("--traffic", help="Traffic shares in percent, e.g. blue=90,green=10 (integers summing to 100).")
@click.option(
    "--port", type=click.IntRange(1, 65535), help="Port on 127.0.0.1 [default: the last one, else free]."
)
@target_options
@env_manager_option
def deploy(
    name: str,
    online: bool,
    batch: bool,
    deployment: str | None,
    version: str | None,
    alias: str | None,
    traffic: str | None,
    port: int | None,
    target: str,
    env: str | None,
    dry_run: bool,
    env_manager: str,
) -> None:
    """Serve a registered version of NAME on its local online endpoint, as deployment --deployment.

    The first deploy starts the endpoint with its keys and gives the deployment 100% of the traffic;
    a later one adds or updates a deployment (0% of the traffic unless --traffic says otherwise)
    while the endpoint keeps serving. --target azure creates or updates the managed online endpoint
    (or, with --batch, the batch endpoint) and its deployment in the workspace of --env. A model whose
    environment/requirements.txt this environment does not meet is served from its own (--env-manager).
    """
    from mlops import registry
    from mlops.models import catalog
    from mlops.registry import registered
    from mlops.serving import endpoints

    catalog.model_dir(name)
    environment = check_target(target, env, dry_run)
    if target == "azure":
        if online == batch:
            raise MlopsError(f"pass --online or --batch, e.g. mlops deploy {name} --online --target azure")
        if alias:
            raise MlopsError("Azure ML deploys a version (--version N) or the champion, not an alias")
        options = {"deployment": deployment, "version": version, "traffic": traffic}
        deploy_to_azure(name, environment, "online" if online else "batch", options, dry_run)
        return
    if batch:
        raise MlopsError(
            f"--batch deploys to Azure ML (--target azure); here, score files with: mlops batch {name}"
        )
    if not online:
        raise MlopsError(
            f"mlops deploy serves local online endpoints only; run: mlops deploy {name} --online"
        )
    if version and alias:
        raise MlopsError("pass --version or --alias, not both")
    shares = endpoints.parse_traffic(traffic) if traffic else None
    registered.check(name, version, alias or registry.CHAMPION)  # an untrained model, before MLflow loads
    if done := elsewhere(name, env_manager):  # the server then runs on that environment's Python
        sys.exit(done.returncode)
    from omegaconf import OmegaConf

    cfg = catalog.load_config(name)
    deployment = deployment or cfg.deployment.online.deployment
    found = registry.get_version(name, version) if version else by_alias(name, alias or registry.CHAMPION)
    registry.verified(found)  # a version whose files changed since registration is refused by name
    settings = cast("dict[str, Any]", OmegaConf.to_container(cfg.deployment.online))  # a mapping
    trusted = catalog.trusted(cfg)
    record = endpoints.deploy(name, deployment, found.version, shares, port, settings, trusted)
    share = record["traffic"][deployment]
    click.echo(f"{name}: deployment {deployment} serves version {found.version} with {share}% of the traffic")
    click.echo(f"scoring URL: http://{endpoints.HOST}:{record['port']}/score (keys: mlops keys {name})")


def deploy_to_azure(name: str, env: str, kind: str, options: dict[str, Any], dry_run: bool) -> None:
    """Create or update NAME's ``kind`` (online or batch) endpoint and deployment in ``env``'s workspace."""
    from mlops.azureml import submit
    from mlops.models import catalog
    from mlops.serving import endpoints

    deployment = options["deployment"] or str(catalog.load_config(name).deployment.online.deployment)
    version = options["version"]
    if kind == "online":
        shares = endpoints.parse_traffic(options["traffic"]) if options["traffic"] else {}
        submit.run(
            lambda folder: submit.online_plan(name, env, folder, deployment, version, shares),
            dry_run,
            click.echo,
        )
    else:
        submit.run(
            lambda folder: submit.batch_plan(name, env, folder, deployment, version), dry_run, click.echo
        )


def by_alias(name: str, alias: str) -> ModelVersion:
    """Return the version of ``name`` holding ``alias``, or raise naming the fix."""
    from mlops import registry

    return registry.find_version(name, None, alias)  # the alias, or its tag where the store has none


def check_name(name: str) -> None:
    """Raise as for a mistyped model name (the closest model suggested) when ``name`` is neither an
    endpoint nor a model; a model without an endpoint is left to ``endpoints.read`` to name."""
    from mlops.models import catalog
    from mlops.serving import endpoints

    if name not in endpoints.names():
        catalog.model_dir(name)


def endpoint_rows() -> list[dict[str, Any]]:
    """Return one row per endpoint: port, pid, health and its deployments with versions and traffic."""
    from mlops.serving import endpoints

    rows = []
    for name in endpoints.names():
        record = endpoints.read(name)
        state = endpoints.health(record)
        rows.append(
            {
                "name": name,
                "state": state,
                "port": record.get("port"),
                "pid": record.get("pid") if state != "stopped" else None,
                "started_at": record.get("started_at"),
                "scoring_uri": f"http://{endpoints.HOST}:{record.get('port')}/score",
                "deployments": [
                    {"name": deployment, "version": version, "traffic": record["traffic"][deployment]}
                    for deployment, version in record["deployments"].items()
                ],
            }
        )
    return rows


@click.command("endpoints")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_endpoints(as_json: bool) -> None:
    """Show the local endpoints, their deployments, versions, traffic, port, pid and health."""
    rows = endpoint_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    if not rows:
        click.echo("no endpoints yet; start one with: mlops deploy NAME --online")
        return
    header = ("ENDPOINT", "DEPLOYMENT", "VERSION", "TRAFFIC", "PORT", "PID", "STATE")
    echo_table(
        header,
        [
            (
                row["name"],
                d["name"],
                f"v{d['version']}",
                f"{d['traffic']}%",
                str(row["port"]),
                str(row["pid"] or "-"),
                row["state"],
            )
            for row in rows
            for d in row["deployments"]
        ],
    )


@click.command()
@click.argument("name")
@click.option("--deployment", help="Remove only this deployment; its traffic is spread over the others.")
def stop(name: str, deployment: str | None) -> None:
    """Stop endpoint NAME (its record, keys and collected data stay), or remove one of its deployments."""
    from mlops.core import project
    from mlops.serving import endpoints

    check_name(name)
    if deployment:
        record = endpoints.remove(name, deployment)
        shares = ", ".join(f"{d}={share}" for d, share in record["traffic"].items())
        click.echo(f"{name}: deployment {deployment} removed; traffic {shares}")
        return
    record, killed = endpoints.stop(name)
    if not record.get("pid"):
        click.echo(f"{name}: already stopped")
    elif killed:
        click.echo(
            f"{name}: killed (it ignored SIGTERM for {endpoints.TERM_SECONDS} s; "
            "requests in flight and uncollected data were lost)"
        )
    else:
        click.echo(f"{name}: stopped (collected data flushed to {project.collected(name)})")


@click.command()
@click.argument("name")
@click.option("--regenerate", type=click.Choice(["primary", "secondary"]), help="Replace this key first.")
def keys(name: str, regenerate: str | None) -> None:
    """Print the keys of endpoint NAME; a regenerated key works at once, the old one stops working."""
    from mlops.serving import endpoints
    from mlops.serving import keys as endpoint_keys

    check_name(name)
    endpoints.read(name)
    path = endpoints.folder(name)
    found = endpoint_keys.regenerate(path, regenerate) if regenerate else endpoint_keys.read(path)
    for which, key in found.items():
        click.echo(f"{which}: {key}")


@click.command()
@click.argument("name")
@click.option(
    "--file",
    "request_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help='JSON request body, e.g. {"input_data": {"columns": [...], "data": [[...]]}}.',
)
@click.option(
    "--example", is_flag=True, help="Send the input example logged with the version that will answer."
)
@click.option(
    "--rows", type=click.IntRange(min=1), help="With --example: this many rows (repeated as needed)."
)
@click.option("--deployment", help="Send to this deployment (azureml-model-deployment header).")
def invoke(
    name: str, request_file: Path | None, example: bool, rows: int | None, deployment: str | None
) -> None:
    """Score a request on endpoint NAME with its primary key and print the answer: the body in --file,
    or with --example the input example of the version the deployment serves."""
    from mlops.serving import endpoints

    if bool(request_file) == example:
        raise MlopsError(
            f"pass --file REQUEST.json or --example (the input example logged with the version, e.g. "
            f"mlops invoke {name} --example)"
        )
    if rows is not None and not example:
        raise MlopsError("--rows goes with --example")
    check_name(name)
    endpoints.live(name)  # a stopped endpoint is answered before the example's version is read
    if example:
        body, deployment = endpoints.example(name, deployment, rows)
    else:
        assert request_file is not None  # refused above unless --file or --example
        body = request_file.read_bytes()
    status, answer, answered = endpoints.invoke(name, body, deployment)
    if not 200 <= status < 300:
        message = answer.get("message", answer) if isinstance(answer, dict) else answer
        raise MlopsError(f"endpoint '{name}' answered {status}: {message}")
    click.echo(json.dumps(answer, indent=2))
    click.echo(f"answered by deployment {answered}", err=True)
