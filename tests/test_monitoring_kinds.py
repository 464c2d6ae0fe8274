"""``mlops monitor`` on a model with date-time, text and boolean columns and three string classes
(ticket-routing), end to end on real files and the real MLflow store: a date-time is compared through
its hour and weekday, a text through its length and word count, class labels as categories."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as scores

from mlops import registry
from mlops.azureml import render
from mlops.models import catalog
from mlops.monitoring import baseline, views

NAME = "ticket-routing"
BATCH = Path(__file__).resolve().parents[1] / "data-science" / "models" / NAME / "data" / "tickets-batch.csv"
MONITORED = {
    "subject.length",
    "subject.words",
    "opened_at.hour",
    "opened_at.weekday",
    "premium",
    "account_age_days",
    "attachments",
    "channel",
}
CLASSES = {"billing", "technical", "account"}


@pytest.fixture(scope="module")
def store(trained_state):
    """Train ticket-routing once (its shipped tickets); the monitor only adds runs and tags."""
    return trained_state("kinds-state", [(NAME, [])])


def tickets(rows: int, seed: int) -> pd.DataFrame:
    """Return tickets with their queue from the model's own generator, with another seed than its data."""
    catalog.load_config(NAME)  # puts the model's code on the path
    from ticket_routing.data import generate

    return generate(rows, seed=seed)


def monitor(run_mlops, frame: pd.DataFrame, folder: Path, *args: str) -> dict:
    """Run ``mlops monitor`` on ``frame`` written as CSV, its rows stamped now; return the summary."""
    folder.mkdir(parents=True, exist_ok=True)
    frame.to_csv(folder / "tickets.csv", index=False)
    out = folder / "out"
    result = run_mlops(
        "monitor",
        NAME,
        "--production",
        str(folder / "tickets.csv"),
        "--stamp",
        "now",
        "--out",
        str(out),
        *args,
    )
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    return json.loads((out / "summary.json").read_text())


def rows_of(summary: dict, signal: str) -> dict[tuple[str, str], dict]:
    return {(row["feature"], row["metric"]): row for row in summary["rows"] if row["signal"] == signal}


def breached(summary: dict, signal: str) -> set[str]:
    return set(summary["breaches"].get(signal, []))


def test_the_baseline_profiles_the_parts_of_date_times_and_texts(trained, tmp_path):
    version = registry.champion(NAME)
    folder = registry.download(version, str(tmp_path))
    recorded = baseline.load(folder, registry.described(NAME, version.version), NAME)
    assert set(recorded.columns) == {*MONITORED, baseline.PREDICTION}  # no category per moment or text
    assert recorded.kinds == {
        "account_age_days": "numeric",
        "attachments": "numeric",
        "channel": "categorical",
        "premium": "boolean",
        "opened_at": "datetime",
        "subject": "text",
    }
    assert recorded.columns["opened_at.hour"]["type"] == "numerical"
    assert 0 <= recorded.columns["opened_at.hour"]["min"] < recorded.columns["opened_at.hour"]["max"] <= 23
    assert recorded.columns["subject.length"]["type"] == "numerical"
    assert set(recorded.columns["premium"]["categories"]) == {"true", "false"}
    assert set(recorded.columns[baseline.PREDICTION]["categories"]) == CLASSES
    # the sample stays raw: the model and Azure's monitor read it
    assert {"opened_at", "subject", "queue", baseline.PREDICTION} <= set(recorded.sample.columns)
    raw = recorded.profile["feature_importance"]
    assert recorded.importance["subject.length"] == recorded.importance["subject.words"] == raw["subject"]
    assert recorded.importance["opened_at.hour"] == raw["opened_at"]


def test_the_shipped_batch_is_monitored_end_to_end(trained, run_mlops, tmp_path):
    summary = monitor(run_mlops, pd.read_csv(BATCH), tmp_path)
    assert summary["production"]["rows"] == 500 and summary["production"]["scored"] == 500
    assert {feature for feature, _ in rows_of(summary, "data_drift")} == MONITORED
    assert {feature for feature, _ in rows_of(summary, "data_quality")} == MONITORED
    prediction = rows_of(summary, "prediction_drift")
    assert {row["data_type"] for row in prediction.values()} == {"categorical"}
    assert prediction["prediction", "jensen_shannon_distance"]["value"] < 0.1  # drawn like the training rows
    assert set(summary["views"]) == {"opened_at", "subject"}
    assert summary["views"]["subject"]["reason"] == views.REASONS["text"]
    estimated = summary["estimated_performance"]
    assert estimated["reason"]  # enabled or not, it says why
    report = (tmp_path / "out" / "report.html").read_text()
    assert views.REASONS["text"] in report
    assert "The number of characters in subject." in report


