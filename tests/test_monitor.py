"""``mlops monitor`` end to end on real registered models, real files and the real MLflow store."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from mlops import registry
from mlops.models import catalog
from mlops.monitoring import baseline
from mlops.monitoring.monitor import BREACH_TAG
from mlops.registry import digests
from mlops.serving.collector import Collector, Scored
from mlops.training.run import train_model

END = "2026-11-23T00:00:00Z"
SMALL = ["data=generated", "data.n_rows=3000", "estimator.n_estimators=10"]
# alert on a breach in this window alone (the default waits for 2 of the last 3)
ONE_WINDOW = ["monitoring.alerting.persistence.breaches=1", "monitoring.alerting.persistence.windows=1"]


def quiet(_line: str) -> None:
    pass


@pytest.fixture(scope="module")
def store(trained_state):
    """Train taxi-fare and credit-default once; the monitor only adds runs and tags."""
    return trained_state("monitor-state", [("taxi-fare", SMALL), ("credit-default", SMALL)])


def trips(rows: int, seed: int) -> pd.DataFrame:
    """Return taxi trips from the model's own generator, with another seed than training."""
    catalog.load_config("taxi-fare")  # puts the model's code on the path
    from taxi_fare.data import load

    return load(n_rows=rows, seed=seed)


def spread(frame: pd.DataFrame, days: int = 14) -> pd.DataFrame:
    """Give rows timestamps spread evenly over the ``days`` before END."""
    end = pd.Timestamp(END)
    offsets = pd.to_timedelta(np.linspace(days * 86_400, 1, len(frame)), unit="s")
    return frame.assign(timestamp=(end - offsets).strftime("%Y-%m-%dT%H:%M:%SZ"))


def write_byo(folder: Path, frame: pd.DataFrame) -> Path:
    """Write production rows as one CSV and one Parquet file."""
    folder.mkdir(parents=True, exist_ok=True)
    half = len(frame) // 2
    frame.iloc[:half].to_csv(folder / "part-1.csv", index=False)
    frame.iloc[half:].to_parquet(folder / "part-2.parquet")
    return folder


def monitor_taxi(run_mlops, folder: Path, *args: str):
    """Run ``mlops monitor taxi-fare`` on the production files in ``folder``, in the window ending at END."""
    return run_mlops("monitor", "taxi-fare", "--production", str(folder), "--end", END, *args)


def summary_of(result) -> dict:
    folder = next(line for line in result.stdout.splitlines() if "report " in line).rsplit("report ", 1)[1]
    return json.loads((Path(folder).parent / "summary.json").read_text())


def drifted(summary: dict, signal: str) -> set[str]:
    return set(summary["breaches"].get(signal, []))


