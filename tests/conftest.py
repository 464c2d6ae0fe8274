"""Shared fixtures: every test gets its own state folder, so the repo's .mlops is never touched."""

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def isolated_state(tmp_path_factory, monkeypatch):
    """Point the MLflow store of each test at a fresh folder."""
    state = tmp_path_factory.mktemp("state")
    monkeypatch.setenv("MLOPS_STATE_DIR", str(state))
    monkeypatch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.chdir(REPO)
    return state


@pytest.fixture(scope="session")
def use_state():
    """Return a context manager that points the MLflow store at a folder, for work a module shares."""

    @contextmanager
    def use(folder: Path):
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("MLOPS_STATE_DIR", str(folder))
            patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
            patch.delenv("MLFLOW_TRACKING_URI", raising=False)
            patch.chdir(REPO)
            yield

    return use


@pytest.fixture(scope="session")
def trained_state(tmp_path_factory, use_state):
    """Return a function that trains each (model, overrides) pair in order into a new state folder
    named after ``label`` and returns the folder: for a module whose tests share one trained store."""
    from mlops.training.run import train_model

    def train(label: str, runs: list[tuple[str, list[str]]]) -> Path:
        folder = tmp_path_factory.mktemp(label)
        with use_state(folder):
            for name, overrides in runs:
                train_model(name, overrides, echo=lambda _line: None)
        return folder

    return train


@pytest.fixture
def trained(store, monkeypatch):
    """Point the test at its module's trained ``store`` (a module-scoped fixture the module defines)."""
    monkeypatch.setenv("MLOPS_STATE_DIR", str(store))
    return store


@pytest.fixture
def run_mlops():
    """Run ``python -m mlops ARGS`` in a real subprocess with the test's environment."""

    def run(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "mlops", *args],
            cwd=cwd,
            env=dict(os.environ),
            capture_output=True,
            text=True,
            timeout=600,
        )

    return run
