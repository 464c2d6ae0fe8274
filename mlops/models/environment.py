"""A model's own environment: whether this interpreter meets the model's ``environment/requirements.txt``,
and a virtual environment built from it with uv (the framework installed beside it, one resolution) in
which the model's work runs when it does not.

Each environment lives in ``<state>/environments/<name>-<key>/``, the key a hash of the requirements file,
the framework's own dependencies, the project root, this Python and the MLflow it shares. It is built once
into a temporary folder and renamed into place when complete (one build at a time per model, under a file
lock), so a folder that exists is whole; later runs reuse it. ``rm -rf <state>/environments`` removes them.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from mlops.core import locks, project
from mlops.core.errors import MlopsError
from mlops.models import catalog

REQUIREMENTS = Path("environment") / "requirements.txt"
FOLDER = "environments"  # under the state folder
LOCAL = "local"  # what a version trained in the framework's own interpreter records as its environment
PROGRESS_SECONDS = 10  # how often a long build says it is still building
# held at this interpreter's version in every model's environment: they all share one store, whose
# schema a newer MLflow migrates beyond what this one reads
SHARED = ("mlflow",)
CONSTRAINTS = "constraints.txt"  # in the environment's folder: what SHARED held it to


def requirements_path(name: str) -> Path:
    """Return model ``name``'s requirements file, or raise naming it when it is missing."""
    path = catalog.model_dir(name) / REQUIREMENTS
    if not path.is_file():
        raise MlopsError(f"{name}: {path} is missing; it lists what the model needs to train and serve")
    return path


def requirement_lines(path: Path) -> list[str]:
    """Return the requirement lines of ``path``: comments, blank lines and installer options (``-r``,
    ``--index-url``, which uv reads when it builds) left out."""
    lines = (line.split(" #", 1)[0].strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith(("#", "-"))]


def distribution(line: str) -> str:
    """Return the distribution a requirement line names, as PEP 503 spells it."""
    from packaging.utils import canonicalize_name

    return canonicalize_name(re.split(r"[<>=!~\[;@( ]", line, maxsplit=1)[0])


def unmet(name: str) -> list[str]:
    """Return the requirement lines of model ``name`` this interpreter does not satisfy: a distribution
    that is not installed, or installed at a version outside the line's specifier; a line whose marker
    does not apply here is met."""
    from importlib import metadata

    from packaging.requirements import InvalidRequirement, Requirement

    path = requirements_path(name)
    missing = []
    for line in requirement_lines(path):
        try:
            requirement = Requirement(line)
        except InvalidRequirement as error:
            raise MlopsError(f"{path}: '{line}' is not a requirement ({error}); fix the line") from None
        if requirement.marker is not None and not requirement.marker.evaluate():
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(line)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(line)
    return missing


def needed(name: str, manager: str) -> list[str]:
    """Return why model ``name``'s work runs in its own environment under ``manager`` (``auto``: the
    requirements this interpreter does not meet; ``uv``: always); empty when it runs here."""
    if manager == "uv":
        return ["--env-manager uv"]
    return unmet(name) if manager == "auto" else []


def shared() -> list[str]:
    """Return the pins that hold the ``SHARED`` packages at this interpreter's versions."""
    from importlib import metadata

    return [f"{package}=={metadata.version(package)}" for package in SHARED]


def key(name: str) -> str:
    """Return the hash that names model ``name``'s environment: its requirements file's content, the
    framework's dependencies, the project root it installs, this Python's version and the ``shared``
    pins."""
    import tomllib

    root = project.root()
    dependencies = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    digest = hashlib.sha256()
    for part in (requirements_path(name).read_bytes(), "\n".join(dependencies).encode(), str(root).encode()):
        digest.update(part + b"\0")
    digest.update(f"{sys.implementation.name}-{sys.version}-{shared()}".encode())
    return digest.hexdigest()[:16]


def folder(name: str) -> Path:
    """Return the folder of model ``name``'s environment (whether built or not)."""
    return project.state_dir() / FOLDER / f"{name}-{key(name)}"


def python(environment: Path) -> Path:
    """Return the Python interpreter of the environment folder ``environment``."""
    return environment / "bin" / "python"


