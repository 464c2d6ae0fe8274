"""Where a command runs: ``--target local`` (here) or ``--target azure`` (the Azure ML workspace of
``--env``), the options every command with both targets shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from mlops.core.errors import MlopsError

TARGETS = ("local", "azure")

Decorated = TypeVar("Decorated", bound=Callable[..., Any])


def target_options(command: Decorated) -> Decorated:
    """Add --target, --env and --dry-run: the same command runs locally or submits to Azure ML."""
    command = click.option(
        "--dry-run", is_flag=True, help="With --target azure: render and validate, print what would be sent."
    )(command)
    command = click.option(
        "--env", "env", help="Environment of --target azure: dev, staging or prod [default: dev]."
    )(command)
    return click.option(
        "--target",
        type=click.Choice(TARGETS),
        default="local",
        show_default=True,
        help="Run here, or submit to the Azure ML workspace of --env.",
    )(command)


def check_target(target: str, env: str | None, dry_run: bool) -> str:
    """Return the environment of an Azure submission; refuse Azure-only options used locally."""
    if target == "local" and (env or dry_run):
        raise MlopsError("--env and --dry-run go with --target azure")
    return env or "dev"
