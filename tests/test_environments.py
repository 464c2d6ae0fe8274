"""A model's own environment, for real: two small wheels of one library at two versions, two models that
pin them and use the library when they fit and when they serve, each trained and served at the same time
from an environment uv builds from its requirements; the built environments are shared by the module's
tests, so the whole module builds two."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from mlops.core.errors import MlopsError

REPO = Path(__file__).resolve().parents[1]
LIBRARY = "mlops_tinylib"  # a name PyPI does not hold: uv finds it in the wheel folder alone
MODELS = {"tiny-one": "1.0", "tiny-two": "2.0"}
FEATURES = f'''"""A transformer that records the {LIBRARY} version it was fitted with and refuses others."""

import numpy as np
import {LIBRARY}
from sklearn.base import BaseEstimator, TransformerMixin


class Stamped(TransformerMixin, BaseEstimator):
    """Pass the columns through; fit records {LIBRARY}.__version__, transform checks it is the same."""

    def fit(self, X, y=None):
        self.library_version_ = {LIBRARY}.__version__
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        return self

    def transform(self, X):
        if {LIBRARY}.__version__ != self.library_version_:
            raise RuntimeError(f"fitted with {{self.library_version_}}, run with {{{LIBRARY}.__version__}}")
        return X.copy()

    def get_feature_names_out(self, input_features=None):
        return np.asarray(self.feature_names_in_, dtype=object)
'''


def wheel(folder: Path, version: str) -> Path:
    """Write the wheel of ``LIBRARY`` ``version`` (one module exposing ``__version__``) into ``folder``."""
    info = f"{LIBRARY}-{version}.dist-info"
    files = {
        f"{LIBRARY}/__init__.py": f'__version__ = "{version}"\n',
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {LIBRARY}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for name, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{name},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    path = folder / f"{LIBRARY}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return path


def model(root: Path, name: str, extra: list[str], features: bool = True) -> Path:
    """Copy the breast-cancer example into ``root`` as model ``name`` (its code package renamed), with
    ``extra`` requirement lines and, with ``features``, the ``Stamped`` transformer in its pipeline."""
    package = name.replace("-", "_")
    target = root / "data-science" / "models" / name
    shutil.copytree(REPO / "data-science" / "models" / "breast-cancer", target)
    shutil.move(target / "code" / "breast_cancer", target / "code" / package)
    config = target / "config" / "model.yaml"
    text = config.read_text().replace("name: breast-cancer", f"name: {name}")
    if features:
        text = text.replace("features: []", f"features:\n  - _target_: {package}.features.Stamped")
        (target / "code" / package / "features.py").write_text(FEATURES)
    config.write_text(text)
    requirements = target / "environment" / "requirements.txt"
    requirements.write_text(requirements.read_text() + "".join(f"{line}\n" for line in extra))
    return target


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> dict[str, Path]:
    """A project with the framework and models tiny-one and tiny-two (pinning ``LIBRARY`` 1.0 and 2.0),
    tiny-bad (a version that does not exist) and tiny-here (met here), its state and the wheel folder."""
    base = tmp_path_factory.mktemp("environments")
    wheels = base / "wheels"
    wheels.mkdir()
    for version in {*MODELS.values()}:
        wheel(wheels, version)
    root = base / "project"
    root.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, root / name)
    shutil.copytree(REPO / "mlops", root / "mlops", ignore=shutil.ignore_patterns("__pycache__"))
    for name, version in MODELS.items():
        model(root, name, [f"{LIBRARY}=={version}"])
    model(root, "tiny-bad", [f"{LIBRARY}==3.0"])
    model(root, "tiny-here", [], features=False)
    return {"root": root, "state": base / "state", "wheels": wheels}


@pytest.fixture
def mlops(project):
    """Run ``mlops ARGS`` as a user does, in the project, with the wheel folder for uv."""

    def run(*args: str) -> subprocess.CompletedProcess:
        variables = {
            **os.environ,
            "MLOPS_ROOT": str(project["root"]),
            "MLOPS_STATE_DIR": str(project["state"]),
            "UV_FIND_LINKS": str(project["wheels"]),
        }
        return subprocess.run(
            [sys.executable, "-m", "mlops", *args],
            cwd=project["root"],
            env=variables,
            capture_output=True,
            text=True,
            timeout=900,
        )

    return run


def tags(project: dict[str, Path], name: str, version: str) -> dict[str, str]:
    """Return the tags of registered ``version`` of model ``name`` in the project's store."""
    from mlflow import MlflowClient

    store = f"sqlite:///{project['state'] / 'mlflow.db'}"
    # both URIs: a registry URI left unset follows the one an earlier test set globally in this process
    client = MlflowClient(tracking_uri=store, registry_uri=store)
    found: dict[str, str] = client.get_model_version(name, version).tags
    return found


def environments(project: dict[str, Path], name: str) -> list[Path]:
    """Return the environment folders of model ``name``, and any build left half done."""
    return sorted((project["state"] / "environments").glob(f"*{name}-*"))