def test_a_shifted_feature_is_flagged_with_prediction_drift(trained, run_mlops, tmp_path):
    production = trips(2800, seed=11).drop(columns="cost")
    production = spread(production)
    production.loc[len(production) // 2 :, "distance"] *= 2.5  # only the last seven days are shifted
    folder = write_byo(tmp_path / "byo", production)
    result = monitor_taxi(run_mlops, folder, "--window", "P7D", *ONE_WINDOW)
    assert result.returncode == 1, result.stderr
    assert "read 1,400 production rows from 2 files" in result.stdout
    assert "skipped 1,400 outside the window" in result.stdout
    summary = summary_of(result)
    assert drifted(summary, "data_drift") == {"distance"}
    assert drifted(summary, "prediction_drift") == {"prediction"}
    assert drifted(summary, "data_quality") == {"distance"}  # 2.5 times the distance leaves the range
    assert summary["production"]["scored"] == 1400
    assert summary["window"] == {"start": "2026-11-16T00:00:00Z", "end": END}
    row = next(
        r
        for r in summary["rows"]
        if r["feature"] == "distance" and r["metric"] == "normalized_wasserstein_distance"
    )
    assert row["breached"] and row["threshold"] == 0.1 and row["value"] > 0.1
    report = Path(result.stdout.rsplit("report ", 1)[1].strip())
    assert report.name == "report.html" and "distance" in report.read_text()
    run = registry.client().get_run(summary["run_id"])
    assert run.data.tags[BREACH_TAG] == (
        "data_drift: distance; prediction_drift: prediction; data_quality: distance"
    )
    assert run.data.metrics["data_drift.distance.normalized_wasserstein_distance"] == pytest.approx(
        row["value"]
    )
    artifacts = {item.path for item in registry.client().list_artifacts(summary["run_id"])}
    assert artifacts == {"summary.json", "report.html"}
    version = registry.champion("taxi-fare")
    assert version.tags["monitor_last_run"] == summary["run_id"]
    assert version.tags["monitor_breached"] == "true"


def test_unshifted_production_passes(trained, run_mlops, tmp_path):
    production = spread(trips(1000, seed=12).drop(columns="cost"), days=7)
    folder = write_byo(tmp_path / "byo", production)
    out = tmp_path / "report"
    result = monitor_taxi(
        run_mlops, folder, "--out", str(out), "monitoring.signals.data_quality.enabled=false"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["breached"] is False and summary["breaches"] == {}
    assert "<svg" in (out / "report.html").read_text()
    assert "no threshold breached" in result.stdout


def test_an_empty_window_says_what_it_saw(trained, run_mlops, tmp_path):
    folder = write_byo(tmp_path / "byo", spread(trips(100, seed=13).drop(columns="cost"), days=3))
    result = run_mlops("monitor", "taxi-fare", "--production", str(folder), "--end", "2026-12-31T00:00:00Z")
    assert result.returncode == 2
    assert "no production rows from 2026-12-24T00:00:00Z to 2026-12-31T00:00:00Z" in result.stderr
    assert "100 rows outside it; the newest row is at 2026-11-22T23:59:59Z" in result.stderr
    assert "Traceback" not in result.stderr


def test_rows_without_a_timestamp_take_the_time_of_stamp(trained, run_mlops, tmp_path):
    folder = write_byo(tmp_path / "byo", trips(200, seed=14).drop(columns="cost"))  # no timestamp column
    refused = monitor_taxi(run_mlops, folder)
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    assert (
        "no 'timestamp' column" in refused.stderr and "--stamp (now, or an ISO 8601 time)" in refused.stderr
    )
    stamped = monitor_taxi(run_mlops, folder, "--stamp", "2026-11-20T08:00:00Z")
    assert stamped.returncode in (0, 1), stamped.stderr
    assert "read 200 production rows" in stamped.stdout
    now = run_mlops("monitor", "taxi-fare", "--production", str(folder), "--stamp", "now")
    assert now.returncode in (0, 1) and "read 200 production rows" in now.stdout, now.stderr
    outside = monitor_taxi(run_mlops, folder, "--stamp", "2025-01-01T00:00:00Z")
    assert outside.returncode == 2 and "200 rows outside it" in outside.stderr
    bad = monitor_taxi(run_mlops, folder, "--stamp", "yesterday")
    assert bad.returncode == 2 and "--stamp 'yesterday' is not an ISO 8601 time" in bad.stderr


def test_a_window_without_a_feature_column_is_an_input_error_not_a_breach(trained, run_mlops, tmp_path):
    production = spread(trips(300, seed=16).drop(columns=["cost", "vendor"]), days=3)  # a broken export
    folder = write_byo(tmp_path / "byo", production)
    result = monitor_taxi(run_mlops, folder, "--on-breach", "retrain")
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = result.stderr.strip().splitlines()[-1:]
    assert (
        line.startswith("error: production file ") and "has no vendor column, which the model needs" in line
    )
    assert "retraining" not in result.stdout + result.stderr
    assert len(registry.client().search_model_versions("name='taxi-fare'")) == 1  # nothing retrained


def test_sub_second_parquet_times_print_no_library_warning(trained, run_mlops, tmp_path):
    production = spread(trips(200, seed=17).drop(columns="cost"), days=3)
    production["timestamp"] = pd.to_datetime(production["timestamp"]) + pd.to_timedelta(123456789, unit="ns")
    (tmp_path / "byo").mkdir()
    production.to_parquet(tmp_path / "byo" / "window.parquet")
    result = monitor_taxi(run_mlops, tmp_path / "byo")
    assert result.returncode in (0, 1), result.stderr
    assert "Warning" not in result.stderr and "read 200 production rows" in result.stdout


def test_collected_data_with_ground_truth_gives_performance(trained, run_mlops, tmp_path):
    from mlops.core import project

    cfg = catalog.load_config("credit-default")
    clients = _credit_rows(400)
    features = [c for c in clients.columns if c != cfg.schema.target]
    pipeline = registry.load(registry.champion("credit-default"), [])
    predictions = pipeline.predict(clients[features]).tolist()
    collector = Collector(project.collected("credit-default"), "credit-default")
    now = datetime.now(UTC)
    for start in range(0, 400, 40):
        part = clients.iloc[start : start + 40]
        values = [part[column].tolist() for column in features]
        scored = Scored(
            "blue", "1", features, values, predictions[start : start + 40], None, f"r{start}", now
        )
        collector.collect(scored)
    collector.close()
    truth = pd.DataFrame(
        {"correlationid": [f"r{start}_{i}" for start in range(0, 400, 40) for i in range(40)]}
    ).assign(**{cfg.schema.target: clients[cfg.schema.target].to_numpy()})
    truth.to_csv(tmp_path / "truth.csv", index=False)
    result = run_mlops("monitor", "credit-default", "--ground-truth", str(tmp_path / "truth.csv"), "--json")
    summary = json.loads(result.stdout)
    assert result.returncode in (0, 1), result.stderr
    performance = {r["metric"]: r for r in summary["rows"] if r["signal"] == "model_performance"}
    assert set(performance) == {"accuracy", "precision", "recall"}
    expected = (np.asarray(predictions) == clients[cfg.schema.target].to_numpy()).mean()
    assert performance["accuracy"]["value"] == pytest.approx(expected)
    tested = registry.metrics_of(registry.champion("credit-default"))["accuracy"]
    assert performance["accuracy"]["threshold"] == pytest.approx(tested * 0.9)
    assert summary["production"]["rows"] == 400
    matched = "400 of 400 production rows (100%) matched the ground truth"
    assert any(matched in note for note in summary["notes"])
    prediction_rows = [r for r in summary["rows"] if r["signal"] == "prediction_drift"]
    assert {r["data_type"] for r in prediction_rows} == {"categorical"}


def test_bring_your_own_predictions_join_ground_truth_on_a_key_column(trained, run_mlops, tmp_path):
    trips_with_cost = spread(trips(500, seed=16), days=3).assign(trip_id=lambda frame: frame.index + 1000)
    production = trips_with_cost.drop(columns="cost").assign(prediction=trips_with_cost["cost"] + 1.0)
    folder = write_byo(tmp_path / "byo", production)
    trips_with_cost[["trip_id", "cost"]].iloc[:400].to_parquet(tmp_path / "truth.parquet")
    truth = str(tmp_path / "truth.parquet")
    result = monitor_taxi(
        run_mlops, folder, "--json", "--ground-truth", truth, "monitoring.key_column=trip_id"
    )
    assert result.returncode in (0, 1), result.stderr
    summary = json.loads(result.stdout)
    performance = {r["metric"]: r["value"] for r in summary["rows"] if r["signal"] == "model_performance"}
    assert performance == pytest.approx({"mae": 1.0, "mse": 1.0, "rmse": 1.0})
    assert summary["production"]["scored"] == 0  # the files carried their predictions
    assert summary["production"]["unknown_fields"] == {}
    assert summary["ground_truth"] == {"rows": 400, "matched": 400, "production_rows": 500}
    assert any(
        "400 of 500 production rows (80%) matched the ground truth by 'trip_id'; performance is computed "
        "on those only" in note
        for note in summary["notes"]
    )


def test_ground_truth_for_part_of_the_window_scores_the_matched_rows_only(trained, run_mlops, tmp_path):
    trips_with_cost = spread(trips(600, seed=17), days=3).assign(trip_id=lambda frame: frame.index + 5000)
    prediction = trips_with_cost["cost"] + np.where(trips_with_cost.index % 2 == 0, 1.0, 3.0)
    folder = write_byo(tmp_path / "byo", trips_with_cost.drop(columns="cost").assign(prediction=prediction))
    labelled = trips_with_cost[["trip_id", "cost"]].iloc[::3]  # a third of the rows has its label yet...
    late = pd.DataFrame({"trip_id": range(90_000, 90_050), "cost": 1.0})  # ...and some labels match no row
    pd.concat([labelled, late]).to_csv(tmp_path / "truth.csv", index=False)
    result = monitor_taxi(
        run_mlops, folder, "--ground-truth", str(tmp_path / "truth.csv"), "monitoring.key_column=trip_id"
    )
    summary = summary_of(result)
    assert summary["ground_truth"] == {"rows": 250, "matched": 200, "production_rows": 600}
    errors = (prediction - trips_with_cost["cost"]).iloc[::3]
    performance = {r["metric"]: r["value"] for r in summary["rows"] if r["signal"] == "model_performance"}
    assert performance["mae"] == pytest.approx(errors.abs().mean())
    report = (Path(result.stdout.rsplit("report ", 1)[1].strip())).read_text()
    assert "200 of 600 production rows matched (33%) among 250 ground truth rows" in report


def _credit_rows(rows: int) -> pd.DataFrame:
    catalog.load_config("credit-default")  # puts the model's code on the path
    from credit_default.data import load

    return load(n_rows=rows, seed=21)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("monitoring.signals.data_drift.features=[distance,colour]", "features names colour, not features"),
        ("monitoring.on_breach=page", "monitoring.on_breach is 'page'; use none or retrain"),
        (
            "+monitoring.signals.data_drift.metric_thresholds.numerical.mean=1",
            "numerical.mean is not a metric",
        ),
        ("+monitoring.feature_type_override.distance=text", "use numerical or categorical"),
    ],
)
def test_config_mistakes_name_the_key(trained, run_mlops, tmp_path, override, message):
    folder = write_byo(tmp_path / "byo", spread(trips(50, seed=14).drop(columns="cost"), days=2))
    result = monitor_taxi(run_mlops, folder, override)
    assert result.returncode == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_a_version_without_a_baseline_gets_a_clear_message(run_mlops, tmp_path):
    train_model("breast-cancer", [], echo=quiet)
    version = registry.champion("breast-cancer")
    artifacts = registry.client().get_run(version.run_id).info.artifact_uri.removeprefix("file://")
    shutil.rmtree(Path(artifacts) / "model" / baseline.ARTIFACT_PATH)
    # as a version registered before baselines (and file digests) were recorded
    registry.client().delete_model_version_tag("breast-cancer", "1", digests.TAG)
    (tmp_path / "rows.csv").write_text("mean_radius\n1.5\n")  # a production file: the baseline is missing
    result = run_mlops("monitor", "breast-cancer", "--production", str(tmp_path))
    assert result.returncode == 2
    assert "version 1 of 'breast-cancer' has no monitoring baseline" in result.stderr
    assert "mlops train breast-cancer" in result.stderr


