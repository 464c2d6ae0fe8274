"""``estimated_performance``: a classifier's performance estimated from its probabilities before the
labels arrive, checked against the labels it did not see, on real registered models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mlops import registry
from mlops.models import catalog
from mlops.monitoring import estimation

TARGET = "default_next_month"
# enough rows and trees for probabilities that are calibrated; a balanced forest's are not
CALIBRATED = ["data=generated", "data.n_rows=6000", "estimator.n_estimators=40"]
BALANCED = [*CALIBRATED, "estimator.class_weight=balanced"]


@pytest.fixture(scope="module")
def store(trained_state):
    """Version 1 of credit-default is calibrated, version 2 (class weights balanced) is not."""
    return trained_state("estimation-state", [("credit-default", CALIBRATED), ("credit-default", BALANCED)])


def clients(rows: int, seed: int) -> pd.DataFrame:
    """Return clients from the model's own generator, with another seed than training."""
    catalog.load_config("credit-default")  # puts the model's code on the path
    from credit_default.data import load

    return load(n_rows=rows, seed=seed)


def daily(frames: list[pd.DataFrame], first: str = "2026-06-01") -> pd.DataFrame:
    """Stamp each frame with its own day, one after another, without its labels."""
    days = [
        frame.drop(columns=TARGET).assign(
            timestamp=pd.Timestamp(first, tz="UTC") + pd.Timedelta(days=i, hours=12)
        )
        for i, frame in enumerate(frames)
    ]
    return pd.concat(days, ignore_index=True)


def estimated(summary: dict) -> dict[str, dict]:
    return {row["metric"]: row for row in summary["rows"] if row["signal"] == estimation.SIGNAL}