def uv() -> str:
    """Return the uv executable: the one the ``uv`` package ships, else the one on PATH."""
    try:
        import uv as uv_package

        return str(uv_package.find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
    if found is None:
        raise MlopsError("uv is not installed; install it (pip install uv) or run with --env-manager local")
    return found


def ensure(name: str, echo: Callable[[str], None]) -> Path:
    """Return the folder of model ``name``'s environment, built first when it does not exist yet (one
    build at a time; another command's build is waited for and reused)."""
    target = folder(name)
    if target.is_dir():
        return target
    with locks.held(project.state_dir() / "locks" / f"environment-{name}.lock"):
        if not target.is_dir():
            build(name, target, echo)
    return target


def build(name: str, target: Path, echo: Callable[[str], None]) -> None:
    """Build model ``name``'s environment into a temporary folder beside ``target`` with uv (a venv, then
    the framework and the model's requirements in one resolution, ``shared`` pins held) and rename it into
    place; raise naming the requirement that failed, with nothing left behind, when uv cannot."""
    requirements = requirements_path(name)
    echo(f"{name}: building its own environment from {requirements} in {target} (once; reused after)")
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        executable = uv()
        started = time.monotonic()
        venv = [executable, "venv", "--relocatable", "--seed", "--quiet", "--python", sys.executable]
        uv_run([*venv, str(scratch)], name, requirements, started, echo)
        (scratch / CONSTRAINTS).write_text("\n".join(shared()) + "\n")
        install = [
            *(executable, "pip", "install", "--python", str(python(scratch))),
            *("-e", str(project.root()), "-r", str(requirements), "-c", str(scratch / CONSTRAINTS)),
        ]
        uv_run(install, name, requirements, started, echo)
        scratch.rename(target)
        echo(f"{name}: environment built in {time.monotonic() - started:.0f} s")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def uv_run(
    command: list[str], name: str, requirements: Path, started: float, echo: Callable[[str], None]
) -> None:
    """Run one uv ``command`` building model ``name``'s environment, saying every ``PROGRESS_SECONDS``
    that it is still building; raise in one line (``failure``) when it fails."""
    with tempfile.TemporaryFile("w+") as log:
        process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        while True:
            try:
                code = process.wait(timeout=PROGRESS_SECONDS)
                break
            except subprocess.TimeoutExpired:
                echo(f"{name}: still building its environment ({time.monotonic() - started:.0f} s)")
        if code:
            log.seek(0)
            raise MlopsError(failure(name, requirements, log.read()))


def failure(name: str, requirements: Path, output: str) -> str:
    """Return the one line that says why uv could not build model ``name``'s environment: the line of its
    requirements uv's resolver names (``you require ...``), uv's own words from its ``error:`` line on,
    and the fix."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not line.startswith("hint:")]
    start = next((at for at, line in enumerate(lines) if line.startswith("error:")), max(len(lines) - 1, 0))
    said = " ".join(line.removeprefix("cause: ") for line in lines[start:]).removeprefix("error: ")
    said = said.replace(" Because", ": because", 1).rstrip(".") or "uv failed without a message"
    named = re.search(r"you require ([A-Za-z0-9][A-Za-z0-9._-]*)", said)
    culprit = ""
    if named:
        wanted = distribution(named.group(1))
        found = (line for line in requirement_lines(requirements) if distribution(line) == wanted)
        culprit = f"'{next(found, named.group(1))}' cannot be installed: "
    return (
        f"{name}: cannot build its own environment: {culprit}{said}; fix {requirements} (its pins must agree "
        "with the framework's pyproject.toml) or run with --env-manager local"
    )


def run(
    name: str, args: Sequence[str], why: Sequence[str], echo: Callable[[str], None], capture: bool = False
) -> subprocess.CompletedProcess[str]:
    """Run ``mlops ARGS`` with the Python of model ``name``'s own environment (built when missing),
    saying so and ``why``; its output streams through, or with ``capture`` its stdout is returned."""
    environment = ensure(name, echo)
    echo(f"{name}: running in its own environment {environment} ({', '.join(why)})")
    variables = {
        **os.environ,
        project.ROOT_ENV: str(project.root()),
        project.STATE_ENV: str(project.state_dir()),
    }
    command = [str(python(environment)), "-m", "mlops", *args]
    return subprocess.run(command, env=variables, stdout=subprocess.PIPE if capture else None, text=True)


def current() -> str:
    """Return the environment this interpreter is: the folder name of a model's own environment, or
    ``local`` (the one the framework is installed in)."""
    here = Path(sys.prefix).resolve()
    return here.name if here.parent == project.state_dir() / FOLDER else LOCAL


def tags(name: str) -> dict[str, str]:
    """Return what a version of model ``name`` records of the environment it trained in: ``environment``
    (``local`` or its own environment's folder name) and ``environment_packages``, the installed version
    of every distribution its requirements name (``missing`` when not installed)."""
    from importlib import metadata

    installed = []
    for line in requirement_lines(requirements_path(name)):
        package = distribution(line)
        try:
            installed.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            installed.append(f"{package} missing")
    return {"environment": current(), "environment_packages": ", ".join(installed)}
