"""Where a command runs: ``--target local`` (here) or ``--target azure`` (the Azure ML workspace of
``--env``), the options every command with both targets shares; and, locally, ``--env-manager``: the
model's work runs here or again, as the same command, inside the model's own environment
(``mlops.models.environment``)."""

from __future__ import annotations

import subprocess
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


MANAGERS = ("auto", "local", "uv")


def env_manager_option(command: Decorated) -> Decorated:
    """Add --env-manager: where the model's work runs (its own environment when this one falls short)."""
    return click.option(
        "--env-manager",
        type=click.Choice(MANAGERS),
        default="auto",
        show_default=True,
        help="Where the model's work runs: auto, in the model's own environment (built with uv from its "
        "environment/requirements.txt, cached) when this one does not meet them; local, here; uv, always "
        "in its own.",
    )(command)


def arguments(ctx: click.Context, changed: dict[str, Any]) -> list[str]:
    """Return the command line that runs ``ctx``'s command again with its parameters, ``changed`` replacing
    some of them."""
    values = {**ctx.params, **changed}
    args = [ctx.command.name or ""]
    options: list[str] = []
    for param in ctx.command.params:
        value = values[param.name or ""]
        if isinstance(param, click.Argument):
            args += [str(item) for item in value] if param.nargs == -1 else [str(value)] * (value is not None)
        elif isinstance(param, click.Option) and param.is_flag:
            options += [param.opts[0]] * bool(value)
        elif value is not None:
            options += [param.opts[0], str(value)]
    return args + options


def elsewhere(
    name: str, manager: str, capture: bool = False, /, **changed: Any
) -> subprocess.CompletedProcess[str] | None:
    """Run the current command again for model ``name`` in its own environment, with ``changed``
    parameters and ``--env-manager local``, when ``manager`` says so (its output streamed, or its standard
    output captured with ``capture``); return how it ended, or None when the work runs here."""
    from mlops.models import environment

    why = environment.needed(name, manager)
    if not why:
        return None
    args = arguments(click.get_current_context(), {**changed, "env_manager": "local"})
    return environment.run(name, args, why, lambda line: click.echo(line, err=True), capture)
