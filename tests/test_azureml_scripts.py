"""What Azure ML runs, run here: the online and batch scoring scripts on a real registered model, and
the step entries the components call (validate with --output, batch_score, monitor_preprocess)."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from mlops import catalog, registry
from mlops.azureml import score, score_batch

SMALL = ["data.n_rows=1500", "estimator.n_estimators=10"]


@pytest.fixture(scope="module")
def store(trained_state):
    return trained_state("azure-scripts-state", [("taxi-fare", SMALL)])


@pytest.fixture
def model_dir(store, monkeypatch, tmp_path) -> Path:
    """Download the champion as Azure mounts a registered model: AZUREML_MODEL_DIR/<folder>/MLmodel."""
    import mlflow.artifacts

    monkeypatch.setenv("MLOPS_STATE_DIR", str(store))
    champion = registry.champion("taxi-fare")
    mlflow.artifacts.download_artifacts(artifact_uri=champion.source, dst_path=str(tmp_path / "model"))
    monkeypatch.setenv("AZUREML_MODEL_DIR", str(tmp_path))
    monkeypatch.setenv("MLOPS_MODEL", "taxi-fare")
    return tmp_path


def trips(rows: int) -> pd.DataFrame:
    catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    return load(n_rows=rows, seed=3).drop(columns="cost")


def test_the_online_script_answers_like_the_local_endpoint(model_dir):
    score.init()
    rows = trips(3)
    records = [list(row.values()) for row in rows.to_dict("records")]  # ints stay ints
    answer = score.run(json.dumps({"input_data": {"columns": list(rows.columns), "data": records}}))
    pipeline = registry.load(registry.champion("taxi-fare"), [])
    assert answer["predictions"] == pytest.approx(pipeline.predict(rows).tolist())
    refused = score.run("{}")
    assert set(refused) == {"error"} and "send exactly one of" in refused["error"]


def test_the_batch_script_scores_each_file_of_a_mini_batch(model_dir, tmp_path):
    rows = trips(20)
    rows.iloc[:12].to_csv(tmp_path / "a.csv", index=False)
    rows.iloc[12:].to_parquet(tmp_path / "b.parquet")
    score_batch.init()
    lines = score_batch.run([str(tmp_path / "a.csv"), str(tmp_path / "b.parquet")])
    parsed = list(csv.reader(lines))
    assert len(parsed) == 20
    assert parsed[0][:2] == ["a.csv", "0"] and parsed[-1][:2] == ["b.parquet", "7"]


def run_step(step: str, *args: str) -> subprocess.CompletedProcess:
    """Run ``python -m mlops.steps.<step> --model taxi-fare ARGS``, as a component's command does."""
    command = [sys.executable, "-m", f"mlops.steps.{step}", "--model", "taxi-fare", *args]
    return subprocess.run(command, env=dict(os.environ), capture_output=True, text=True, timeout=300)


def test_validate_with_output_passes_the_checked_split_on(tmp_path):
    assert run_step("prep", "--output", str(tmp_path / "data"), "data.n_rows=300").returncode == 0
    checked = run_step(
        "validate", "--data", str(tmp_path / "data"), "--output", str(tmp_path / "ok"), "data.n_rows=300"
    )
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
    assert (tmp_path / "out" / "MLTable").read_text().startswith("paths:")
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
