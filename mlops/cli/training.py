"""The commands over a model's versions: train, promote, rollback, history, card and ui."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from mlops.cli.targets import check_target, elsewhere, env_manager_option, target_options
from mlops.core.console import echo_table, progress_echo
from mlops.core.errors import MlopsError, first_line
from mlops.core.refusals import translated


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name", required=False)
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--all", "all_models", is_flag=True, help="Train every model in data-science/models.")
@click.option(
    "-m", "--multirun", is_flag=True, help="Sweep comma-separated override values; the best is gated."
)
@click.option("--sample", type=click.IntRange(min=10), help="Train on a seeded sample of this many rows.")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print each registration (model, version, champion, reason) as a JSON list; progress goes to "
    "stderr.",
)
@target_options
@env_manager_option
def train(
    name: str | None,
    overrides: tuple[str, ...],
    all_models: bool,
    multirun: bool,
    sample: int | None,
    as_json: bool,
    target: str,
    env: str | None,
    dry_run: bool,
    env_manager: str,
) -> None:
    """Prep, validate, train, evaluate and register NAME; the champion gate decides promotion.

    OVERRIDES are Hydra overrides, e.g. estimator.max_depth=8 env=staging; with -m,
    estimator.max_depth=4,8,16 sweeps the values. --target azure submits the same steps as an
    Azure ML pipeline in the workspace of --env and streams it. A model whose
    environment/requirements.txt this environment does not meet trains in its own (--env-manager).
    """
    from mlops.models import catalog

    if all_models:
        if name and "=" not in name:
            raise MlopsError(f"pass a model name or --all, not both (got '{name}' and --all)")
        overrides = (name, *overrides) if name else overrides
        names = catalog.model_names()
    elif name is None:
        raise MlopsError("name a model to train (mlops list shows them) or pass --all")
    else:
        names = [catalog.model_dir(name).name]  # a mistyped name is answered before training loads
    environment = check_target(target, env, dry_run)
    if target == "azure" and (multirun or sample):
        raise MlopsError("-m and --sample run locally; on Azure ML the pipeline trains on the full data")
    from mlops.training import run

    echo = progress_echo(as_json)
    failed: list[str] = []
    registrations: list[dict[str, Any]] = []
    for model in names:
        try:
            if target == "azure":
                registration = submit_training(model, environment, overrides, dry_run, echo)
            elif done := elsewhere(
                model, env_manager, as_json, name=model, overrides=overrides, all_models=False
            ):
                if done.returncode and not all_models:
                    sys.exit(done.returncode)
                if done.returncode:  # the model's own run said why
                    failed.append(model)
                    continue
                registrations += json.loads(done.stdout) if as_json else []
                continue
            else:
                trained = run.train_model(model, overrides, multirun=multirun, sample=sample, echo=echo)
                registration = trained.as_dict()
        except Exception as error:  # with --all, one broken model never stops the others
            if not all_models:
                raise
            known = error if isinstance(error, MlopsError) else translated(error)
            problem = first_line(known) if known else f"{model}: {type(error).__name__}: {first_line(error)}"
            click.echo(f"error: {problem}", err=True)
            failed.append(model)
            continue
        registrations += [registration] if registration else []
    if as_json:
        click.echo(json.dumps(registrations, indent=2))
    if failed:
        raise catalog.broken(failed, len(names))


def submit_training(
    name: str, env: str, overrides: tuple[str, ...], dry_run: bool, echo: Callable[[str], None]
) -> dict[str, Any] | None:
    """Submit NAME's training pipeline to the Azure ML workspace of ``env``, stream it and return its
    registration (None for a dry run)."""
    from mlops.azureml import submit

    return submit.run(
        lambda folder: submit.training_plan(name, env, folder, overrides), dry_run, echo
    ).registration


@click.command()
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why this version should serve (recorded on it).")
def promote(name: str, version: str, reason: str) -> None:
    """Give VERSION of NAME the champion alias by hand."""
    from mlops import registry
    from mlops.models import catalog
    from mlops.registry import registered

    catalog.model_dir(name)
    registered.check(name, version, registry.CHAMPION)
    registry.promote(name, version, reason)
    click.echo(f"{name}: version {version} is the champion")


@click.command()
@click.argument("name")
@click.option(
    "--reason", default="rolled back by hand", show_default=True, help="Recorded on the demoted version."
)
def rollback(name: str, reason: str) -> None:
    """Give the champion alias of NAME back to the previous champion."""
    from mlops import registry
    from mlops.models import catalog

    catalog.model_dir(name)
    demoted, restored = registry.rollback(name, reason)
    click.echo(f"{name}: version {restored} is the champion again (version {demoted} rolled back)")


@click.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the moves as JSON.")
def history(name: str, as_json: bool) -> None:
    """Show every move of NAME's aliases, oldest first: when, to and from which version, who and why."""
    from mlops import registry
    from mlops.models import catalog

    catalog.model_dir(name)
    registry.get_model(name)
    moves = registry.moves(name)
    if as_json:
        click.echo(json.dumps(moves, indent=2))
        return
    if not moves:
        click.echo(f"{name}: no alias has moved yet")
        return
    fields = ("at", "alias", "version", "previous", "action", "by", "reason")
    echo_table(
        ("when", "alias", "to", "from", "action", "by", "why"),
        [[str(move.get(key) or "-") for key in fields] for move in moves],
    )


@click.command()
@click.argument("name")
@click.argument("version", required=False)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for card.json, card.md and card.html [default: .mlops/cards/NAME/version-VERSION].",
)
def card(name: str, version: str | None, output: Path | None) -> None:
    """Write the model card of VERSION of NAME (default the champion) as JSON, Markdown and HTML."""
    from mlops import registry
    from mlops.core import project
    from mlops.models import catalog
    from mlops.registry import registered
    from mlops.reports import card as cards

    catalog.model_dir(name)
    registered.check(name, version, registry.CHAMPION)
    found = registry.find_version(name, version, registry.CHAMPION)
    folder = output or project.state_dir() / "cards" / name / f"version-{found.version}"
    for path in cards.write(cards.build(found), folder):
        click.echo(str(path))


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start MLflow's UI on the local store."""
    from mlops.core import project

    uri = project.tracking_uri()
    click.echo(f"MLflow UI on http://{host}:{port} for {uri} (Ctrl+C stops it)")
    command = ["mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", *command])  # Ctrl+C reaches MLflow directly
