"""The ``mlops`` command line: a table of commands, each imported from its module of ``mlops.cli``
only when it runs (or when ``--help`` lists it). Those modules import click alone at the top; the
libraries a command needs load inside it."""

from __future__ import annotations

import difflib
import importlib
import os
from typing import Any

import click

from mlops.core.console import warnings_as_notes
from mlops.core.errors import MlopsError
from mlops.core.refusals import translated

__all__ = ["COMMANDS", "Group", "cli", "main"]

# command name -> "module:attribute" under mlops.cli
COMMANDS = {
    "azure": "azure:azure",
    "batch": "batch:batch",
    "card": "training:card",
    "changed": "models:changed",
    "deploy": "serving:deploy",
    "endpoints": "serving:list_endpoints",
    "history": "training:history",
    "invoke": "serving:invoke",
    "keys": "serving:keys",
    "list": "models:list_models",
    "monitor": "monitor:monitor",
    "new": "models:new",
    "promote": "training:promote",
    "rollback": "training:rollback",
    "stop": "serving:stop",
    "train": "training:train",
    "ui": "training:ui",
    "upgrade": "models:upgrade",
}


class Group(click.Group):
    """A click group that prints user mistakes, and writes the system refused (a full disk, a permission,
    a read-only file system), as one ``error:`` line and exits 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as error:
            problem = error if isinstance(error, MlopsError) else translated(error)
            if problem is None:
                raise
            click.echo(f"error: {problem}", err=True)
            ctx.exit(2)


class Lazy(Group):
    """The root group: its commands are found in ``COMMANDS`` and imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.commands or name not in COMMANDS:
            return self.commands.get(name)
        module, _, attribute = COMMANDS[name].partition(":")
        command: click.Command = getattr(importlib.import_module(f"mlops.cli.{module}"), attribute)
        self.add_command(command, name)
        return command

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        """Resolve as click does; a mistyped command is answered with the closest names of the whole
        table (click suggests only from the commands loaded so far, and only from 8.4 on)."""
        name = args[0] if args else ""
        if (
            name
            and not name.startswith("-")
            and not ctx.resilient_parsing
            and not self.get_command(ctx, name)
        ):
            close = difflib.get_close_matches(name, self.list_commands(ctx))
            hint = f" Did you mean {' or '.join(repr(found) for found in close)}?" if close else ""
            raise click.UsageError(f"No such command {name!r}.{hint}", ctx)
        return super().resolve_command(ctx, args)


@click.group(cls=Lazy, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mlops")
def cli() -> None:
    """Train, evaluate, register and serve every model in data-science/models the same way."""
    os.umask(0o077)  # what mlops writes (the registry, keys, logs, collected inputs, outputs) is the owner's
    warnings_as_notes()


def main() -> None:
    """Run the ``mlops`` command line."""
    cli(prog_name="mlops")