class Workspace:
    """Stands where MLClient does for ``mlops azure download``: an online endpoint sending 90% of its
    traffic to green, which serves version 1; a download lays the model out a level down, as Azure's."""

    def __init__(self, model: Path | None, traffic: dict[str, int] | None = None):
        self.model = model  # None: the endpoint does not exist; a folder without MLmodel: a custom model
        self.downloads: list[tuple[str, str]] = []
        self.traffic = {"blue": 10, "green": 90} if traffic is None else traffic
        self.online_endpoints = SimpleNamespace(get=self.endpoint)
        reference = (
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.MachineLearningServices/workspaces/w"
        )
        self.online_deployments = SimpleNamespace(
            get=lambda name, endpoint_name: SimpleNamespace(
                model=f"{reference}/models/taxi-fare/versions/{dict(blue=2, green=1)[name]}"
            )
        )
        self.models = SimpleNamespace(download=self.download)

    def endpoint(self, name: str) -> SimpleNamespace:
        from azure.core.exceptions import ResourceNotFoundError

        if self.model is None:
            raise ResourceNotFoundError(f"Resource {name} not found")
        return SimpleNamespace(traffic=self.traffic)

    def download(self, name: str, version: str, download_path: str) -> None:
        self.downloads.append((name, version))
        shutil.copytree(self.model, Path(download_path) / name / "model")