def test_unmet_names_missing_and_wrong_versions_and_skips_what_is_met(project, monkeypatch, request):
    from mlops.models import environment

    monkeypatch.setenv("MLOPS_ROOT", str(project["root"]))
    folder = model(project["root"], "tiny-check", [], features=False)
    request.addfinalizer(lambda: shutil.rmtree(folder))  # the other tests train every model
    (folder / "environment" / "requirements.txt").write_text(
        "# a comment\n\nclick>=1  # met\n"
        f"{LIBRARY}==1.0\npandas<1\n"
        'numpy<1; python_version < "3"\n'
        "--index-url https://pypi.org/simple\n"
    )
    assert environment.unmet("tiny-check") == [f"{LIBRARY}==1.0", "pandas<1"]
    assert environment.needed("tiny-check", "local") == []
    assert environment.needed("tiny-here", "auto") == []
    assert environment.needed("tiny-here", "uv") == ["--env-manager uv"]
    (folder / "environment" / "requirements.txt").write_text("pandas>=>2\n")
    with pytest.raises(MlopsError, match=r"requirements.txt: 'pandas>=>2' is not a requirement"):
        environment.unmet("tiny-check")


def test_two_models_pinning_two_versions_each_train_and_serve_side_by_side(project, mlops):
    trained = mlops("train", "--all")
    assert trained.returncode == 2, trained.stderr  # tiny-bad's environment cannot be built
    for name, version in MODELS.items():
        assert f"{name}: building its own environment" in trained.stderr
        assert f"{name}: running in its own environment" in trained.stderr
        assert f"{name}: register  version 1 " in trained.stdout + trained.stderr, trained.stderr[-4000:]
        recorded = tags(project, name, "1")
        assert recorded["environment"] == environments(project, name)[0].name
        assert f"mlops-tinylib=={version}" in recorded["environment_packages"].split(", ")
    assert "tiny-here: running in its own" not in trained.stderr
    assert tags(project, "tiny-here", "1")["environment"] == "local"

    try:
        for name in MODELS:
            deployed = mlops("deploy", name, "--online")
            assert deployed.returncode == 0, deployed.stderr
            assert f"{name}: running in its own environment" in deployed.stderr
        for name in MODELS:  # both serve at once, each on its own environment's Python
            record = json.loads((project["state"] / "endpoints" / name / "endpoint.json").read_text())
            command = Path(f"/proc/{record['pid']}/cmdline").read_bytes().split(b"\0")
            assert command[0].decode() == str(environments(project, name)[0] / "bin" / "python")
            answered = mlops("invoke", name, "--example")
            assert answered.returncode == 0, answered.stderr
            assert len(json.loads(answered.stdout)) > 0
    finally:
        for name in MODELS:
            mlops("stop", name)

    built = environments(project, "tiny-one")[0]
    before = built.stat().st_mtime_ns
    again = mlops("train", "tiny-one")
    assert again.returncode == 0, again.stderr
    assert "building" not in again.stderr and "tiny-one: running in its own environment" in again.stderr
    assert environments(project, "tiny-one") == [built] and built.stat().st_mtime_ns == before
    assert tags(project, "tiny-one", "2")["environment"] == built.name


def test_a_requirement_that_cannot_be_resolved_is_named_and_leaves_no_environment(project, mlops):
    failed = mlops("train", "tiny-bad")
    assert failed.returncode == 2
    lines = failed.stderr.strip().splitlines()
    assert lines[-1].startswith(
        f"error: tiny-bad: cannot build its own environment: '{LIBRARY}==3.0' cannot be installed: "
    ), failed.stderr
    assert "run with --env-manager local" in lines[-1] and "Traceback" not in failed.stderr
    assert environments(project, "tiny-bad") == []


def test_env_manager_local_runs_the_model_here(project, mlops):
    here = mlops("train", "tiny-one", "--env-manager", "local", "--sample", "200")
    assert here.returncode == 2 and "own environment" not in here.stderr  # here, without mlops_tinylib
    assert "cannot build tiny_one.features.Stamped" in here.stderr, here.stderr


def test_the_azure_lock_resolves_each_model_on_its_own_and_check_names_the_model(project, monkeypatch):
    from mlops.azureml import lock

    monkeypatch.setenv("MLOPS_ROOT", str(project["root"]))
    monkeypatch.setenv("UV_FIND_LINKS", str(project["wheels"]))
    shutil.rmtree(project["root"] / "data-science" / "models" / "tiny-bad")  # cannot resolve, as tested above
    lock.write()
    assert lock.check() == []
    for name, version in MODELS.items():  # two models requiring two versions of one library each lock
        assert f"mlops-tinylib=={version}" in lock.environment(name, "online")
    assert not [line for line in lock.environment("tiny-here", "online") if line.startswith("mlops-tinylib")]
    requirements = (
        project["root"] / "data-science" / "models" / "tiny-one" / "environment" / "requirements.txt"
    )
    requirements.write_text(requirements.read_text().replace(f"{LIBRARY}==1.0", f"{LIBRARY}==2.0"))
    assert lock.check() == [
        f"tiny-one: {LIBRARY}==2.0 was added since the lock was resolved",
        f"tiny-one: {LIBRARY}==1.0 was removed since the lock was resolved",
        f"tiny-one: {LIBRARY}==2.0 is locked at 1.0",
    ]
