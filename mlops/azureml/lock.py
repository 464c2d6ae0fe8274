"""The lock every Azure ML environment is pinned from.

``mlops/azureml/requirements.lock`` is resolved by uv, for Linux and the Python of the model
environments. Its pins are the framework's: its dependencies (pyproject.toml) with what each Azure
runtime needs (``RUNTIMES``), in one resolution. Each model's ``environment/requirements.txt`` is then
resolved on its own, on top of those pins (kept wherever the model's requirements allow them), and the
lock records, in a commented section per model, the pins that resolution adds or changes; so two models
that require different versions of one library each lock. Each rendered environment takes, from its
model's pins, those its workload needs: the closure of its roots in the dependency graph the lock
records. So training, online and batch environments in dev, staging and prod all build the same version
of every package they share, and a model trained in one image loads in the others. The lock records the
inputs it was resolved from, so ``check`` tells offline whether it is current, model by model.
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
MODEL_HEADER = "# model: "  # a model's section: the lines below it that start with "#   "
REQUIRES, PIN, DROP = "requires: ", "pin: ", "drop: "


@dataclass(frozen=True)
class Pin:
    """One locked package: its version and the packages that require it."""

    name: str
    version: str
    via: frozenset[str]


@dataclass
class Lock:
    """The lock file: the requirement lines it was resolved from and the pins, by package name; for
    a model, only its requirement lines and the pins its own resolution adds, changes or drops."""

    inputs: list[str]
    pins: dict[str, Pin] = field(default_factory=dict)
    dropped: set[str] = field(default_factory=set)
    models: dict[str, Lock] = field(default_factory=dict)

    def of(self, model: str) -> Lock:
        """Return the whole lock of ``model``: the framework's pins with its section applied (a model
        missing from the lock gets the framework's pins alone)."""
        own = self.models.get(model, Lock(inputs=[]))
        pins = {name: pin for name, pin in self.pins.items() if name not in own.dropped} | own.pins
        return Lock(inputs=own.inputs, pins=pins)


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


def tidy(lines: list[str]) -> list[str]:
    """Return requirement lines with their spaces collapsed, sorted by package and without repeats."""
    return sorted({" ".join(line.split()) for line in lines}, key=lambda line: (name_of(line), line))


def inputs() -> list[str]:
    """Return what the framework's pins are resolved from: its dependencies and every runtime's packages."""
    from mlops.core import project

    lines = framework_requirements(project.root())
    for packages in RUNTIMES.values():
        lines += packages
    return tidy(lines)


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


def resolve(lines: list[str], preferred: str, what: str) -> str:
    """Return uv's resolution of the requirement ``lines`` (the lock's format, with ``via`` annotations),
    keeping the versions of ``preferred`` (a resolution, or empty) that still fit; raise naming ``what``
    when uv cannot resolve them."""
    with tempfile.TemporaryDirectory(prefix="mlops-lock-") as folder:
        source = Path(folder) / "requirements.in"
        source.write_text("\n".join(lines) + "\n")
        output = Path(folder) / "lock.txt"
        output.write_text(preferred)  # uv keeps the versions an existing output file holds, where they fit
        command = [
            *uv(),
            *("pip", "compile", str(source), "--output-file", str(output), "--python-version", PYTHON),
            *("--python-platform", "linux", "--annotation-style", "line", "--no-header", "--quiet"),
        ]
        done = subprocess.run(command, capture_output=True, text=True, cwd=folder)
        if done.returncode:
            said = " ".join(done.stderr.split())
            raise MlopsError(f"uv could not resolve {what}: {said}")
        return output.read_text().replace("-r requirements.in", "-r inputs")


def preferred(pins: dict[str, Pin]) -> str:
    """Return ``pins`` as the resolution uv starts from (it keeps the versions that still fit)."""
    return "".join(f"{pin.name}=={pin.version}\n" for pin in pins.values())


