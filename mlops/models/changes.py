"""``mlops changed``: which models a git change touches, so CI tests (and releases) only those.

The framework, the template, the noxfile, the project's dependencies, the shared config and Azure
definitions or the workflows touch every model (whatever the file, docs included: the template's
README is baked into new models); the root README touches the framework (the framework's tests run
its "Try it" commands); then documentation touches none; a file in a model's folder touches that
model (its requirements.txt included); anything else (tests, benchmarks, infrastructure) is the
framework's alone. Renames count both paths; a deleted model is not listed. CI runs the framework
job only when ``framework`` is true, so a change confined to model folders runs only their jobs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlops.core.errors import MlopsError

MODELS = PurePosixPath("data-science/models")
# a change here can change how any model trains, serves or is checked
EVERY_MODEL = ("mlops/", "templates/", "noxfile.py", "pyproject.toml", ".github/workflows/", ".ci/")
DOCS = ("docs/",)
DOC_SUFFIXES = (".md", ".rst")  # not .txt: requirements.txt is code
DOC_FILES = ("LICENSE",)
TESTED_DOCS = ("README.md",)  # documentation whose commands the framework's tests run


@dataclass
class Changes:
    """The models a change touches and whether it touches the framework."""

    models: list[str] = field(default_factory=list)
    framework: bool = False

    def as_dict(self) -> dict[str, Any]:
        """Return the JSON shape CI reads: {"models": [...], "framework": bool}."""
        return {"models": self.models, "framework": self.framework}


def is_doc(path: str) -> bool:
    """Return whether a path is documentation only (a model's README included)."""
    return path.startswith(DOCS) or path.endswith(DOC_SUFFIXES) or path in DOC_FILES


def touched(paths: list[str], models: list[str]) -> Changes:
    """Return what changed ``paths`` (repo-relative, POSIX) touch, among the existing ``models``."""
    found: set[str] = set()
    framework = False
    for path in paths:
        if path.startswith(EVERY_MODEL):
            return Changes(sorted(models), True)
        if path in TESTED_DOCS:
            framework = True
        elif is_doc(path):
            continue
        parts = PurePosixPath(path).parts
        if len(parts) > 2 and PurePosixPath(*parts[:2]) == MODELS:
            found.add(parts[2])
        else:
            framework = True
    return Changes(sorted(found & set(models)), framework)


def changed_paths(base: str, head: str, root: Path) -> list[str]:
    """Return the paths changed between the merge base of ``base`` and ``head``, renames as both
    their old and new path."""
    command = ["git", "diff", "--name-status", "-M", "-z", f"{base}...{head}"]
    try:
        done = subprocess.run(command, cwd=root, capture_output=True, check=False)
    except FileNotFoundError:
        raise MlopsError("git is not installed; mlops changed reads the change from git") from None
    if done.returncode:
        problem = done.stderr.decode(errors="replace").strip().splitlines()
        raise MlopsError(
            f"cannot compare {base}...{head}: {problem[0] if problem else 'git diff failed'}; fetch the base "
            "(actions/checkout with fetch-depth: 0) or pass another --base"
        )
    fields = [item for item in done.stdout.decode().split("\0") if item]
    paths: list[str] = []
    index = 0
    while index < len(fields):
        status = fields[index]
        count = 2 if status[0] in "RC" else 1
        paths += fields[index + 1 : index + 1 + count]
        index += 1 + count
    return paths


def changed(base: str, head: str = "HEAD") -> Changes:
    """Return the models the change from ``base`` to ``head`` touches in this repo."""
    from mlops.core import project
    from mlops.models import catalog

    return touched(changed_paths(base, head, project.root()), catalog.model_names())