def test_the_realized_roc_auc_falls_in_the_estimated_interval(trained, run_mlops, tmp_path):
    windows = [clients(1000, seed=900 + day) for day in range(20)]
    daily(windows).to_parquet(tmp_path / "unlabelled.parquet")
    result = run_mlops(
        "monitor", "credit-default", "--version", "1", "--production", str(tmp_path / "unlabelled.parquet"),
        "--backfill", "--from", "2026-06-01", "--to", "2026-06-21", "--json",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    outcomes = json.loads(result.stdout)
    assert len(outcomes) == 20
    pipeline = registry.load(registry.client().get_model_version("credit-default", "1"), [])
    inside = 0
    for frame, outcome in zip(windows, outcomes, strict=True):
        summary = json.loads(
            Path(trained, "monitoring", "credit-default", folder(outcome), "summary.json").read_text()
        )
        assert summary["estimated_performance"]["enabled"] is True
        row = estimated(summary)["roc_auc"]
        realized = roc_auc_score(frame[TARGET], pipeline.predict_proba(frame.drop(columns=TARGET))[:, 1])
        inside += row["low"] <= realized <= row["high"]
    print(f"the realized roc_auc fell inside the 95% interval in {inside} of 20 windows")
    assert inside >= 18, f"the realized roc_auc fell inside the 95% interval in {inside} of 20 windows"


def folder(outcome: dict) -> str:
    """Return the folder a backfilled window's summary is in."""
    end = outcome["window"]["end"].replace("-", "").replace(":", "")
    return f"window-{end}"


def test_a_covariate_shift_that_costs_accuracy_is_flagged_before_labels(trained, run_mlops, tmp_path):
    pool = clients(20_000, seed=950)
    late = pool[pool["pay_status_1"] >= 1]  # clients already late on a payment: harder to call
    steady = pool.drop(late.index).sample(1500, random_state=0)
    shifted = pd.concat(
        [late.sample(1100, random_state=0), pool.drop(late.index).sample(900, random_state=1)]
    )
    production = daily([steady, shifted])
    production.to_csv(tmp_path / "unlabelled.csv", index=False)
    pipeline = registry.load(registry.client().get_model_version("credit-default", "1"), [])

    def accuracy(frame: pd.DataFrame) -> float:
        return float((pipeline.predict(frame.drop(columns=TARGET)) == frame[TARGET]).mean())

    test_accuracy = registry.metrics_of(registry.client().get_model_version("credit-default", "1"))[
        "accuracy"
    ]
    assert test_accuracy - accuracy(shifted) >= 0.05  # the shift costs at least 5 accuracy points...
    summaries = []
    for day in ("01", "02"):
        out = tmp_path / day
        result = run_mlops(
            "monitor", "credit-default", "--version", "1", "--production", str(tmp_path / "unlabelled.csv"),
            "--from", f"2026-06-{day}", "--to", f"2026-06-{int(day) + 1:02d}", "--out", str(out),
        )  # fmt: skip
        assert result.returncode in (0, 1), result.stderr
        summaries.append(json.loads((out / "summary.json").read_text()))
    calm, moved = (estimated(summary)["accuracy"] for summary in summaries)
    assert not calm["breached"]
    assert moved["breached"] and moved["value"] < moved["threshold"]  # ...and is flagged without labels
    assert moved["low"] <= accuracy(shifted) <= moved["high"]
    print(
        f"test accuracy {test_accuracy:.3f}, shifted {accuracy(shifted):.3f}, estimated {moved['value']:.3f}"
    )
    assert "estimated_performance" in summaries[1]["breaches"]


def test_an_uncalibrated_model_gets_the_signal_disabled_with_its_reason(trained, run_mlops, tmp_path):
    daily([clients(500, seed=960)]).to_csv(tmp_path / "unlabelled.csv", index=False)
    result = run_mlops(
        "monitor", "credit-default", "--version", "2", "--production", str(tmp_path / "unlabelled.csv"),
        "--from", "2026-06-01", "--to", "2026-06-02", "--json",
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    summary = json.loads(result.stdout)
    assert summary["estimated_performance"]["enabled"] is False
    assert "the model is poorly calibrated" in summary["estimated_performance"]["reason"]
    assert not estimated(summary)
    assert any(
        note.startswith("estimated_performance is disabled: the model is poorly calibrated")
        for note in summary["notes"]
    )


def test_estimation_settings_mistakes_name_the_key(trained, run_mlops, tmp_path):
    daily([clients(200, seed=961)]).to_csv(tmp_path / "unlabelled.csv", index=False)
    for override, message in (
        (
            "monitoring.signals.estimated_performance.guarded=[auc]",
            "guarded names auc; use a list of roc_auc",
        ),
        (
            "monitoring.signals.estimated_performance.confidence=2",
            "confidence is 2; it must be a number between",
        ),
    ):
        result = run_mlops(
            "monitor", "credit-default", "--production", str(tmp_path / "unlabelled.csv"),
            "--from", "2026-06-01", "--to", "2026-06-02", override,
        )  # fmt: skip
        assert result.returncode == 2 and message in result.stderr, result.stderr
        assert "Traceback" not in result.stderr


def test_estimates_cover_the_realized_metrics_of_calibrated_probabilities():
    """Labels drawn from the probabilities themselves: a perfectly calibrated model."""
    rng = np.random.default_rng(7)
    inside = {metric: 0 for metric in estimation.METRICS}
    for _ in range(40):
        positive = rng.beta(0.6, 1.8, 800)
        probabilities = np.column_stack([1 - positive, positive])
        labels = (rng.random(800) < positive).astype(int)
        found, realized = estimation.estimate(probabilities, 0.95), estimation.realized(labels, probabilities)
        for metric in estimation.METRICS:
            inside[metric] += found[metric].low <= realized[metric] <= found[metric].high
    assert all(count >= 34 for count in inside.values()), inside  # about 38 of 40 expected


def test_calibration_error_tells_skewed_probabilities_from_calibrated_ones():
    rng = np.random.default_rng(8)
    positive = rng.beta(1, 3, 5000)
    labels = (rng.random(5000) < positive).astype(int)
    calibrated = np.column_stack([1 - positive, positive])
    skewed = np.column_stack([1 - positive**0.4, positive**0.4])  # what balanced class weights do
    assert estimation.calibration_error(labels, calibrated) < 0.02
    assert estimation.calibration_error(labels, skewed) > 0.15


def test_a_multiclass_estimate_covers_its_realized_macro_metrics():
    """Three classes, labels drawn from the probabilities: macro metrics, one-vs-rest roc_auc."""
    from sklearn import metrics

    rng = np.random.default_rng(9)
    inside = {metric: 0 for metric in estimation.METRICS}
    for _ in range(30):
        probabilities = rng.dirichlet([0.7, 0.5, 0.4], 600)
        labels = (rng.random(600)[:, None] > np.cumsum(probabilities, axis=1)[:, :-1]).sum(axis=1)
        found, realized = estimation.estimate(probabilities, 0.95), estimation.realized(labels, probabilities)
        guess = probabilities.argmax(axis=1)
        assert realized["f1"] == pytest.approx(metrics.f1_score(labels, guess, average="macro"))
        assert realized["roc_auc"] == pytest.approx(
            metrics.roc_auc_score(labels, probabilities, multi_class="ovr")
        )
        for metric in estimation.METRICS:
            inside[metric] += found[metric].low <= realized[metric] <= found[metric].high
    assert all(count >= 25 for count in inside.values()), inside  # about 28 of 30 expected


def test_a_classifier_without_probabilities_gets_the_signal_disabled_not_a_traceback():
    from types import SimpleNamespace

    from sklearn.svm import LinearSVC

    from mlops.monitoring import monitor, signals

    model = LinearSVC().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])  # predicts, gives no probabilities
    plan = signals.Plan({}, {}, estimate={})
    cfg = SimpleNamespace(schema=SimpleNamespace(target=TARGET))
    checked = monitor.estimation_check(cfg, plan, None, SimpleNamespace(load=lambda: model))
    assert (
        not checked.enabled
        and checked.reason == "the model gives no class probabilities (it has no predict_proba)"
    )
