"""Whole-or-nothing writes: a file is written beside its target under a temporary name and renamed over
it, so a full disk, a refused permission or a crash leaves the old file (or none), never a torn one.
A failed write's OSError names the target, for ``mlops.core.refusals.translated``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def replacing(path: Path, mode: int = 0o666) -> Iterator[IO[bytes]]:
    """Yield a binary file (created with ``mode``, less the umask) that replaces ``path`` when the block
    succeeds; when anything fails it is removed, ``path`` is left as it was, and an OSError naming no
    file (a failed ``write``) or the temporary one is made to name ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode), "wb") as handle:
            yield handle
        os.replace(temporary, path)
    except BaseException as error:
        temporary.unlink(missing_ok=True)
        if isinstance(error, OSError) and error.filename in (None, temporary, str(temporary)):
            error.filename = str(path)
        raise


def write(path: Path, content: str | bytes, mode: int = 0o666) -> Path:
    """Write ``content`` (text in UTF-8) to ``path`` whole or not at all, creating its folder; return it."""
    return write_all(path.parent, {path.name: content}, mode)[0]


def write_all(folder: Path, contents: Mapping[str | Path, str | bytes], mode: int = 0o666) -> list[Path]:
    """Write each of ``contents`` (a path relative to ``folder``: its text in UTF-8, or bytes) all or
    none: every file is written under a temporary name before any replaces its target, and on failure
    the temporary files, and the folders made for them, are removed. Return the paths written."""
    with contextlib.ExitStack() as stack:
        for relative, content in contents.items():
            path = folder / relative
            stack.enter_context(made(path.parent))
            handle = stack.enter_context(replacing(path, mode))
            handle.write(content.encode() if isinstance(content, str) else content)
    return [folder / relative for relative in contents]


@contextlib.contextmanager
def made(folder: Path) -> Iterator[Path]:
    """Create ``folder`` and its missing parents for the block; when the block fails, remove the ones
    it created (those left empty), so a failed command leaves no empty output folder behind."""
    created = []
    for path in [path for path in (folder, *folder.parents) if not path.is_dir()][::-1]:
        with contextlib.suppress(FileExistsError):  # made this instant by another process: theirs
            path.mkdir()
            created.append(path)
    try:
        yield folder
    except BaseException:
        for path in reversed(created):
            with contextlib.suppress(OSError):
                path.rmdir()
        raise
