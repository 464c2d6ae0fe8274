"""The one lock every Azure ML environment is pinned from.

``mlops/azureml/requirements.lock`` is resolved by uv, for Linux and the Python of the model
environments, from the framework's dependencies (pyproject.toml), every model's
``environment/requirements.txt`` and what each Azure runtime needs (``RUNTIMES``). Each rendered
environment takes, from that one resolution, the pins its workload needs: the closure of its roots in
the dependency graph the lock records. So training, online and batch environments in dev, staging and
prod all build the same version of every package they share, and a model trained in one image loads
in the others. The lock records the inputs it was resolved from, so ``check`` tells offline whether it
is current.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from mlops.core import atomic
from mlops.core.errors import MlopsError

LOCK = Path("mlops") / "azureml" / "requirements.lock"
PYTHON = "3.11"  # the Python of every model environment (environment/conda.yaml: python=3.11)
# what each Azure runtime needs beside the framework and the model's own packages
RUNTIMES: dict[str, list[str]] = {
    # MLflow's azureml:// tracking and registry inside jobs (Azure sets MLFLOW_TRACKING_URI there);
    # azureml-mlflow 1.62 caps mlflow at 3.15.0, so the one resolution holds every environment there
    "training": ["azureml-mlflow>=1.62"],
    # Azure's inference server (azmlinfsrv) runs score.py; the data collector writes what it scored
    "online": ["azureml-inference-server-http>=1.5", "azureml-ai-monitoring>=1.0"],
    # the batch runtime imports azureml.core ("No module named 'azureml'" without it, Azure's batch docs)
    "batch": ["azureml-core>=1.61"],
}
WORKLOADS = tuple(RUNTIMES)
REGENERATE = "mlops azure lock"
INPUTS_HEADER = "# inputs:"


@dataclass(frozen=True)
class Pin:
    """One locked package: its version and the packages that require it."""

    name: str
    version: str
    via: frozenset[str]


@dataclass
class Lock:
    """The lock file: the requirement lines it was resolved from and the pins, by package name."""

    inputs: list[str]
    pins: dict[str, Pin] = field(default_factory=dict)


def name_of(line: str) -> str:
    """Return the normalised package name of a requirement line (PEP 503)."""
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=!~\[; @]", line.strip(), maxsplit=1)[0]).lower()


def requirement_lines(path: Path) -> list[str]:
    """Return the requirement lines of a requirements file, without comments and blank lines."""
    lines = (line.split("#", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line]


def framework_requirements(root: Path) -> list[str]:
    """Return the framework's own dependencies, as pyproject.toml declares them."""
    import tomllib

    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return [line.split(";")[0].strip() for line in project["dependencies"]]


def model_requirements(name: str) -> list[str]:
    """Return the pip requirements of model ``name`` (its environment/requirements.txt)."""
    from mlops.models import catalog

    path = catalog.model_dir(name) / "environment" / "requirements.txt"
    if not path.is_file():
        raise MlopsError(f"{name}: {path} is missing; it lists what the model needs to train and serve")
    return requirement_lines(path)


def inputs() -> list[str]:
    """Return what the lock is resolved from: the framework's dependencies, every model's
    requirements and every runtime's packages, sorted and without repeats."""
    from mlops.core import project
    from mlops.models import catalog

    lines = framework_requirements(project.root())
    for name in catalog.model_names():
        lines += model_requirements(name)
    for packages in RUNTIMES.values():
        lines += packages
    return sorted({" ".join(line.split()) for line in lines}, key=lambda line: (name_of(line), line))


def path() -> Path:
    """Return the lock file of the project."""
    from mlops.core import project

    return project.root() / LOCK


def uv() -> list[str]:
    """Return the command that runs uv, or raise saying how to install it."""
    if found := shutil.which("uv"):
        return [found]
    try:
        import uv as uv_package  # the uv wheel on PyPI ships the binary

        return [uv_package.find_uv_bin()]
    except ImportError:
        raise MlopsError("uv is not installed; install it (pip install uv) to resolve the lock") from None


