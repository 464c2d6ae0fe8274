"""The champion gate decides on thresholds and improvement over the champion."""

import pytest

from mlops.evaluation.gate import decide
from mlops.evaluation.uncertainty import Interval


def around(champion, candidate, metric="rmse", spread=0.05, rows=500):
    """The interval of a candidate's improvement: its point value, give or take ``spread``."""
    if champion is None:
        return None
    sign = -1 if metric == "rmse" else 1
    estimate = sign * (candidate[metric] - champion[metric])
    return Interval(estimate, estimate - spread, estimate + spread, 0.95, 1000, rows)


def regression(candidate, champion=None, *, thresholds=None, margin=0.0, error=None, spread=0.05, rows=500):
    return decide(
        "regression",
        candidate,
        primary_metric="rmse",
        thresholds=thresholds or {},
        min_improvement=margin,
        min_test_rows=50,
        champion=champion,
        champion_version="3" if champion or error else None,
        champion_error=error,
        interval=around(champion, candidate, spread=spread, rows=rows),
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
    ("candidate", "margin", "verdict"),
    [
        (1.9, 0.0, "promote"),  # interval [0.05, 0.15]: wholly better
        (1.97, 0.0, "investigate"),  # [-0.02, 0.08]: straddles zero
        (2.0, 0.0, "investigate"),  # [-0.05, 0.05]
        (2.1, 0.0, "reject"),  # [-0.15, -0.05]: wholly worse
        (2.06, 0.0, "reject"),  # [-0.11, -0.01]: worse on every resample
        (1.8, 0.1, "promote"),  # [0.15, 0.25]: clear of the margin
        (1.88, 0.1, "investigate"),  # [0.07, 0.17]: better, but not surely by the margin
    ],
)
def test_the_interval_of_the_improvement_decides(candidate, margin, verdict):
    decision = regression({"rmse": candidate, "r2": 0.9}, {"rmse": 2.0, "r2": 0.9}, margin=margin)
    assert decision.verdict == verdict, decision.reason
    assert decision.promote is (verdict == "promote")
    assert "vs champion (version 3) 2" in decision.reason and "95% interval [" in decision.reason
    if verdict == "investigate":
        assert "mlops promote" in decision.reason


def test_too_few_compared_rows_leave_it_to_a_person():
    decision = regression({"rmse": 1.0, "r2": 0.9}, {"rmse": 2.0, "r2": 0.9}, rows=20)
    assert decision.verdict == "investigate"
    assert "only 20 test rows to compare on, fewer than evaluation.min_test_rows 50" in decision.reason


def test_higher_is_better_primary_metric():
    common = {"primary_metric": "roc_auc", "thresholds": {}, "min_improvement": 0.01, "champion_version": "1"}

    def verdict(candidate):
        interval = around({"roc_auc": 0.9}, {"roc_auc": candidate}, "roc_auc", spread=0.005)
        decision = decide(
            "classification", {"roc_auc": candidate}, champion={"roc_auc": 0.9}, interval=interval, **common
        )
        return decision.verdict

    assert verdict(0.92) == "promote"
    assert verdict(0.912) == "investigate"
    assert verdict(0.8) == "reject"


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_metric_that_is_not_a_number_fails_the_gate_with_the_reason(value):
    first = regression({"rmse": 1.0, "r2": value}, thresholds={"r2": 0.5})
    assert not first.promote and first.reason.startswith(f"r2 is {value} on the test rows")
    beats_anything = regression({"rmse": value, "r2": 0.9}, {"rmse": 2.0, "r2": 0.9})
    assert not beats_anything.promote and "split.test_size" in beats_anything.reason
    against = regression({"rmse": 1.0, "r2": 0.9}, {"rmse": value, "r2": 0.9})
    assert against.verdict == "investigate"
    assert against.reason.startswith(f"the champion's (version 3) rmse is {value} on the compared test rows")


def test_a_one_row_test_split_is_rejected_with_a_nan_reason(isolated_state):
    from mlops.training.run import train_model

    outcome = train_model(
        "taxi-fare",
        ["data=generated", "data.n_rows=400", "estimator.n_estimators=5", "split.test_size=1"],
        echo=lambda _line: None,
    )
    assert not outcome.promoted and outcome.reason.startswith("r2 is nan on the test rows")


def sliced(status, candidate=3.5, champion=2.0, tolerance=1.0):
    """One judged slice of the compared rows, as mlops.evaluation.slices reports it."""
    interval = Interval(
        champion - candidate, champion - candidate - 0.2, champion - candidate + 0.2, 0.95, 1000, 80
    )
    return {
        "name": "long_trips",
        "query": "distance > 10",
        "rows": 80,
        "min_rows": 50,
        "tolerance": tolerance,
        "candidate": candidate,
        "champion": champion,
        "interval": interval.as_dict(),
        "gated": status in ("ok", "worse"),
        "status": status,
    }


def gated(slices=(), cost=None, bounds=None):
    champion, candidate = {"rmse": 2.0}, {"rmse": 1.5}  # clearly better overall
    return decide(
        "regression",
        candidate,
        primary_metric="rmse",
        thresholds={},
        min_improvement=0.0,
        champion=champion,
        champion_version="3",
        interval=around(champion, candidate),
        slices=slices,
        cost=cost,
        cost_bounds=bounds,
    )


def test_a_slice_worse_beyond_its_tolerance_rejects_a_better_candidate_naming_it():
    decision = gated([sliced("ok", 2.1), sliced("worse")])
    assert decision.verdict == "reject"
    assert (
        "on slice 'long_trips' (distance > 10, 80 rows): rmse 3.5 vs 2, improvement -1.5" in decision.reason
    )
    assert "beyond its tolerance 1" in decision.reason


@pytest.mark.parametrize("status", ["ok", "too few rows", "undefined", "no champion"])
def test_slices_that_are_not_worse_or_not_gated_leave_the_verdict_to_the_interval(status):
    assert gated([sliced(status)]).verdict == "promote"


FIGURES = {"latency_p50_ms": 10.0, "latency_p95_ms": 12.0, "rows_per_second": 50_000.0, "size_bytes": 2e6}


@pytest.mark.parametrize(
    ("bound", "candidate", "ratio"),
    [
        ("latency_p95", {"latency_p95_ms": 30.0}, "2.5x"),
        ("throughput", {"rows_per_second": 10_000.0}, "5x"),
        ("size", {"size_bytes": 4e6}, "2x"),
    ],
)
def test_a_cost_above_its_bound_rejects_naming_the_figures(bound, candidate, ratio):
    cost = {"candidate": FIGURES | candidate, "champion": FIGURES}
    decision = gated(cost=cost, bounds={bound: 1.5})
    assert decision.verdict == "reject"
    assert f"is {ratio} the champion's (version 3)" in decision.reason
    assert f"above evaluation.cost.{bound} 1.5x" in decision.reason


def test_a_cost_within_its_bound_a_null_bound_or_a_missing_figure_does_not_gate():
    cost = {"candidate": FIGURES | {"latency_p95_ms": 17.0}, "champion": FIGURES}
    assert gated(cost=cost, bounds={"latency_p95": 1.5}).promote
    assert gated(cost=cost, bounds={"latency_p95": None, "memory": 1.1}).promote  # no memory figure
    assert gated(cost={"candidate": FIGURES, "champion": None}, bounds={"size": 1.1}).promote
