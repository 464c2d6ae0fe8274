"""Plain terminal output shared by the commands."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable, Sequence
from typing import TextIO

import click

# warnings meant for the developers of a library, not for the people running mlops
FOR_DEVELOPERS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning)


def echo_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` under ``header`` in left-aligned columns two spaces apart."""
    table = [tuple(header), *(tuple(row) for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())


def plural(count: int, word: str) -> str:
    """Return ``count word`` (thousands separated) with an ``s`` unless the count is one."""
    return f"{count:,} {word}{'' if count == 1 else 's'}"


def progress_echo(as_json: bool) -> Callable[[str], None]:
    """Return how a command prints progress: to stdout, or to stderr when stdout carries its JSON."""
    return (lambda text: click.echo(text, err=True)) if as_json else click.echo


def warnings_as_notes() -> None:
    """Show library warnings as the project's own one-line notes on stderr, each once: what a user
    can act on (an undefined metric, a solver that did not converge) without the library's source
    line; warnings meant for library developers (deprecations) not at all. ``python -W`` or
    ``PYTHONWARNINGS`` keep Python's own handling."""
    if sys.warnoptions:
        return
    shown: set[str] = set()

    def note(
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        text = str(message).strip().splitlines()[0] if str(message).strip() else category.__name__
        if text not in shown:
            shown.add(text)
            click.echo(f"note: {text}", err=True)

    for category in FOR_DEVELOPERS:
        warnings.filterwarnings("ignore", category=category)
    warnings.showwarning = note
