"""Each step's ``python -m mlops.steps.<step>`` entry, chained through folders as Azure ML would."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd


def step(name, *args):
    return subprocess.run(
        [sys.executable, "-m", f"mlops.steps.{name}", "--model", "breast-cancer", *args],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_steps_chain_from_prep_to_register(tmp_path):
    data, model, evaluation = tmp_path / "data", tmp_path / "model", tmp_path / "evaluation"
    assert step("prep", "--output", str(data), "split.seed=7").returncode == 0
    info = json.loads((data / "split.json").read_text())
    assert info["seed"] == 7
    assert len(pd.read_parquet(data / "test.parquet")) == info["test_rows"] == 114

    checked = step("validate", "--data", str(data))
    assert checked.stdout.strip() == "breast-cancer: the data matches the schema"
    assert step("train", "--data", str(data), "--output", str(model), "estimator.C=0.5").returncode == 0
    assert (model / "MLmodel").is_file()
    assert (
        step(
            "evaluate", "--data", str(data), "--model-dir", str(model), "--output", str(evaluation)
        ).returncode
        == 0
    )
    scores = json.loads((evaluation / "evaluation.json").read_text())
    assert scores["metrics"]["roc_auc"] > 0.95
    assert scores["champion_version"] is None

    registered = step(
        "register",
        "--data",
        str(data),
        "--model-dir",
        str(model),
        "--evaluation",
        str(evaluation),
        "--output",
        str(tmp_path / "registration"),
        "estimator.C=0.5",
    )
    assert registered.returncode == 0, registered.stderr
    assert registered.stdout.startswith("breast-cancer: version 1 is the champion: ")
    # what mlops train --target azure reads back from the pipeline's registration output
    registration = json.loads((tmp_path / "registration" / "registration.json").read_text())
    assert registration == {
        "model": "breast-cancer",
        "version": "1",
        "champion": True,
        "verdict": "promote",
        "reason": registered.stdout.split("champion: ", 1)[1].strip(),
        "report": registration["report"],
    }
    assert Path(registration["report"]).read_text().startswith("<!doctype html>")


def test_validate_entry_reports_schema_problems_without_a_traceback(tmp_path):
    data = tmp_path / "data"
    assert step("prep", "--output", str(data)).returncode == 0
    for part in ("train", "test"):
        table = pd.read_parquet(data / f"{part}.parquet").drop(columns="mean radius")
        table.to_parquet(data / f"{part}.parquet")
    result = step("validate", "--data", str(data))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert (
        "column 'mean radius' (schema.numeric) is not in mlops.models.data.load_sklearn_dataset"
        in result.stderr
    )


def test_entry_with_a_missing_input_folder_says_which_step_to_run(tmp_path):
    result = step("validate", "--data", str(tmp_path / "nothing"))
    assert result.returncode == 2
    assert "holds no split; run python -m mlops.steps.prep first" in result.stderr