@pytest.fixture
def champion_folder(trained, tmp_path) -> Path:
    """The taxi-fare champion's MLflow model folder, as the workspace would hand it out."""
    return registry.download(registry.champion("taxi-fare"), tmp_path / "registered")


def test_the_served_version_downloads_and_monitors_without_the_registry(champion_folder, run_mlops, tmp_path):
    from mlops.azureml import render, submit

    workspace = Workspace(champion_folder)
    downloaded = submit.download("taxi-fare", "dev", tmp_path / "served", client=workspace, echo=quiet)
    endpoint = render.names(render.compose("taxi-fare", "dev"))["online_endpoint"]
    assert downloaded == {
        "model": "taxi-fare",
        "env": "dev",
        "version": "1",
        "endpoint": endpoint,
        "deployment": "green",
        "path": str(tmp_path / "served"),
    }
    assert workspace.downloads == [("taxi-fare", "1")]
    assert (tmp_path / "served" / "MLmodel").is_file()
    assert (tmp_path / "served" / baseline.ARTIFACT_PATH / baseline.PROFILE_FILE).is_file()
    assert [item.name for item in tmp_path.iterdir() if item.name.startswith(".")] == []  # nothing partial

    runs_before = len(registry.client().search_runs([registry.experiment_id("taxi-fare")]))
    production = spread(trips(400, seed=16).drop(columns="cost"), days=2)
    folder = write_byo(tmp_path / "byo", production.assign(distance=production["distance"] * 2))
    result = monitor_taxi(
        run_mlops,
        folder,
        "--model",
        str(tmp_path / "served"),
        "--version",
        "1",
        "--json",
        "--out",
        str(tmp_path / "out"),
    )
    assert result.returncode == 1, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["version"], summary["run_id"]) == ("1", None)
    assert "distance" in drifted(summary, "data_drift")
    assert summary["production"]["scored"] == 400  # the folder's own model scored the rows
    assert (tmp_path / "out" / "report.html").is_file()
    assert len(registry.client().search_runs([registry.experiment_id("taxi-fare")])) == runs_before


