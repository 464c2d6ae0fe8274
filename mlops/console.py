"""Plain terminal output shared by the commands."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import click


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
