"""The ``mlops`` command line. Heavy libraries are imported inside the commands that need them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import click

from mlops.console import echo_table, progress_echo, warnings_as_notes
from mlops.errors import MlopsError, first_line, translated
from mlops.targets import check_target, target_options

TASKS = ("regression", "classification")


class Group(click.Group):
    """A click group that prints user mistakes, and writes the system refused (a full disk, a permission,
    a read-only file system), as one ``error:`` line and exits 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as error:
            problem = error if isinstance(error, MlopsError) else translated(error)
            if problem is None:
                raise
            click.echo(f"error: {problem}", err=True)
            ctx.exit(2)


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlops")
def cli() -> None:
    """Train, evaluate, register and serve every model in data-science/models the same way."""
    os.umask(0o077)  # what mlops writes (the registry, keys, logs, collected inputs, outputs) is the owner's
    warnings_as_notes()


@cli.command()
@click.argument("name")
@click.option("--task", type=click.Choice(TASKS), default="regression", show_default=True)
@click.option("--description", default="A model trained and served by the mlops framework.")
@click.option("--owner", default="data-science", show_default=True, help="Team that owns the model.")
def new(name: str, task: str, description: str, owner: str) -> None:
    """Create data-science/models/NAME from the model template."""
    from mlops import project, scaffold
    from mlops.upgrade import RECORD

    folder = scaffold.create(name, task, description, owner)
    click.echo(f"created {folder.relative_to(project.root())}; train it with: mlops train {name}")
    if not (folder / RECORD).is_file():
        click.echo(
            f"note: {project.root()} is not a git repository, so no template version was recorded; "
            f"after git init and a commit: mlops upgrade --adopt {name}",
            err=True,
        )


def model_rows() -> tuple[list[dict], list[str]]:
    """Return one row per model (its config summary and its champion) and the models whose config
    cannot be composed: each is reported on stderr, and its row holds only its name and the error."""
    from mlops import catalog

    rows, failed = [], []
    for name in catalog.model_names():
        try:
            cfg = catalog.load_config(name)
        except MlopsError as error:  # one broken model folder never hides the others
            click.echo(f"error: {error}", err=True)
            failed.append(name)
            rows.append({"name": name, "error": str(error)})
            continue
        primary = cfg.evaluation.primary_metric
        version, metric = champion_of(name, primary)  # a store that fails stops the list
        rows.append(
            {
                "name": name,
                "task": cfg.task,
                "target": cfg.schema.target,
                "primary_metric": primary,
                "champion_version": version,
                "champion_metric": metric,
                "monitoring": bool(cfg.monitoring.enabled),
                "error": None,
            }
        )
    return rows, failed


def champion_of(name: str, metric: str) -> tuple[int | None, float | None]:
    """Return the version of ``name``'s champion and its test ``metric`` (None, None without a
    champion): from the local store without MLflow where it can be read so (``mlops.registered``),
    else through MLflow."""
    from mlops import registered, registry

    try:
        found = registered.champion(name)
        return (found[0], found[1].get(metric)) if found else (None, None)
    except registered.Unknown:
        champion = registry.champion(name)
    if champion is None:
        return None, None
    return int(champion.version), registry.metrics_of(champion).get(metric)


@cli.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_models(as_json: bool) -> None:
    """Show the models with their task, target, primary metric and champion; a model whose config is
    broken is listed as such, its error printed, and the command exits 2 after the rest."""
    from mlops import catalog

    rows, failed = model_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        header = ("MODEL", "TASK", "TARGET", "METRIC", "CHAMPION", "VALUE")
        echo_table(header, [table_row(row) for row in rows])
    if failed:
        raise catalog.broken(failed, len(rows))


def table_row(row: dict) -> tuple[str, ...]:
    """Return a model's row of ``mlops list``."""
    if row["error"]:
        return (row["name"], "broken config (see the error)", "-", "-", "-", "-")
    return (
        row["name"],
        row["task"],
        row["target"],
        row["primary_metric"],
        f"v{row['champion_version']}" if row["champion_version"] else "-",
        f"{row['champion_metric']:.4g}" if row["champion_metric"] is not None else "-",
    )


@cli.command()
@click.option("--base", required=True, help="Git ref the change starts from (a PR's base, a push's before).")
@click.option("--head", default="HEAD", show_default=True, help="Git ref the change ends at.")
@click.option("--json", "as_json", is_flag=True, help='Print {"models": [...], "framework": bool} for CI.')
def changed(base: str, head: str, as_json: bool) -> None:
    """Name the models a git change touches, and whether it touches the framework.

    A model's folder touches that model; mlops/, templates/, the noxfile, pyproject.toml, .ci/ or
    the workflows touch every model; docs touch none; anything else is the framework's alone.
    """
    from mlops import changes

    found = changes.changed(base, head)
    if as_json:
        click.echo(json.dumps(found.as_dict()))
        return
    click.echo(f"models: {', '.join(found.models) or 'none'}")
    click.echo(f"framework: {'yes' if found.framework else 'no'}")


