"""The commands over model folders: new, list, changed and upgrade."""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from mlops.core.console import echo_table
from mlops.core.errors import MlopsError
from mlops.models import ESTIMATORS, TASKS


@click.command()
@click.argument("name")
@click.option("--task", type=click.Choice(TASKS), default="regression", show_default=True)
@click.option(
    "--estimator",
    type=click.Choice(ESTIMATORS),
    default="random_forest",
    show_default=True,
    help="A scikit-learn forest in the framework's pipeline, or LightGBM or XGBoost on its own API.",
)
@click.option("--description", default="A model trained and served by the mlops framework.")
@click.option("--owner", default="data-science", show_default=True, help="Team that owns the model.")
def new(name: str, task: str, estimator: str, description: str, owner: str) -> None:
    """Create data-science/models/NAME from the model template."""
    from mlops.core import project
    from mlops.templating import scaffold
    from mlops.templating.upgrade import RECORD

    folder = scaffold.create(name, task, description, owner, estimator)
    click.echo(f"created {folder.relative_to(project.root())}; train it with: mlops train {name}")
    if not (folder / RECORD).is_file():
        click.echo(
            f"note: {project.root()} is not a git repository, so no template version was recorded; "
            f"after git init and a commit: mlops upgrade --adopt {name}",
            err=True,
        )


def model_rows() -> tuple[list[dict[str, Any]], list[str]]:
    """Return one row per model (its config summary and its champion) and the models whose config
    cannot be composed: each is reported on stderr, and its row holds only its name and the error."""
    from mlops.models import catalog

    rows: list[dict[str, Any]] = []
    failed: list[str] = []
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
    champion): from the local store without MLflow where it can be read so (``mlops.registry.registered``),
    else through MLflow."""
    from mlops import registry
    from mlops.registry import registered

    try:
        found = registered.champion(name)
        return (found[0], found[1].get(metric)) if found else (None, None)
    except registered.Unknown:
        champion = registry.champion(name)
    if champion is None:
        return None, None
    return int(champion.version), registry.metrics_of(champion).get(metric)


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
def list_models(as_json: bool) -> None:
    """Show the models with their task, target, primary metric and champion; a model whose config is
    broken is listed as such, its error printed, and the command exits 2 after the rest."""
    from mlops.models import catalog

    rows, failed = model_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
    else:
        header = ("MODEL", "TASK", "TARGET", "METRIC", "CHAMPION", "VALUE")
        echo_table(header, [table_row(row) for row in rows])
    if failed:
        raise catalog.broken(failed, len(rows))


def table_row(row: dict[str, Any]) -> tuple[str, ...]:
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


@click.command()
@click.option("--base", required=True, help="Git ref the change starts from (a PR's base, a push's before).")
@click.option("--head", default="HEAD", show_default=True, help="Git ref the change ends at.")
@click.option("--json", "as_json", is_flag=True, help='Print {"models": [...], "framework": bool} for CI.')
def changed(base: str, head: str, as_json: bool) -> None:
    """Name the models a git change touches, and whether it touches the framework.

    A model's folder touches that model; mlops/, templates/, the noxfile, pyproject.toml, .ci/ or
    the workflows touch every model; docs touch none; anything else is the framework's alone.
    """
    from mlops.models import changes

    found = changes.changed(base, head)
    if as_json:
        click.echo(json.dumps(found.as_dict()))
        return
    click.echo(f"models: {', '.join(found.models) or 'none'}")
    click.echo(f"framework: {'yes' if found.framework else 'no'}")


@click.command()
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="Every model folder.")
@click.option("--check", is_flag=True, help="Only say which folders are behind the template; exit 1 if any.")
@click.option("--dry-run", is_flag=True, help="Print the diff each folder would get; write nothing.")
@click.option(
    "--adopt", is_flag=True, help="Record the template version a folder made before records came from."
)
def upgrade(names: tuple[str, ...], every: bool, check: bool, dry_run: bool, adopt: bool) -> None:
    """Bring model folders up to date with templates/model by a three-way merge (see docs/templates.md)."""
    from mlops.models import catalog
    from mlops.templating import upgrade as upgrading

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
