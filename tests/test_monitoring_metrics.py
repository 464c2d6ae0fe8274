"""Drift and quality metrics against reference computations written directly with scipy and numpy."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats
from scipy.spatial.distance import jensenshannon

from mlops.monitoring import baseline, compute, metrics, signals

# the shared monitoring group every model composes: Azure's signals and thresholds
DEFAULTS = Path(__file__).resolve().parents[1] / "mlops" / "conf" / "monitoring" / "default.yaml"


def every_feature() -> dict:
    """Return the shared defaults (Azure's thresholds) with every feature monitored and no predictions."""
    settings = yaml.safe_load(DEFAULTS.read_text())
    for signal in ("data_drift", "data_quality"):
        settings["signals"][signal]["features"] = "all_features"
    settings["signals"]["prediction_drift"]["enabled"] = False
    return settings


SETTINGS = every_feature()


def reference_numerical(base: np.ndarray, prod: np.ndarray) -> dict[str, float]:
    """Azure's numerical drift metrics, computed the plain way on whole arrays."""
    bins = math.ceil(math.log2(min(len(base), len(prod))) + 1)
    low, high = min(base.min(), prod.min()), max(base.max(), prod.max())
    edges = np.linspace(low, high, bins + 1) if low < high else np.array([low - 0.005, high + 0.005])
    p, q = np.histogram(base, edges)[0], np.histogram(prod, edges)[0]
    p_share, q_share = (p + 1) / (p.sum() + len(p)), (q + 1) / (q.sum() + len(q))
    return {
        "jensen_shannon_distance": jensenshannon(p, q, base=2),
        "normalized_wasserstein_distance": stats.wasserstein_distance(base, prod)
        / max(np.std(base, ddof=1), 0.001),
        "population_stability_index": np.sum((q_share - p_share) * np.log(q_share / p_share)),
        "two_sample_kolmogorov_smirnov_test": stats.ks_2samp(base, prod).pvalue,
    }


def reference_categorical(base: list[str], prod: list[str]) -> dict[str, float]:
    """Azure's categorical drift metrics over the union of categories."""
    union = sorted(set(base) | set(prod))
    p = np.array([base.count(label) for label in union], dtype=float)
    q = np.array([prod.count(label) for label in union], dtype=float)
    p_share, q_share = (p + 1) / (p.sum() + len(p)), (q + 1) / (q.sum() + len(q))
    expected = p / p.sum() * q.sum()
    return {
        "jensen_shannon_distance": jensenshannon(p, q, base=2),
        "population_stability_index": np.sum((q_share - p_share) * np.log(q_share / p_share)),
        "pearsons_chi_squared_test": stats.chisquare(q, expected).pvalue if (expected > 0).all() else 0.0,
    }


def streamed(base: np.ndarray, prod: np.ndarray, chunk: int = 65_536) -> dict[str, float]:
    """Feed production values in chunks, as the monitor does, and return the drift metrics."""
    column = metrics.Numerical(base)
    for start in range(0, len(prod), chunk):
        column.add(prod[start : start + chunk])
    column.start_histogram()
    if column.needs_second_pass:
        for start in range(0, len(prod), chunk):
            column.add_to_histogram(prod[start : start + chunk])
    return column.drift()[0]


def monitor(train: pd.DataFrame, production: pd.DataFrame, chunk: int = 1000) -> compute.Result:
    """Run every drift and quality metric of ``production`` against ``train`` in chunks."""
    base = baseline.from_frame(train, list(train.columns), rows=50_000, seed=0)
    plan = signals.plan(SETTINGS, base, "regression", with_ground_truth=False)
    chunks = (production.iloc[start : start + chunk] for start in range(0, len(production), chunk))
    return compute.compute(plan, base, chunks)[0]


def value(result: compute.Result, feature: str, metric: str) -> float | None:
    """Return one metric's value from a result."""
    (found,) = [row["value"] for row in result.rows if row["feature"] == feature and row["metric"] == metric]
    return found


@pytest.mark.parametrize(("baseline_rows", "production_rows", "shift"), [(5000, 2000, 0.0), (800, 3000, 0.7)])
def test_small_windows_match_scipy_exactly(baseline_rows, production_rows, shift):
    rng = np.random.default_rng(1)
    base, prod = rng.normal(0, 1, baseline_rows), rng.normal(shift, 1.3, production_rows)
    got, expected = streamed(base, prod), reference_numerical(base, prod)
    for metric in expected:
        assert got[metric] == pytest.approx(expected[metric], rel=1e-9, abs=1e-12), metric


def test_a_million_rows_stream_to_scipy_results():
    rng = np.random.default_rng(2)
    base = rng.lognormal(0, 0.6, 16_000).round(3)
    prod = rng.lognormal(0.05, 0.6, 1_000_000).round(2)
    got, expected = streamed(base, prod), reference_numerical(base, prod)
    assert got["jensen_shannon_distance"] == pytest.approx(expected["jensen_shannon_distance"], rel=1e-9)
    assert got["population_stability_index"] == pytest.approx(
        expected["population_stability_index"], rel=1e-9
    )
    assert got["two_sample_kolmogorov_smirnov_test"] == pytest.approx(
        expected["two_sample_kolmogorov_smirnov_test"], rel=1e-6, abs=1e-300
    )
    assert got["normalized_wasserstein_distance"] == pytest.approx(
        expected["normalized_wasserstein_distance"], rel=5e-3
    )


def test_identical_data_shows_no_drift():
    rng = np.random.default_rng(3)
    train = pd.DataFrame({"x": rng.normal(size=2000), "code": rng.choice(["a", "b", "c"], 2000)})
    result = monitor(train, train.copy())
    assert value(result, "x", "normalized_wasserstein_distance") == 0.0
    assert value(result, "x", "jensen_shannon_distance") == 0.0
    assert value(result, "x", "two_sample_kolmogorov_smirnov_test") == 1.0
    assert value(result, "code", "pearsons_chi_squared_test") == 1.0
    assert value(result, "code", "jensen_shannon_distance") == 0.0
    assert not result.breaches


def test_a_shifted_mean_drifts_in_exactly_that_feature():
    rng = np.random.default_rng(4)
    columns = {name: rng.normal(10, 2, 4000) for name in ("a", "b", "c")}
    train = pd.DataFrame(columns)
    production = pd.DataFrame({name: rng.normal(10, 2, 3000) for name in ("a", "b", "c")})
    production["b"] += 1.5
    result = monitor(train, production)
    assert result.breaches["data_drift"] == ["b"]
    expected = reference_numerical(train["b"].to_numpy(), production["b"].to_numpy())
    for metric, reference in expected.items():
        assert value(result, "b", metric) == pytest.approx(reference, rel=1e-9, abs=1e-300)


def test_a_new_category_is_categorical_drift_and_out_of_bounds():
    rng = np.random.default_rng(5)
    train = pd.DataFrame({"colour": rng.choice(["red", "green", "blue"], 3000)})
    production = pd.DataFrame({"colour": rng.choice(["red", "green", "blue", "violet"], 2000)})
    result = monitor(train, production)
    expected = reference_categorical(train["colour"].tolist(), production["colour"].tolist())
    for metric, reference in expected.items():
        assert value(result, "colour", metric) == pytest.approx(reference, rel=1e-9)
    assert value(result, "colour", "pearsons_chi_squared_test") == 0.0
    share = (production["colour"] == "violet").mean()
    assert value(result, "colour", "out_of_bounds_rate") == pytest.approx(share)
    assert result.breaches["data_drift"] == ["colour"]


def test_a_constant_integer_column_does_not_crash():
    train = pd.DataFrame({"flag": np.full(5000, 7), "level": np.full(5000, 2.5)})
    same = monitor(train, train.head(100))
    assert value(same, "flag", "jensen_shannon_distance") == 0.0
    assert value(same, "level", "normalized_wasserstein_distance") == 0.0
    assert not same.breaches
    moved = monitor(train, pd.DataFrame({"flag": np.full(50, 8), "level": np.full(50, 3.5)}))
    assert value(moved, "flag", "pearsons_chi_squared_test") == 0.0
    assert value(moved, "level", "normalized_wasserstein_distance") == pytest.approx(1.0 / metrics.MIN_STD)
    assert set(moved.breaches["data_drift"]) == {"flag", "level"}


def test_an_all_null_production_column_is_a_quality_breach_without_drift():
    rng = np.random.default_rng(6)
    train = pd.DataFrame({"x": rng.normal(size=500), "y": rng.normal(size=500)})
    production = pd.DataFrame({"x": [None] * 40, "y": train["y"].head(40)})
    result = monitor(train, production)
    assert value(result, "x", "null_value_rate") == 1.0
    assert not [row for row in result.rows if row["feature"] == "x" and row["signal"] == "data_drift"]
    assert any("'x' has no non-null production values" in note for note in result.notes)
    assert result.breaches["data_quality"] == ["x"]


def test_an_all_null_training_column_skips_its_drift():
    train = pd.DataFrame({"x": [np.nan] * 100, "y": np.arange(100.0)})
    result = monitor(train, pd.DataFrame({"x": [1.0, 2.0], "y": [3.0, 4.0]}))
    assert any("'x' has no non-null training values" in note for note in result.notes)
    assert value(result, "y", "normalized_wasserstein_distance") is not None


@pytest.mark.parametrize("rows", [1, 2, 3])
def test_tiny_production_samples(rows):
    rng = np.random.default_rng(7)
    train = pd.DataFrame({"x": rng.normal(size=300), "code": rng.choice(["a", "b"], 300)})
    production = train.head(rows)
    result = monitor(train, production)
    expected = reference_numerical(train["x"].to_numpy(), production["x"].to_numpy())
    for metric, reference in expected.items():
        assert value(result, "x", metric) == pytest.approx(reference, rel=1e-9), metric


def test_type_errors_and_bounds_are_counted_per_value():
    train = pd.DataFrame({"x": np.arange(100.0), "n": np.arange(100)})
    production = pd.DataFrame(
        {"x": [5.0, "abc", None, 250.0, True], "n": [1, 2.5, "7", -3, None]}, dtype=object
    )
    result = monitor(train, production)
    assert value(result, "x", "null_value_rate") == pytest.approx(1 / 5)
    assert value(result, "x", "data_type_error_rate") == pytest.approx(2 / 4)
    assert value(result, "x", "out_of_bounds_rate") == pytest.approx(1 / 2)
    assert value(result, "n", "data_type_error_rate") == pytest.approx(1 / 4)
    assert value(result, "n", "out_of_bounds_rate") == pytest.approx(1 / 3)


def test_azure_typing_rule():
    assert metrics.column_type("float", 0.0) == "numerical"
    assert metrics.column_type("integer", 0.049) == "categorical"
    assert metrics.column_type("integer", 0.05) == "numerical"
    assert metrics.column_type("string", 1.0) == "categorical"
    assert metrics.column_type("boolean", 0.5) == "categorical"


@pytest.mark.parametrize(
    ("metric", "value_", "threshold", "expected"),
    [
        ("normalized_wasserstein_distance", 0.2, 0.1, True),
        ("normalized_wasserstein_distance", 0.1, 0.1, False),
        ("two_sample_kolmogorov_smirnov_test", 0.01, 0.05, True),
        ("pearsons_chi_squared_test", 0.5, 0.05, False),
        ("accuracy", 0.7, 0.8, True),
        ("rmse", 2.0, None, False),
        ("null_value_rate", float("nan"), 0.0, False),
    ],
)
def test_breach_direction(metric, value_, threshold, expected):
    assert metrics.breached(metric, value_, threshold) is expected


def test_performance_metrics():
    regression = metrics.performance("regression", [1.0, 2.0, 4.0], [1.0, 3.0, 2.0])
    assert regression == pytest.approx({"mae": 1.0, "mse": 5 / 3, "rmse": math.sqrt(5 / 3)})
    labels = metrics.performance("classification", [0, 1, 1, 1], [0.0, 1, 0, 1])
    assert labels == pytest.approx({"accuracy": 0.75, "precision": 1.0, "recall": 2 / 3})
