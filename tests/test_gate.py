"""The champion gate decides on thresholds and improvement over the champion."""

import pytest

from mlops.gate import decide


def regression(candidate, champion=None, *, thresholds=None, margin=0.0, error=None):
    return decide(
        "regression",
        candidate,
        primary_metric="rmse",
        thresholds=thresholds or {},
        min_improvement=margin,
        champion=champion,
        champion_version="3" if champion or error else None,
        champion_error=error,
    )


def test_first_version_passing_thresholds_is_promoted():
    decision = regression({"rmse": 2.0, "r2": 0.8}, thresholds={"r2": 0.5})
    assert decision.promote
    assert "no champion" in decision.reason


def test_floor_threshold_rejects_with_the_metric_and_bound():
    decision = regression({"rmse": 2.0, "r2": 0.4}, thresholds={"r2": 0.5})
    assert not decision.promote
    assert decision.reason == "r2 0.4 is below the threshold 0.5"


def test_ceiling_threshold_for_lower_is_better_metrics():
    decision = regression({"rmse": 7.0, "r2": 0.9}, thresholds={"rmse": 5})
    assert not decision.promote
    assert decision.reason == "rmse 7 is above the threshold 5"


def test_thresholds_apply_even_when_the_candidate_beats_the_champion():
    decision = regression({"rmse": 1.0, "r2": 0.4}, {"rmse": 2.0, "r2": 0.3}, thresholds={"r2": 0.5})
    assert not decision.promote


@pytest.mark.parametrize(
    ("candidate", "margin", "promote"),
    [(1.9, 0.0, True), (2.0, 0.0, False), (2.1, 0.0, False), (1.95, 0.1, False), (1.85, 0.1, True)],
)
def test_lower_is_better_primary_metric_must_improve_by_the_margin(candidate, margin, promote):
    decision = regression({"rmse": candidate, "r2": 0.9}, {"rmse": 2.0, "r2": 0.9}, margin=margin)
    assert decision.promote is promote
    assert "champion (version 3) 2" in decision.reason


def test_higher_is_better_primary_metric():
    common = {"primary_metric": "roc_auc", "thresholds": {}, "min_improvement": 0.01, "champion_version": "1"}
    assert decide("classification", {"roc_auc": 0.92}, champion={"roc_auc": 0.9}, **common).promote
    assert not decide("classification", {"roc_auc": 0.905}, champion={"roc_auc": 0.9}, **common).promote
    assert not decide("classification", {"roc_auc": 0.8}, champion={"roc_auc": 0.9}, **common).promote


def test_a_champion_that_cannot_be_scored_blocks_automatic_promotion():
    decision = regression({"rmse": 1.0, "r2": 0.9}, error="columns missing: ['x']")
    assert not decision.promote
    assert "could not be scored" in decision.reason
    assert "mlops promote" in decision.reason


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_metric_that_is_not_a_number_fails_the_gate_with_the_reason(value):
    first = regression({"rmse": 1.0, "r2": value}, thresholds={"r2": 0.5})
    assert not first.promote and first.reason.startswith(f"r2 is {value} on the test rows")
    beats_anything = regression({"rmse": value, "r2": 0.9}, {"rmse": 2.0, "r2": 0.9})
    assert not beats_anything.promote and "split.test_size" in beats_anything.reason
    against = regression({"rmse": 1.0, "r2": 0.9}, {"rmse": value, "r2": 0.9})
    assert not against.promote
    assert against.reason.startswith(f"the champion's (version 3) rmse is {value} on the compared test rows")


def test_a_one_row_test_split_is_rejected_with_a_nan_reason(isolated_state):
    from mlops.training import train_model

    outcome = train_model(
        "taxi-fare",
        ["data=generated", "data.n_rows=400", "estimator.n_estimators=5", "split.test_size=1"],
        echo=lambda _line: None,
    )
    assert not outcome.promoted and outcome.reason.startswith("r2 is nan on the test rows")
