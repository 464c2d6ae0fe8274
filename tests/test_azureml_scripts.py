"""What Azure ML runs, run here: the step entries the components call (validate with --output,
batch_score, monitor_preprocess). The online scoring script runs under Azure's own server in
test_azureml_online.py, the batch scoring script under an emulation of Azure's batch runtime in
test_azureml_batch.py."""

from __future__ import annotations

import os
import subprocess
import sys

import pandas as pd
import pytest

from mlops.models import catalog
from mlops.monitoring import reference

SMALL = ["data=generated", "data.n_rows=1500", "estimator.n_estimators=10"]


@pytest.fixture(scope="module")
def store(trained_state):
    return trained_state("azure-scripts-state", [("taxi-fare", SMALL)])


def trips(rows: int) -> pd.DataFrame:
    catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    return load(n_rows=rows, seed=3).drop(columns="cost")


def run_step(step: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m mlops.steps.<step> --model taxi-fare ARGS``, as a component's command does."""
    command = [sys.executable, "-m", f"mlops.steps.{step}", "--model", "taxi-fare", *args]
    return subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_validate_with_output_passes_the_checked_split_on(tmp_path):
    few = ["data=generated", "data.n_rows=300"]
    assert run_step("prep", "--output", str(tmp_path / "data"), *few).returncode == 0
    checked = run_step("validate", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "ok"), *few)
    assert checked.returncode == 0, checked.stderr
    assert pd.read_parquet(tmp_path / "ok" / "train.parquet").equals(
        pd.read_parquet(tmp_path / "data" / "train.parquet")
    )


def test_batch_score_step_scores_a_folder(store, monkeypatch, tmp_path):
    monkeypatch.setenv("MLOPS_STATE_DIR", str(store))
    (tmp_path / "in").mkdir()
    trips(40).to_csv(tmp_path / "in" / "trips.csv", index=False)
    done = run_step("batch_score", "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "scored 40 rows with version 1" in done.stdout
    assert len(pd.read_csv(tmp_path / "out" / "predictions.csv")) == 40


def test_monitor_preprocess_writes_the_window_as_a_table(tmp_path):
    rows = trips(30).assign(timestamp=[f"2026-11-{day:02d}T12:00:00Z" for day in range(1, 31)])
    (tmp_path / "in").mkdir()
    rows.to_csv(tmp_path / "in" / "rows.csv", index=False)
    window = ["--data-window-start", "2026-11-10T00:00:00Z", "--data-window-end", "2026-11-20T00:00:00Z"]
    done = run_step(
        "monitor_preprocess",
        "--input-data",
        str(tmp_path / "in"),
        "--preprocessed-input-data",
        str(tmp_path / "out"),
        *window,
    )
    assert done.returncode == 0, done.stderr
    table = pd.read_parquet(tmp_path / "out" / "production.parquet")
    assert len(table) == 10 and table["distance"].tolist() == rows["distance"].iloc[9:19].tolist()
    assert (tmp_path / "out" / "MLTable").read_text() == reference.mltable("production.parquet")
    empty = run_step(
        "monitor_preprocess",
        "--input-data",
        str(tmp_path / "in"),
        "--preprocessed-input-data",
        str(tmp_path / "none"),
        "--data-window-start",
        "2027-01-01",
        "--data-window-end",
        "2027-01-02",
    )
    assert empty.returncode == 2 and "no production rows" in empty.stderr