def test_a_date_time_drifts_on_its_hour_and_counts_what_is_not_one(trained, run_mlops, tmp_path):
    frame = tickets(600, seed=21).drop(columns="queue")
    opened = pd.to_datetime(frame["opened_at"])
    hours = pd.to_timedelta(np.arange(len(frame)) % 4, unit="h")  # 00:xx to 03:xx, on the same days
    frame["opened_at"] = (opened.dt.normalize() + hours + (opened - opened.dt.floor("h"))).dt.strftime(
        "%Y-%m-%dT%H:%M:%S"
    )
    frame.loc[:29, "opened_at"] = "last tuesday"  # 30 values that are no date-time
    missing = int(frame["opened_at"].isna().sum())
    summary = monitor(
        run_mlops, frame, tmp_path, "monitoring.signals.data_drift.features=[opened_at,channel]"
    )
    drift = rows_of(summary, "data_drift")
    assert {feature for feature, _ in drift} == {"opened_at.hour", "opened_at.weekday", "channel"}
    assert breached(summary, "data_drift") == {"opened_at.hour"}  # the weekdays did not move
    assert drift["opened_at.hour", "normalized_wasserstein_distance"]["value"] > 0.5
    quality = rows_of(summary, "data_quality")
    for part in ("opened_at.hour", "opened_at.weekday"):
        assert quality[part, "data_type_error_rate"]["value"] == pytest.approx(30 / (600 - missing))
        assert quality[part, "null_value_rate"]["value"] == pytest.approx(missing / 600)


def test_a_text_drifts_on_its_length(trained, run_mlops, tmp_path):
    frame = tickets(600, seed=22).drop(columns="queue")
    frame["subject"] = frame["subject"].map(
        lambda text: f"{text} {text} {text}" if isinstance(text, str) else text
    )
    summary = monitor(run_mlops, frame, tmp_path)
    drift = rows_of(summary, "data_drift")
    assert {"subject.length", "subject.words"} <= breached(summary, "data_drift")
    assert drift["subject.length", "normalized_wasserstein_distance"]["value"] > 1.0
    assert "opened_at.hour" not in breached(summary, "data_drift")
    report = (tmp_path / "out" / "report.html").read_text()
    assert views.REASONS["text"] in report


def test_prediction_drift_compares_the_class_labels(trained, run_mlops, tmp_path):
    labelled = tickets(1500, seed=23)
    technical = labelled[labelled["queue"] == "technical"].drop(columns="queue")  # one queue's tickets only
    summary = monitor(run_mlops, technical, tmp_path)
    prediction = rows_of(summary, "prediction_drift")
    assert breached(summary, "prediction_drift") == {"prediction"}
    assert prediction["prediction", "jensen_shannon_distance"]["value"] > 0.3
    assert {row["data_type"] for row in prediction.values()} == {"categorical"}
    report = (tmp_path / "out" / "report.html").read_text()
    assert all(f">{label}</text>" in report for label in CLASSES)  # the chart's category labels


def test_performance_is_computed_on_string_labels(trained, run_mlops, tmp_path):
    labelled = tickets(600, seed=24).assign(ticket_id=lambda frame: frame.index + 1)
    wrong = {"billing": "technical", "technical": "account", "account": "billing"}
    predicted = labelled["queue"].where(labelled.index % 4 != 0, labelled["queue"].map(wrong))
    production = labelled.assign(prediction=predicted)  # the rows carry their queue and a prediction
    production.to_csv(tmp_path / "truth.csv", index=False)
    summary = monitor(
        run_mlops, production, tmp_path, "--ground-truth", str(tmp_path / "truth.csv"),
        "monitoring.key_column=ticket_id",
    )  # fmt: skip
    performance = {metric: row for (_, metric), row in rows_of(summary, "model_performance").items()}
    assert performance["accuracy"]["value"] == pytest.approx(0.75)
    macro = {"average": "macro", "zero_division": 0}
    assert performance["precision"]["value"] == pytest.approx(
        scores.precision_score(labelled["queue"], predicted, **macro)
    )
    assert performance["recall"]["value"] == pytest.approx(
        scores.recall_score(labelled["queue"], predicted, **macro)
    )
    tested = registry.metrics_of(registry.champion(NAME))["accuracy"]
    assert performance["accuracy"]["threshold"] == pytest.approx(tested * 0.9)
    assert performance["accuracy"]["breached"]  # 0.75 is below the tested accuracy less 10%
    assert summary["production"]["scored"] == 0  # the rows carried their predictions
    assert any("the mean over the 3 classes seen" in note for note in summary["notes"])