def pin_lines(text: str) -> list[str]:
    """Return the pin lines of a resolution or lock file (no comments, no blank lines)."""
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def write() -> Path:
    """Resolve the framework's pins, then each model's requirements on top of them, with uv, and
    replace the lock file with the result; return its path."""
    from mlops.models import catalog

    wanted = inputs()
    target = path()
    previous = read() if target.is_file() else Lock(inputs=[])
    resolved = resolve(wanted, preferred(previous.pins), "the framework's Azure environments")
    base = {pin.name: pin for pin in map(pin_of, pin_lines(resolved))}
    sections = []
    for model in catalog.model_names():
        own = tidy(model_requirements(model))
        kept = base | previous.models[model].pins if model in previous.models else base
        mine = pin_lines(resolve([*wanted, *own], preferred(kept), f"{model}'s Azure environments"))
        sections += [
            f"{MODEL_HEADER}{model}",
            *(f"#   {REQUIRES}{line}" for line in own),
            *(f"#   {PIN}{line}" for line in mine if base.get(pin_of(line).name) != pin_of(line)),
            *(f"#   {DROP}{name}" for name in sorted(set(base) - {pin_of(line).name for line in mine})),
        ]
    header = [
        f"# The pinned packages of every Azure ML environment (Python {PYTHON}, Linux), resolved by uv.",
        f"# Regenerate with `{REGENERATE}` after changing pyproject.toml's dependencies, a model's",
        "# environment/requirements.txt or mlops/azureml/lock.py's RUNTIMES; `mlops azure lock --check`",
        "# (nox -s azure-runtime, CI) fails while this file is stale. Do not edit it by hand.",
        "# The pins below are the framework's; each model's section lists its requirements and the pins",
        "# its own resolution, on top of the framework's, adds (pin), changes (pin) or removes (drop).",
        INPUTS_HEADER,
        *(f"#   {line}" for line in wanted),
    ]
    return atomic.write(target, "\n".join([*header, *pin_lines(resolved), *sections]) + "\n")


def pin_of(line: str) -> Pin:
    """Return the pin of one lock line (``name==version  # via a, b``)."""
    requirement, _, comment = line.partition("#")
    name, _, version = requirement.strip().partition("==")
    via = comment.strip().removeprefix("via").split(",") if comment else []
    parents = frozenset(name_of(parent) for parent in via if parent.strip() and "-r " not in parent)
    return Pin(name_of(name), version.strip(), parents)


def read() -> Lock:
    """Read the lock file, or raise saying how to create it."""
    file = path()
    if not file.is_file():
        raise MlopsError(f"{LOCK} is missing; create it with `{REGENERATE}`")
    lock = section = Lock(inputs=[])
    for line in file.read_text().splitlines():
        entry = line.removeprefix("#   ")
        if line.startswith(MODEL_HEADER):
            section = lock.models.setdefault(line.removeprefix(MODEL_HEADER), Lock(inputs=[]))
        elif section is lock and line.startswith("#   "):  # the framework's inputs
            lock.inputs.append(entry)
        elif entry.startswith(REQUIRES):
            section.inputs.append(entry.removeprefix(REQUIRES))
        elif entry.startswith(PIN):
            pin = pin_of(entry.removeprefix(PIN))
            section.pins[pin.name] = pin
        elif entry.startswith(DROP):
            section.dropped.add(entry.removeprefix(DROP))
        elif line.strip() and not line.startswith("#"):
            pin = pin_of(line)
            lock.pins[pin.name] = pin
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


def changed(wanted: list[str], recorded: list[str], prefix: str = "") -> list[str]:
    """Return the lines of ``wanted`` added, and of ``recorded`` removed, since the lock was resolved."""
    added = [
        f"{prefix}{line} was added since the lock was resolved" for line in wanted if line not in recorded
    ]
    return added + [
        f"{prefix}{line} was removed since the lock was resolved" for line in recorded if line not in wanted
    ]


def check() -> list[str]:
    """Return why the lock is not current (empty when it is): the framework's or a model's inputs added
    or removed since it was resolved, or requirements its pins do not satisfy, each naming the model.
    Needs no network."""
    from mlops.models import catalog

    lock = read()
    wanted = inputs()
    problems = changed(wanted, lock.inputs) + unmet(wanted, lock)
    names = catalog.model_names()
    problems += [
        f"{model}: in the lock, but no longer a model" for model in sorted(set(lock.models) - set(names))
    ]
    for model in names:
        own = tidy(model_requirements(model))
        if model not in lock.models:
            problems.append(f"{model}: not in the lock")
        problems += changed(own, lock.of(model).inputs, f"{model}: ")
        problems += [f"{model}: {problem}" for problem in unmet(own, lock.of(model))]
    return problems


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

    lock = read().of(model)
    roots = [*model_requirements(model), *framework_requirements(project.root()), *RUNTIMES[workload]]
    problems = unmet(roots, lock)
    if problems:
        raise MlopsError(
            f"{model}: {LOCK} does not cover the {workload} environment ({'; '.join(problems[:3])}); "
            f"run `{REGENERATE}` and commit the lock"
        )
    return [f"{pin.name}=={pin.version}" for pin in closure(roots, lock)]