def test_prod_downloads_the_version_from_the_registry(champion_folder, tmp_path):
    from mlops.azureml import submit

    workspace, registry_client = Workspace(champion_folder), Workspace(champion_folder)
    downloaded = submit.download(
        "taxi-fare",
        "prod",
        tmp_path / "v1",
        "1",
        client=workspace,
        registry_client=registry_client,
        echo=quiet,
    )
    assert (downloaded["version"], downloaded["deployment"]) == ("1", None)
    assert (workspace.downloads, registry_client.downloads) == ([], [("taxi-fare", "1")])


@pytest.mark.parametrize(
    ("model", "traffic", "out", "message"),
    [
        ("mlops", {"blue": 0}, "new", "sends no traffic to a deployment; deploy it (mlops deploy taxi-fare"),
        (None, None, "new", "there is no online endpoint taxi-fare-"),
        ("custom", None, "new", "only versions that mlops train registered can be downloaded"),
        ("mlops", None, "full", "is not an empty folder; pass a new or empty folder to --out"),
    ],
)
def test_download_mistakes_name_the_fix(champion_folder, tmp_path, model, traffic, out, message):
    from mlops.azureml import submit
    from mlops.core.errors import MlopsError

    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    (tmp_path / "custom").mkdir()
    (tmp_path / "custom" / "model.pkl").write_bytes(b"")  # a version registered by hand: no MLmodel
    folders = {"mlops": champion_folder, "custom": tmp_path / "custom", None: None}
    with pytest.raises(MlopsError, match=re.escape(message)):
        submit.download(
            "taxi-fare", "dev", tmp_path / out, client=Workspace(folders[model], traffic), echo=quiet
        )
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "new").exists()


def test_a_folder_without_a_model_is_refused(trained, run_mlops, tmp_path):
    (tmp_path / "rows.csv").write_text("distance\n1.5\n")  # a production file: the model folder is wrong
    result = monitor_taxi(run_mlops, tmp_path, "--model", str(tmp_path))
    assert result.returncode == 2
    assert f"{tmp_path} holds no MLmodel file; pass the folder of one MLflow model" in result.stderr


