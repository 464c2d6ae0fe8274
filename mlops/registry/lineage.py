"""Who and what produced a version: git commit, author of an action, time."""

from __future__ import annotations

import getpass
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path


def git_commit(folder: Path) -> tuple[str, bool]:
    """Return the commit checked out in ``folder`` and whether the work tree has changes;
    ``("unknown", False)`` outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        return git("rev-parse", "HEAD"), bool(git("status", "--porcelain"))
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False


def actor() -> str:
    """Return who is acting: the CI actor when set, else the login name."""
    return os.environ.get("GITHUB_ACTOR") or getpass.getuser()


def now() -> str:
    """Return the current UTC time in ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")
