"""``mlops batch`` on real registered models: CSV and Parquet, bad rows, thresholds, retries, memory."""

import json
import time
import tracemalloc
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from mlops import registry
from mlops.batch import job
from mlops.cli import Group
from mlops.cli import batch as commands
from mlops.core.errors import MlopsError
from mlops.models import catalog
from mlops.models.features import feature_columns, missing_as_nan

# the real trips taxi-fare ships for batch scoring and monitoring, columns in another order than training's
REAL_BATCH_FILE = Path(__file__).resolve().parents[1] / "data-science/models/taxi-fare/data/taxi-batch.csv"


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def store(trained_state):
    """Train taxi-fare (the champion) and credit-default (version 1, rejected: no champion) once."""
    forced_out = [
        "data=generated",
        "data.n_rows=1500",
        "estimator.n_estimators=10",
        "evaluation.thresholds.roc_auc=0.99",
    ]
    taxi = ["data=generated", "data.n_rows=2000", "estimator.n_estimators=10"]
    return trained_state("batch-state", [("taxi-fare", taxi), ("credit-default", forced_out)])


@pytest.fixture(autouse=True)
def trained(store, isolated_state, monkeypatch):
    """Point every test at the trained store; scoring only reads it."""
    monkeypatch.setenv("MLOPS_STATE_DIR", str(store))


def pipeline_of(name, version):
    cfg = catalog.load_config(name)
    return registry.load(registry.get_version(name, version), catalog.trusted(cfg)), cfg


def trips(rows, seed=5):
    catalog.load_config("taxi-fare")  # puts the model's code on the path
    from taxi_fare.data import load

    return load(n_rows=rows, seed=seed).drop(columns="cost")


def shuffled(frame):
    return frame[list(np.random.default_rng(0).permutation(frame.columns))]


def score(inputs, output, **options):
    options.setdefault("echo", quiet)
    return job.score("taxi-fare", str(inputs), output, **options)


def features_of(frame, cfg):
    """The rows as the model sees them: an empty text value (None or NaN) is missing either way."""
    return missing_as_nan(frame[feature_columns(cfg)], list(cfg.schema.get("categorical") or []))


def assert_predicts_like_the_pipeline(predictions, frame, name="taxi-fare", version="1"):
    pipeline, cfg = pipeline_of(name, version)
    expected = pipeline.predict(features_of(frame, cfg))
    if np.issubdtype(expected.dtype, np.floating):
        np.testing.assert_allclose(predictions["prediction"], expected, rtol=1e-9)
    else:
        np.testing.assert_array_equal(predictions["prediction"], expected)


def test_csv_with_shuffled_and_extra_columns_scores_every_row_in_order(tmp_path):
    frame = trips(2500)
    file = tmp_path / "trips.csv"
    shuffled(frame).assign(trip_id=range(2500), note="x").to_csv(file, index=False)
    lines = []
    overrides = ["deployment.batch.mini_batch_size=300"]
    summary = job.score("taxi-fare", str(file), tmp_path / "out", overrides=overrides, echo=lines.append)

    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    cfg = catalog.load_config("taxi-fare")
    assert list(predictions.columns) == ["source_file", "row", *feature_columns(cfg), "prediction"]
    assert (predictions["source_file"] == str(file)).all()
    assert predictions["row"].tolist() == list(range(2500))
    pd.testing.assert_frame_equal(
        predictions[feature_columns(cfg)], frame[feature_columns(cfg)], check_dtype=False
    )
    assert_predicts_like_the_pipeline(predictions, frame)
    assert (summary.rows, summary.scored, summary.errors, summary.version) == (2500, 2500, 0, "1")
    assert summary.settings["mini_batch_size"] == 300
    assert lines == [
        f"taxi-fare: scored 2,500 rows from 1 file with version 1 -> {tmp_path / 'out' / 'predictions.csv'} "
        "(0 errors)"
    ]
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["scored"] == 2500
    assert written["files"] == [str(file)]
    assert written["settings"]["max_concurrency_per_instance"] == 2
    assert written["seconds"] > 0


def test_the_pipelines_guard_is_built_once_per_job_not_per_mini_batch(tmp_path, monkeypatch):
    from mlops.scoring.guard import Guard

    built = []
    real = Guard.of.__func__
    monkeypatch.setattr(
        Guard, "of", classmethod(lambda cls, pipeline: built.append(1) or real(cls, pipeline))
    )
    trips(1000).to_csv(tmp_path / "trips.csv", index=False)
    summary = score(
        tmp_path / "trips.csv", tmp_path / "out", overrides=["deployment.batch.mini_batch_size=50"]
    )
    assert summary.scored == 1000
    assert len(built) == 1  # 20 mini-batches