def test_a_window_with_too_few_rows_is_insufficient_data_and_exits_0(trained, run_mlops, tmp_path):
    production = spread(trips(35, seed=31).drop(columns="cost"), days=1)
    production["distance"] += 10  # would breach: too few rows to alert on
    result = monitor_taxi(run_mlops, write_byo(tmp_path / "byo", production))
    assert result.returncode == 0, result.stdout + result.stderr
    summary = summary_of(result)
    assert summary["breached"] is True  # Azure's raw verdict, kept as it is
    assert summary["alert"]["state"] == "insufficient data" and not summary["alert"]["raised"]
    assert "35 production rows, fewer than monitoring.alerting.min_rows 100" in summary["alert"]["reason"]
    assert "alert: insufficient data" in result.stdout
    [line] = [line for line in result.stdout.splitlines() if "data_drift: distance normalized_wass" in line]
    assert "(threshold 0.1; noise threshold " in line and "within noise" not in line  # both shown


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("monitoring.alerting.min_rows=0", "monitoring.alerting.min_rows is 0; it must be a whole number"),
        (
            "monitoring.alerting.persistence.breaches=4",
            "persistence.breaches (4) is above persistence.windows (3)",
        ),
        (
            "monitoring.alerting.cooldown=soon",
            "monitoring.alerting.cooldown 'soon' is not a positive ISO 8601",
        ),
        (
            "+monitoring.alerting.floors.accuracy=0.2",
            "floors.accuracy: accuracy breaches below its threshold",
        ),
    ],
)
def test_alerting_mistakes_name_the_key(trained, run_mlops, tmp_path, override, message):
    folder = write_byo(tmp_path / "byo", spread(trips(50, seed=14).drop(columns="cost"), days=2))
    result = monitor_taxi(run_mlops, folder, override)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_a_breach_below_its_floor_is_reported_but_does_not_alert(trained, run_mlops, tmp_path):
    production = trips(4000, seed=33).drop(columns="cost")
    production["distance"] = production["distance"].median()  # inside the training range...
    production.loc[0, "distance"] = production["distance"].max() + 500  # ...but for one row
    exact = [  # data quality of distance alone, with Azure's rate of 0.0: that one row breaches
        "monitoring.signals.data_quality.metric_thresholds.numerical.out_of_bounds_rate=0.0",
        "monitoring.signals.data_quality.features=[distance]",
        "monitoring.signals.data_drift.enabled=false",
        "monitoring.signals.prediction_drift.enabled=false",
    ]
    result = monitor_taxi(run_mlops, write_byo(tmp_path / "byo", spread(production, days=2)), *exact)
    summary = summary_of(result)
    breached = [row for row in summary["rows"] if row["breached"]]
    assert breached and all(row["metric"] == "out_of_bounds_rate" for row in breached), breached
    assert all(row["value"] < 0.001 for row in breached), breached
    assert summary["alert"]["state"] == "breach held back"
    assert "below its monitoring.alerting.floors value (out_of_bounds_rate)" in summary["alert"]["reason"]
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(("floor", "state"), [("0.9", "breach held back"), ("0.01", "alert")])
def test_a_p_value_breach_counts_only_past_its_effect_size_floor(trained, run_mlops, tmp_path, floor, state):
    production = trips(3000, seed=34).drop(columns="cost")
    production["distance"] += 0.3 * production["distance"].std()  # a p-value far below 0.05
    ks_only = [  # data drift of distance by the Kolmogorov-Smirnov test alone
        "monitoring.signals.data_drift.features=[distance]",
        "+monitoring.signals.data_drift.metric_thresholds.numerical.two_sample_kolmogorov_smirnov_test=0.05",
        "monitoring.signals.data_drift.metric_thresholds.numerical.normalized_wasserstein_distance=5",
        "monitoring.signals.prediction_drift.enabled=false",
        "monitoring.signals.data_quality.enabled=false",
        f"monitoring.alerting.floors.two_sample_kolmogorov_smirnov_test={floor}",
        *ONE_WINDOW,
    ]
    result = monitor_taxi(run_mlops, write_byo(tmp_path / "byo", spread(production, days=2)), *ks_only)
    summary = summary_of(result)
    rows = {row["metric"]: row for row in summary["rows"] if row["feature"] == "distance"}
    assert rows["two_sample_kolmogorov_smirnov_test"]["breached"]
    assert 0.01 < rows["normalized_wasserstein_distance"]["value"] < 0.9  # the effect size the floor reads
    assert summary["alert"]["state"] == state
    assert result.returncode == (1 if state == "alert" else 0), result.stdout + result.stderr