def test_label_free_estimation_covers_three_classes(trained, run_mlops, tmp_path):
    labelled = tickets(2000, seed=25).assign(ticket_id=lambda frame: frame.index + 1)
    labelled[["ticket_id", "queue"]].to_csv(tmp_path / "truth.csv", index=False)
    truth = ["--ground-truth", str(tmp_path / "truth.csv"), "monitoring.key_column=ticket_id"]
    loose = "monitoring.signals.estimated_performance.max_calibration_error=0.2"  # see the first test
    summary = monitor(run_mlops, labelled.drop(columns="queue"), tmp_path, *truth, loose)
    assert summary["estimated_performance"]["enabled"] is True
    estimated = {metric: row for (_, metric), row in rows_of(summary, "estimated_performance").items()}
    assert set(estimated) == {"roc_auc", "accuracy", "precision", "recall", "f1"}
    realized = {metric: row["value"] for (_, metric), row in rows_of(summary, "model_performance").items()}
    accuracy = estimated["accuracy"]
    assert accuracy["low"] < accuracy["value"] < accuracy["high"]
    # the scored predictions' accuracy against the labels the estimate did not see: an estimate is off by
    # about the calibration error measured on the held-out test rows, plus the window's sampling noise
    error = summary["estimated_performance"]["calibration_error"]
    assert abs(accuracy["value"] - realized["accuracy"]) < error + 0.02
    assert any("the mean over its 3 classes" in note for note in summary["notes"])


def test_azure_signals_leave_out_date_times_and_texts():
    cfg = catalog.load_config(
        NAME,
        [
            "+monitoring.signals.data_drift.feature_thresholds.subject={jensen_shannon_distance:0.2}",
            "+monitoring.signals.data_drift.feature_thresholds.channel={jensen_shannon_distance:0.2}",
        ],
    )
    signals = {signal["name"]: signal for signal in render.signal_definitions(cfg)}
    kept = ["account_age_days", "attachments", "channel", "premium"]
    assert signals["data_drift"]["features"] == kept  # not Azure's top_n, which could rank them back in
    assert signals["data_quality"]["features"] == kept
    assert set(signals) == {"data_drift", "prediction_drift", "data_quality", "data_drift_channel"}
    listed = catalog.load_config(NAME, ["monitoring.signals.data_drift.features=[subject,opened_at,channel]"])
    drift = next(signal for signal in render.signal_definitions(listed) if signal["name"] == "data_drift")
    assert drift["features"] == ["channel"]


def test_views_read_each_kind():
    frame = pd.DataFrame(
        {
            "opened_at": ["2026-01-05T22:48:00", None, "soon", "2026-01-10T03:00:00+02:00"],
            "subject": ["Refund  twice please", None, "", "x"],
            "premium": [True, False, None, True],
            "channel": ["email", "chat", "phone", None],
        }
    )
    kinds = {"opened_at": "datetime", "subject": "text", "premium": "boolean", "channel": "categorical"}
    seen = views.monitored(kinds, frame)
    assert list(seen.columns) == [
        "opened_at.hour", "opened_at.weekday", "subject.length", "subject.words", "premium", "channel",
    ]  # fmt: skip
    assert seen["opened_at.hour"].tolist()[::3] == [22.0, 1.0]  # UTC, as the model reads it
    assert seen["opened_at.weekday"].tolist()[::3] == [0.0, 5.0]  # a Monday, a Saturday
    assert np.isnan(seen["opened_at.hour"][1]) and seen["opened_at.hour"][2] == views.UNREADABLE
    assert seen["subject.length"].tolist()[::2] == [20.0, 0.0] and np.isnan(seen["subject.length"][1])
    assert seen["subject.words"].tolist()[::2] == [3.0, 0.0]
    pd.testing.assert_frame_equal(seen[["premium", "channel"]], frame[["premium", "channel"]])
    assert views.monitored({"channel": "categorical"}, frame) is frame
