"""The ``mlops batch`` command (this module imports only click at the top, so ``--help`` stays fast)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mlops.batch import OUTPUT_ACTIONS
from mlops.cli.targets import elsewhere, env_manager_option
from mlops.core.errors import MlopsError


def hydra_string(value: str) -> str:
    """Return ``value`` (free of backslashes) quoted for a Hydra override."""
    return "'" + value.replace("'", "\\'") + "'"


@click.command(context_settings={"ignore_unknown_options": True})
@click.argument("name")
@click.argument("overrides", nargs=-1, type=click.UNPROCESSED)
@click.option("--input", "inputs", required=True, help="A CSV or Parquet file, a folder of them, or a glob.")
@click.option(
    "--output",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the predictions file and summary.json.",
)
@click.option("--version", help="Registered version to score with.")
@click.option("--alias", help="Alias of the version to score with.  [default: champion]")
@click.option("--mini-batch-size", type=int, help="Rows scored together.")
@click.option("--max-concurrency", type=int, help="Mini-batches scored in parallel.")
@click.option("--error-threshold", type=int, help="Errors tolerated before the job fails; -1: any number.")
@click.option("--output-action", type=click.Choice(OUTPUT_ACTIONS), help="Write predictions or counts only.")
@click.option("--output-file-name", help="Predictions file written in the output folder.")
@click.option("--max-retries", type=int, help="Times a failed mini-batch is tried again.")
@click.option("--timeout", type=float, help="Seconds a mini-batch may take before it counts as failed.")
@env_manager_option
def batch(
    name: str,
    overrides: tuple[str, ...],
    inputs: str,
    output: Path,
    version: str | None,
    alias: str | None,
    mini_batch_size: int | None,
    max_concurrency: int | None,
    error_threshold: int | None,
    output_action: str | None,
    output_file_name: str | None,
    max_retries: int | None,
    timeout: float | None,
    env_manager: str,
) -> None:
    """Score CSV and Parquet files with a registered version of NAME.

    INPUT is a file, a folder or a glob; OUTPUT gets the predictions and summary.json, as from an
    Azure ML batch deployment. Settings default to the model's deployment.batch config; the options
    and OVERRIDES (Hydra overrides, e.g. deployment.batch.mini_batch_size=50000) change them. A model
    whose environment/requirements.txt this environment does not meet scores in its own (--env-manager).
    """
    if version and alias:
        raise MlopsError(f"pass --version or --alias, not both (got {version} and {alias})")
    from mlops.models import catalog
    from mlops.registry import registered
    from mlops.scoring.reading import find_inputs

    # the mistakes answered before pandas and MLflow load; the job skips its own predictions file,
    # named in the config, when it looks again
    catalog.model_dir(name)
    find_inputs(inputs, skip=output)
    registered.check(name, version, alias or "champion")
    if done := elsewhere(name, env_manager):
        sys.exit(done.returncode)
    flags = {
        "mini_batch_size": mini_batch_size,
        "max_concurrency_per_instance": max_concurrency,
        "error_threshold": error_threshold,
        "output_action": output_action,
        "output_file_name": None if output_file_name is None else hydra_string(output_file_name),
        "retry_settings.max_retries": max_retries,
        "retry_settings.timeout": timeout,
    }
    overrides += tuple(f"deployment.batch.{key}={value}" for key, value in flags.items() if value is not None)
    from mlops.batch import job

    job.score(
        name, inputs, output, version=version, alias=alias or "champion", overrides=overrides, echo=click.echo
    )
