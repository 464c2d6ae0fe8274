"""The monitor's plan from the models' composed ``monitoring`` config: signals, features, thresholds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops.core.errors import MlopsError
from mlops.models import catalog
from mlops.monitoring import baseline, signals

# the shared monitoring group every model composes: Azure's signals and thresholds
DEFAULTS = Path(__file__).resolve().parents[1] / "mlops" / "conf" / "monitoring" / "default.yaml"


@pytest.fixture
def defaults() -> dict:
    """The shared monitoring defaults as plain data, fresh for each test to change."""
    return yaml.safe_load(DEFAULTS.read_text())


@pytest.fixture(scope="module")
def profiled() -> baseline.Baseline:
    """A baseline of four features ranked d > b > a > c by importance, with predictions."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=200),
            "b": rng.integers(0, 1000, 200),
            "c": rng.choice(["x", "y"], 200),
            "d": rng.integers(0, 3, 200),
            "prediction": rng.normal(size=200),
        }
    )
    base = baseline.from_frame(frame, list(frame.columns), rows=100, seed=0)
    base.profile["feature_importance"] = {"a": 0.2, "b": 0.5, "c": 0.0, "d": 0.9}
    return base


def test_the_shared_defaults_are_azures(profiled):
    cfg = catalog.load_config("credit-default")
    plan = signals.plan(cfg.monitoring, profiled, cfg.task, with_ground_truth=False)
    assert set(plan.features) == {"data_drift", "prediction_drift", "data_quality"}
    assert plan.threshold("data_drift", "a", "normalized_wasserstein_distance") == 0.1
    assert plan.threshold("data_drift", "c", "jensen_shannon_distance") == 0.1
    assert plan.threshold("data_drift", "a", "jensen_shannon_distance") is None
    assert plan.threshold("data_quality", "d", "out_of_bounds_rate") == 0.0
    assert plan.types == {
        "a": "numerical",
        "b": "numerical",
        "c": "categorical",
        "d": "categorical",
        "prediction": "numerical",
    }


def test_a_model_config_overrides_types_and_thresholds(profiled):
    cfg = catalog.load_config("taxi-fare")
    assert cfg.monitoring.feature_type_override.pickup_minute == "numerical"
    assert cfg.monitoring.signals.data_quality.metric_thresholds.numerical.out_of_bounds_rate == 0.01
    assert cfg.monitoring.signals.data_quality.metric_thresholds.numerical.null_value_rate == 0.0


@pytest.mark.parametrize(
    ("features", "expected"),
    [
        ("all_features", ["a", "b", "c", "d"]),
        ("top_n_feature_importance", ["d", "b"]),
        (["c", "a"], ["c", "a"]),
    ],
)
def test_features_all_listed_or_most_important(profiled, defaults, features, expected):
    settings = defaults
    settings["signals"]["data_drift"] |= {"features": features, "top_n_feature_importance": 2}
    plan = signals.plan(settings, profiled, "regression", with_ground_truth=False)
    assert plan.features["data_drift"] == expected
    assert plan.features["prediction_drift"] == ["prediction"]


def test_feature_thresholds_and_type_overrides(profiled, defaults):
    settings = defaults
    settings["feature_type_override"] = {"d": "numerical", "b": "categorical"}
    settings["signals"]["data_drift"]["feature_thresholds"] = {
        "a": {"two_sample_kolmogorov_smirnov_test": 0.01}
    }
    plan = signals.plan(settings, profiled, "regression", with_ground_truth=True)
    assert (plan.types["d"], plan.types["b"]) == ("numerical", "categorical")
    assert plan.threshold("data_drift", "a", "two_sample_kolmogorov_smirnov_test") == 0.01
    assert plan.threshold("data_drift", "a", "normalized_wasserstein_distance") == 0.1
    assert "model_performance" in plan.features


def test_performance_thresholds_default_to_the_test_metrics_with_tolerance():
    settings = {"tolerance": 0.1, "metric_thresholds": {"mae": 3.0}}
    thresholds = signals.performance_thresholds(settings, "regression", {"rmse": 2.0, "mae": 1.0})
    assert thresholds == pytest.approx({"mae": 3.0, "mse": 4.4, "rmse": 2.2})
    tested = {"accuracy": 0.9, "precision": 0.8}
    thresholds = signals.performance_thresholds({"tolerance": 0.1}, "classification", tested)
    assert thresholds == pytest.approx({"accuracy": 0.81, "precision": 0.72, "recall": None})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signals": {"drift": {}}}, "monitoring.signals.drift is not a signal"),
        (
            {"feature_type_override": {"zz": "numerical"}},
            "feature_type_override.zz: the model has no such column",
        ),
        ({"feature_type_override": {"c": "numerical"}}, "a non-numeric column cannot be numerical"),
        (
            {
                "signals": {
                    "data_drift": {"features": "top_n_feature_importance", "top_n_feature_importance": 0}
                }
            },
            "data_drift.top_n_feature_importance must be a positive integer, not 0",
        ),
        ({"signals": {"data_drift": {"features": "some"}}}, "features is 'some'; use all_features"),
        (
            {"signals": {"data_quality": {"metric_thresholds": {"numerical": {"null_value_rate": "low"}}}}},
            "numerical.null_value_rate must be a number, not 'low'",
        ),
        (
            {"signals": {"data_drift": {"metric_thresholds": {"text": {}}}}},
            "metric_thresholds.text is unknown",
        ),
        (
            {"signals": {name: {"enabled": False} for name in signals.SIGNALS}},
            "every signal in monitoring.signals",
        ),
    ],
)
def test_mistakes_name_the_key(profiled, change, message):
    with pytest.raises(MlopsError, match=message):
        signals.plan(change, profiled, "regression", with_ground_truth=False)