@cli.command(context_settings={"ignore_unknown_options": True})
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
) -> None:
    """Prep, validate, train, evaluate and register NAME; the champion gate decides promotion.

    OVERRIDES are Hydra overrides, e.g. estimator.max_depth=8 env=staging; with -m,
    estimator.max_depth=4,8,16 sweeps the values. --target azure submits the same steps as an
    Azure ML pipeline in the workspace of --env and streams it.
    """
    from mlops import catalog

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
    from mlops import training

    echo = progress_echo(as_json)
    failed, registrations = [], []
    for model in names:
        try:
            if target == "azure":
                registration = submit_training(model, environment, overrides, dry_run, echo)
            else:
                trained = training.train_model(model, overrides, multirun=multirun, sample=sample, echo=echo)
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
) -> dict | None:
    """Submit NAME's training pipeline to the Azure ML workspace of ``env``, stream it and return its
    registration (None for a dry run)."""
    from mlops.azureml import submit

    return submit.run(
        lambda folder: submit.training_plan(name, env, folder, overrides), dry_run, echo
    ).registration


@cli.command()
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why this version should serve (recorded on it).")
def promote(name: str, version: str, reason: str) -> None:
    """Give VERSION of NAME the champion alias by hand."""
    from mlops import catalog, registered, registry

    catalog.model_dir(name)
    registered.check(name, version, registry.CHAMPION)
    registry.promote(name, version, reason)
    click.echo(f"{name}: version {version} is the champion")


@cli.command()
@click.argument("name")
@click.option(
    "--reason", default="rolled back by hand", show_default=True, help="Recorded on the demoted version."
)
def rollback(name: str, reason: str) -> None:
    """Give the champion alias of NAME back to the previous champion."""
    from mlops import catalog, registry

    catalog.model_dir(name)
    demoted, restored = registry.rollback(name, reason)
    click.echo(f"{name}: version {restored} is the champion again (version {demoted} rolled back)")


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the moves as JSON.")
def history(name: str, as_json: bool) -> None:
    """Show every move of NAME's aliases, oldest first: when, to and from which version, who and why."""
    from mlops import catalog, registry

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


@cli.command()
@click.argument("name")
@click.argument("version", required=False)
@click.option(
    "--output",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for card.json, card.md and card.html [default: .mlops/cards/NAME/version-VERSION].",
)
def card(name: str, version: str | None, output: Path | None) -> None:
    """Write the model card of VERSION of NAME (default the champion) as JSON, Markdown and HTML."""
    from mlops import card as cards
    from mlops import catalog, project, registered, registry

    catalog.model_dir(name)
    registered.check(name, version, registry.CHAMPION)
    found = registry.find_version(name, version, registry.CHAMPION)
    folder = output or project.state_dir() / "cards" / name / f"version-{found.version}"
    for path in cards.write(cards.build(found), folder):
        click.echo(str(path))


@cli.command()
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every model folder.")
@click.option("--check", is_flag=True, help="Only say which folders are behind the template; exit 1 if any.")
@click.option("--dry-run", is_flag=True, help="Print the diff each folder would get; write nothing.")
@click.option(
    "--adopt", is_flag=True, help="Record the template version a folder made before records came from."
)
def upgrade(names: tuple[str, ...], every: bool, check: bool, dry_run: bool, adopt: bool) -> None:
    """Bring model folders up to date with templates/model by a three-way merge (see docs/templates.md)."""
    from mlops import catalog
    from mlops import upgrade as upgrading

    if check and (names or adopt or dry_run):
        raise MlopsError("--check looks at every model folder; pass it alone: mlops upgrade --check")
    if not check and not names and not every:
        raise MlopsError("name the model folders to upgrade, or pass --all (or --check)")
    folders = [catalog.model_dir(name) for name in (catalog.model_names() if check or every else names)]
    if check:
        sys.exit(upgrading.check(folders, click.echo))
    if adopt:
        for folder in folders:
            version, matched = upgrading.adopt(folder, upgrading.answers_of(folder))
            click.echo(f"{folder.name}: recorded template {version[:12]} ({matched:.0%} of its files match)")
        return
    sys.exit(upgrading.upgrade(folders, dry_run, click.echo))


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def ui(host: str, port: int) -> None:
    """Start MLflow's UI on the local store."""
    from mlops import project

    uri = project.tracking_uri()
    click.echo(f"MLflow UI on http://{host}:{port} for {uri} (Ctrl+C stops it)")
    command = ["mlflow", "ui", "--backend-store-uri", uri, "--host", host, "--port", str(port)]
    sys.stdout.flush()
    os.execv(sys.executable, [sys.executable, "-m", *command])  # Ctrl+C reaches MLflow directly


def register_commands() -> None:
    """Add the commands that live beside their code (their modules import only click at the top)."""
    from mlops.azureml.commands import azure
    from mlops.batch.commands import batch
    from mlops.monitoring.commands import monitor
    from mlops.serving import commands as serving

    cli.add_command(azure)
    cli.add_command(batch)
    cli.add_command(monitor)
    for command in (serving.deploy, serving.list_endpoints, serving.stop, serving.keys, serving.invoke):
        cli.add_command(command)


register_commands()


def main() -> None:
    """Run the ``mlops`` command line."""
    cli(prog_name="mlops")