def test_a_folder_of_csv_and_parquet_in_any_column_order_scores_alike(tmp_path):
    frame = trips(700)
    (tmp_path / "in").mkdir()
    frame.to_csv(tmp_path / "in" / "a.csv", index=False)
    shuffled(frame).to_parquet(tmp_path / "in" / "b.parquet")
    shuffled(frame).to_csv(tmp_path / "in" / "c.csv", index=False)
    (tmp_path / "in" / "notes.txt").write_text("not a table")
    summary = score(tmp_path / "in", tmp_path / "out", overrides=["deployment.batch.mini_batch_size=250"])

    assert summary.files == [str(tmp_path / "in" / name) for name in ("a.csv", "b.parquet", "c.csv")]
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert predictions["source_file"].map(lambda path: Path(path).name).tolist() == (
        ["a.csv"] * 700 + ["b.parquet"] * 700 + ["c.csv"] * 700
    )
    per_file = [group["prediction"].to_numpy() for _, group in predictions.groupby("source_file", sort=True)]
    np.testing.assert_allclose(per_file[0], per_file[1], rtol=1e-9)
    np.testing.assert_allclose(per_file[0], per_file[2], rtol=1e-9)
    assert_predicts_like_the_pipeline(predictions.iloc[:700], frame)


def test_a_glob_picks_its_matches_in_sorted_order(tmp_path):
    for part in (2, 1, 3):
        trips(50, seed=part).to_csv(tmp_path / f"part-{part}.csv", index=False)
    trips(50).to_csv(tmp_path / "other.csv", index=False)
    summary = score(tmp_path / "part-[12].csv", tmp_path / "out")
    assert summary.files == [str(tmp_path / "part-1.csv"), str(tmp_path / "part-2.csv")]
    assert summary.scored == 100


def test_a_folder_scored_into_itself_skips_its_own_predictions(tmp_path):
    trips(30).to_csv(tmp_path / "a.csv", index=False)
    for _ in range(2):
        summary = score(tmp_path, tmp_path)
    assert summary.files == [str(tmp_path / "a.csv")]
    assert summary.scored == 30