def write() -> Path:
    """Resolve the current inputs with uv and replace the lock file with the result; return its path."""
    wanted = inputs()
    target = path()
    with tempfile.TemporaryDirectory(prefix="mlops-lock-") as folder:
        source = Path(folder) / "requirements.in"
        source.write_text("\n".join(wanted) + "\n")
        output = Path(folder) / "lock.txt"
        if target.is_file():  # uv keeps the locked versions that still fit the inputs
            output.write_text("\n".join(line for line in target.read_text().splitlines() if line[:1] != "#"))
        command = [
            *uv(),
            *("pip", "compile", str(source), "--output-file", str(output), "--python-version", PYTHON),
            *("--python-platform", "linux", "--annotation-style", "line", "--no-header", "--quiet"),
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
        if done.returncode:
            raise MlopsError(f"uv could not resolve the Azure environments:\n{done.stderr.strip()}")
        resolved = output.read_text()
    header = [
        f"# The pinned packages of every Azure ML environment (Python {PYTHON}, Linux), resolved by uv.",
        f"# Regenerate with `{REGENERATE}` after changing pyproject.toml's dependencies, a model's",
        "# environment/requirements.txt or mlops/azureml/lock.py's RUNTIMES; `mlops azure lock --check`",
        "# (nox -s azure-runtime, CI) fails while this file is stale. Do not edit it by hand.",
        INPUTS_HEADER,
        *(f"#   {line}" for line in wanted),
    ]
    return atomic.write(
        target, "\n".join(header) + "\n" + resolved.replace("-r requirements.in", "-r inputs")
    )


def read() -> Lock:
    """Read the lock file, or raise saying how to create it."""
    file = path()
    if not file.is_file():
        raise MlopsError(f"{LOCK} is missing; create it with `{REGENERATE}`")
    lock = Lock(inputs=[])
    in_inputs = False
    for line in file.read_text().splitlines():
        if line == INPUTS_HEADER:
            in_inputs = True
        elif in_inputs and line.startswith("#   "):
            lock.inputs.append(line[4:])
        elif line.strip() and not line.startswith("#"):
            in_inputs = False
            requirement, _, comment = line.partition("#")
            name, _, version = requirement.strip().partition("==")
            via = comment.strip().removeprefix("via").split(",") if comment else []
            parents = frozenset(name_of(parent) for parent in via if parent.strip() and "-r " not in parent)
            lock.pins[name_of(name)] = Pin(name_of(name), version.strip(), parents)
    return lock


def unmet(lines: list[str], lock: Lock) -> list[str]:
    """Return the requirement lines the lock's pins do not satisfy, each with the reason."""
    from packaging.requirements import Requirement

    problems = []
    for line in lines:
        requirement = Requirement(line)
        pin = lock.pins.get(name_of(requirement.name))
        if pin is None:
            problems.append(f"{line} is not in the lock")
        elif not requirement.specifier.contains(pin.version, prereleases=True):
            problems.append(f"{line} is locked at {pin.version}")
    return problems


def check() -> list[str]:
    """Return why the lock is not current (empty when it is): inputs added or removed since it was
    resolved, or requirements its pins do not satisfy. Needs no network."""
    lock = read()
    wanted = inputs()
    problems = [f"{line} was added since the lock was resolved" for line in wanted if line not in lock.inputs]
    problems += [
        f"{line} was removed since the lock was resolved" for line in lock.inputs if line not in wanted
    ]
    return problems + unmet(wanted, lock)


def closure(roots: list[str], lock: Lock) -> list[Pin]:
    """Return the pins of ``roots`` and of everything they need, following the lock's graph."""
    needed = {name_of(root) for root in roots}
    missing = sorted(needed - set(lock.pins))
    if missing:
        raise MlopsError(f"{', '.join(missing)} not in {LOCK}; run `{REGENERATE}`")
    changed = True
    while changed:
        added = {name for name, pin in lock.pins.items() if name not in needed and pin.via & needed}
        needed |= added
        changed = bool(added)
    return [lock.pins[name] for name in sorted(needed)]


def environment(model: str, workload: str) -> list[str]:
    """Return the pinned pip lines of ``model``'s environment for ``workload`` (training, online or
    batch): its requirements, the framework's and the runtime's, with everything they need; raise
    when the lock does not cover them (stale: run ``mlops azure lock``)."""
    from mlops.core import project

    lock = read()
    roots = [*model_requirements(model), *framework_requirements(project.root()), *RUNTIMES[workload]]
    problems = unmet(roots, lock)
    if problems:
        raise MlopsError(
            f"{model}: {LOCK} does not cover the {workload} environment ({'; '.join(problems[:3])}); "
            f"run `{REGENERATE}` and commit the lock"
        )
    return [f"{pin.name}=={pin.version}" for pin in closure(roots, lock)]
