"""The ``mlops azure`` commands (this module imports only click at the top, so ``--help`` stays fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlops.core.console import progress_echo
from mlops.core.errors import MlopsError


@click.group()
def azure() -> None:
    """Azure ML: render and validate a model's definitions offline, pin their environments, promote
    versions between workspaces, download the version an endpoint serves."""


@azure.command("render", context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--env", "env", default="dev", show_default=True, help="Environment: dev, staging or prod.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), required=True, help="Output folder.")
@click.option("--version", help="Version the deployments and monitor name [default: the champion].")
def render_command(name: str, overrides: tuple[str, ...], env: str, out: Path, version: str | None) -> None:
    """Write NAME's Azure ML definitions for one environment into --out, ready for az ml ... -f.

    The deployments and the monitor name --version, else the number of NAME's champion in the
    environment's workspace (read through MLFLOW_TRACKING_URI, else the workspace's own tracking URI).
    OVERRIDES are Hydra overrides of the model's config, e.g. env.azure.endpoint_suffix=eu1.
    """
    from mlops.azureml import render
    from mlops.models import catalog

    catalog.model_dir(name)  # a mistyped name is answered before Hydra and the workspace client load
    written = render.render(name, env, out, overrides, version=version)
    click.echo(f"{name} ({env}): wrote {len(written)} definitions to {out}")
    for item in written:
        click.echo(f"  {item.kind:<18} {item.path}")


@azure.command("validate", context_settings={"ignore_unknown_options": True})
@click.argument("name", required=False)
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--all", "all_models", is_flag=True, help="Validate every model in data-science/models.")
@click.option("--env", "envs", multiple=True, help="Environment to validate (repeatable) [default: all].")
def validate_command(
    name: str | None, overrides: tuple[str, ...], all_models: bool, envs: tuple[str, ...]
) -> None:
    """Render NAME's definitions (or every model's) and load each with azure-ai-ml's own loaders plus a
    strict layer; print each problem as file: field: message and exit 1 when there is any."""
    import tempfile

    from mlops.azureml import render, validate
    from mlops.models import catalog

    if all_models == bool(name):
        raise MlopsError("name a model to validate or pass --all")
    if all_models:
        names = catalog.model_names()
    else:
        assert name is not None  # refused above unless named
        names = [catalog.model_dir(name).name]
    failures, broken = 0, []
    for model in names:
        for env in envs or render.environments():
            with tempfile.TemporaryDirectory(prefix="mlops-azure-") as folder:
                try:
                    written = render.render(
                        model, env, Path(folder), overrides, version=render.PLACEHOLDER_VERSION
                    )
                except MlopsError as error:
                    if not all_models:
                        raise
                    click.echo(f"error: {error}", err=True)  # one broken model never stops the others
                    broken.append(model)
                    break
                problems = validate.validate(Path(folder), written)
            verdict = "ok" if not problems else f"{len(problems)} problems"
            click.echo(f"{model} ({env}): {len(written)} definitions, {verdict}")
            for problem in problems:
                click.echo(f"  {problem}")
            failures += bool(problems)
    if broken:
        raise catalog.broken(broken, len(names))
    if failures:
        sys.exit(1)


@azure.command("lock")
@click.option("--check", is_flag=True, help="Exit 1, naming what changed, when the lock is not current.")
def lock_command(check: bool) -> None:
    """Pin every Azure ML environment with uv into mlops/azureml/requirements.lock: the framework's
    dependencies with the Azure runtimes' packages, then each model's environment/requirements.txt on
    top of them, model by model (--check only tells, offline and naming the model, whether it is current)."""
    from mlops.azureml import lock

    if not check:
        click.echo(f"wrote {lock.write()}")
        return
    problems = lock.check()
    for problem in problems:
        click.echo(f"{lock.LOCK}: {problem}", err=True)
    if problems:
        raise MlopsError(f"{lock.LOCK} is stale; run `{lock.REGENERATE}` and commit it")
    click.echo(f"{lock.LOCK} is current")


@azure.command("promote")
@click.argument("name")
@click.option("--version", required=True, help="Registered version to promote.")
@click.option("--from", "source", required=True, help="Environment whose workspace holds the version.")
@click.option("--to", "target", required=True, help="Environment that will deploy it.")
def promote_command(name: str, version: str, source: str, target: str) -> None:
    """Share VERSION of NAME from one environment's workspace into the Azure ML registry both use."""
    from mlops.azureml import submit
    from mlops.models import catalog

    catalog.model_dir(name)
    submit.promote(name, version, source, target, echo=click.echo)


@azure.command("download")
@click.argument("name")
@click.option("--env", "env", default="dev", show_default=True, help="Environment: dev, staging or prod.")
@click.option(
    "--out", type=click.Path(path_type=Path), required=True, help="New or empty folder for the model."
)
@click.option("--version", help="Version to download [default: the one the online endpoint serves].")
@click.option(
    "--json", "as_json", is_flag=True, help="Print model, env, version, endpoint, deployment and path."
)
def download_command(name: str, env: str, out: Path, version: str | None, as_json: bool) -> None:
    """Download the version of NAME its online endpoint in --env serves (or --version) into --out, as
    an MLflow model folder with its monitoring baseline: mlops monitor NAME --model OUT compares with it.
    """
    import json

    from mlops.azureml import submit
    from mlops.models import catalog

    catalog.model_dir(name)
    echo = progress_echo(as_json)
    downloaded = submit.download(name, env, out, version, echo=echo)
    if as_json:
        click.echo(json.dumps(downloaded, indent=2))