def test_inputs_that_match_nothing_or_are_not_tables_fail_with_the_pattern(tmp_path):
    with pytest.raises(MlopsError, match=r"no CSV or Parquet file matches '.*/nothing-\*\.csv'"):
        score(tmp_path / "nothing-*.csv", tmp_path / "out")
    (tmp_path / "trips.json").write_text("{}")
    with pytest.raises(MlopsError, match=r"trips\.json is neither CSV nor Parquet"):
        score(tmp_path / "trips.json", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_bad_rows_are_skipped_and_reported_by_file_and_line(tmp_path):
    frame = trips(400).astype({"distance": object, "vendor": object})
    frame.loc[3, "distance"] = "far"
    frame.loc[250, "vendor"] = "green"
    frame.loc[251, "distance"] = "inf"
    frame.to_csv(tmp_path / "trips.csv", index=False)
    good = frame.drop(index=[3, 250, 251]).astype({"distance": float, "vendor": int})
    summary = score(
        tmp_path / "trips.csv", tmp_path / "out", overrides=["deployment.batch.mini_batch_size=100"]
    )

    assert (summary.rows, summary.scored, summary.errors) == (400, 397, 3)
    assert [(error["line"], error["row"]) for error in summary.first_errors] == [
        (5, 3),
        (252, 250),
        (253, 251),
    ]
    assert summary.first_errors[0]["file"] == str(tmp_path / "trips.csv")
    assert summary.first_errors[0]["reason"] == "column 'distance' holds 'far', not a finite number"
    assert "'vendor' holds 'green'" in summary.first_errors[1]["reason"]
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert predictions["row"].tolist() == good.index.tolist()
    assert_predicts_like_the_pipeline(predictions, good)
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["first_errors"] == summary.first_errors


def test_values_the_forest_cannot_take_are_bad_rows_not_a_failed_mini_batch(tmp_path):
    frame = trips(300)
    frame.loc[[10, 200], "distance"] = [3.5e38, -1e39]  # finite doubles, beyond the trees' float32
    frame.to_csv(tmp_path / "trips.csv", index=False)
    summary = score(
        tmp_path / "trips.csv", tmp_path / "out", overrides=["deployment.batch.mini_batch_size=100"]
    )
    assert (summary.rows, summary.scored, summary.errors) == (300, 298, 2)
    assert [error["line"] for error in summary.first_errors] == [12, 202]
    assert summary.first_errors[0]["reason"].startswith("column 'distance' is 3.5e+38; once preprocessed")
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert predictions["row"].tolist() == frame.drop(index=[10, 200]).index.tolist()
    assert_predicts_like_the_pipeline(predictions, frame.drop(index=[10, 200]))


def test_bad_parquet_rows_are_reported_by_row(tmp_path):
    frame = trips(30).astype({"passengers": str})
    frame.loc[7, "passengers"] = "a few"
    frame.to_parquet(tmp_path / "trips.parquet")
    summary = score(tmp_path / "trips.parquet", tmp_path / "out")
    assert summary.scored == 29
    assert summary.first_errors[0] | {"reason": ""} == {
        "file": str(tmp_path / "trips.parquet"),
        "row": 7,
        "line": None,
        "reason": "",
    }


def test_a_file_missing_a_feature_fails_that_file_only(tmp_path):
    (tmp_path / "in").mkdir()
    trips(40).to_csv(tmp_path / "in" / "a.csv", index=False)
    trips(60).drop(columns=["vendor", "distance"]).to_csv(tmp_path / "in" / "b.csv", index=False)
    summary = score(tmp_path / "in", tmp_path / "out")
    assert (summary.rows, summary.scored, summary.errors) == (100, 40, 60)
    assert summary.first_errors == [
        {
            "file": str(tmp_path / "in" / "b.csv"),
            "row": None,
            "line": None,
            "reason": "lacks the feature columns distance, vendor",
        }
    ]
    assert len(pd.read_csv(tmp_path / "out" / "predictions.csv")) == 40


def cli(*args):
    group = Group(name="mlops", commands={"batch": commands.batch})
    return CliRunner().invoke(group, ["batch", *args])


def test_past_the_error_threshold_the_cli_exits_2_and_leaves_the_old_output(tmp_path):
    frame = trips(300).astype({"distance": object})
    frame.loc[[10, 20, 290], "distance"] = "?"
    frame.to_csv(tmp_path / "trips.csv", index=False)
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.csv").write_text("from the last run\n")
    result = cli(
        "taxi-fare", "--input", str(tmp_path / "trips.csv"), "--output", str(out), "--error-threshold", "2"
    )

    assert result.exit_code == 2, result.output
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: taxi-fare: 3 errors after 300 rows exceed error_threshold 2")
    assert f"{tmp_path / 'trips.csv'}:12 column 'distance' holds '?'" in message
    assert f"{tmp_path / 'trips.csv'}:292" in message
    assert sorted(path.name for path in out.iterdir()) == ["predictions.csv"]
    assert (out / "predictions.csv").read_text() == "from the last run\n"

    again = cli(
        "taxi-fare", "--input", str(tmp_path / "trips.csv"), "--output", str(out), "--error-threshold", "3"
    )
    assert again.exit_code == 0, again.output
    assert "scored 297 rows from 1 file with version 1" in again.stdout
    assert len(pd.read_csv(out / "predictions.csv")) == 297


def test_an_unreadable_file_fails_the_job_and_removes_the_partial_output(tmp_path):
    trips(500).to_csv(tmp_path / "trips.csv", index=False)
    with open(tmp_path / "trips.csv", "a") as table:
        table.write("1,2,3\n" + ",".join(["1"] * 25) + "\n")
    overrides = ["deployment.batch.mini_batch_size=100"]
    with pytest.raises(
        MlopsError, match=r"cannot read .*trips\.csv: .*Expected 20 fields in line 503, saw 25"
    ):
        score(tmp_path / "trips.csv", tmp_path / "out", overrides=overrides)
    assert not (tmp_path / "out").exists()  # nor the folder made for it


def test_cli_options_override_the_config(tmp_path):
    trips(120).to_parquet(tmp_path / "trips.parquet")
    result = cli(
        "taxi-fare",
        "--input",
        str(tmp_path / "trips.parquet"),
        "--output",
        str(tmp_path / "out"),
        "--version",
        "1",
        "--mini-batch-size",
        "7",
        "--max-concurrency",
        "3",
        "--output-file-name",
        "fares of 'today'.csv",
        "--max-retries",
        "0",
        "--timeout",
        "5.5",
    )
    assert result.exit_code == 0, result.output
    settings = json.loads((tmp_path / "out" / "summary.json").read_text())["settings"]
    assert settings == {
        "mini_batch_size": 7,
        "max_concurrency_per_instance": 3,
        "error_threshold": -1,
        "output_action": "append_row",
        "output_file_name": "fares of 'today'.csv",
        "max_retries": 0,
        "timeout": 5.5,
    }
    assert len(pd.read_csv(tmp_path / "out" / "fares of 'today'.csv")) == 120


def test_bad_settings_and_versions_fail_with_the_fix(tmp_path):
    trips(5).to_csv(tmp_path / "trips.csv", index=False)
    args = ["taxi-fare", "--input", str(tmp_path / "trips.csv"), "--output", str(tmp_path / "out")]
    result = cli(*args, "--mini-batch-size", "0")
    assert result.exit_code == 2
    assert "deployment.batch.mini_batch_size is 0; use a positive number of rows" in result.stderr
    result = cli(*args, "--output-file-name", "sub/p.csv")
    assert (
        "deployment.batch.output_file_name is 'sub/p.csv'; use a file name without a folder" in result.stderr
    )
    assert "pass --version or --alias, not both" in cli(*args, "--version", "1", "--alias", "x").stderr
    assert "no registered version '9'" in cli(*args, "--version", "9").stderr
    assert "has no version with alias 'staging'; pass --version" in cli(*args, "--alias", "staging").stderr
    with pytest.raises(
        MlopsError, match=r"model 'credit-default' has no champion; train it first \(mlops train"
    ):
        job.score("credit-default", str(tmp_path / "trips.csv"), tmp_path / "out")


def test_summary_only_writes_the_counts_and_no_predictions(tmp_path):
    trips(80).to_csv(tmp_path / "trips.csv", index=False)
    lines = []
    overrides = ["deployment.batch.output_action=summary_only"]
    summary = job.score(
        "taxi-fare", str(tmp_path / "trips.csv"), tmp_path / "out", overrides=overrides, echo=lines.append
    )
    assert summary.predictions is None
    assert summary.scored == 80
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["summary.json"]
    assert lines[0].endswith(f"-> {tmp_path / 'out' / 'summary.json'} (0 errors)")


def test_a_classifier_adds_a_probability_per_class(tmp_path):
    catalog.load_config("credit-default")
    from credit_default.data import load

    frame = load(n_rows=500, seed=3).drop(columns="default_next_month")
    shuffled(frame).to_csv(tmp_path / "clients.csv", index=False)
    summary = job.score(
        "credit-default", str(tmp_path / "clients.csv"), tmp_path / "out", version="1", echo=quiet
    )
    assert summary.scored == 500
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert list(predictions.columns[-3:]) == ["prediction", "probability_0", "probability_1"]
    assert_predicts_like_the_pipeline(predictions, frame, "credit-default", "1")
    pipeline, cfg = pipeline_of("credit-default", "1")
    # the CSV's empty education is NaN, the generator's None: both are missing to the model
    expected = pipeline.predict_proba(
        missing_as_nan(frame[feature_columns(cfg)], list(cfg.schema.categorical))
    )
    np.testing.assert_allclose(predictions[["probability_0", "probability_1"]], expected, rtol=1e-9)
    assert predictions["education"].isna().sum() == frame["education"].isna().sum() > 0


def test_retries_give_a_failing_mini_batch_more_attempts_then_report_the_last_failure():
    calls = []

    def flaky(failures):
        calls.append(1)
        if len(calls) <= failures:
            raise ValueError(f"attempt {len(calls)} failed\nsecond line")
        return "scored"

    with ThreadPoolExecutor(1) as pool:
        assert job.with_retries(pool.submit(flaky, 2), lambda: pool.submit(flaky, 2), 2, 5) == (
            "scored",
            None,
        )
        assert len(calls) == 3
        calls.clear()
        result = job.with_retries(pool.submit(flaky, 2), lambda: pool.submit(flaky, 2), 1, 5)
        assert result == (None, "ValueError: attempt 2 failed (2 attempts)")
        slow = job.with_retries(pool.submit(time.sleep, 0.5), lambda: pool.submit(time.sleep, 0.5), 0, 0.05)
        assert slow == (None, "timed out after 0.05 s (1 attempt)")


def traced_peak(work):
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_stays_bounded_by_the_mini_batches_not_the_file(tmp_path):
    frame = trips(300_000)
    frame.to_csv(tmp_path / "big.csv", index=False)
    frame.head(100).to_csv(tmp_path / "small.csv", index=False)
    del frame
    score(tmp_path / "small.csv", tmp_path / "warm")  # imports and first loads are not the job's memory
    _, whole_file = traced_peak(lambda: pd.read_csv(tmp_path / "big.csv"))
    overrides = ["deployment.batch.mini_batch_size=10000"]
    summary, peak = traced_peak(lambda: score(tmp_path / "big.csv", tmp_path / "out", overrides=overrides))
    assert summary.scored == 300_000
    assert peak < whole_file / 4, (
        f"peak {peak / 1e6:.1f} MB; reading the whole file {whole_file / 1e6:.1f} MB"
    )


def test_the_real_taxi_batch_file_in_its_own_column_order(tmp_path):
    summary = score(REAL_BATCH_FILE, tmp_path / "out")
    assert summary.errors == 0
    predictions = pd.read_csv(tmp_path / "out" / "predictions.csv")
    assert len(predictions) == summary.rows == len(pd.read_csv(REAL_BATCH_FILE))
    assert_predicts_like_the_pipeline(predictions, pd.read_csv(REAL_BATCH_FILE))
