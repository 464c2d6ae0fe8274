"""The noise thresholds of the drift distances (``mlops.monitoring.noise``): the draws reduced as
``mlops.monitoring.metrics`` reduces a window, seeded, per row-count bucket, at the window's quantile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from mlops.monitoring import baseline, compute, metrics, noise, signals
from mlops.monitoring.baseline import category_counts

DEFAULTS = Path(__file__).resolve().parents[1] / "mlops" / "conf" / "monitoring" / "default.yaml"


def training(rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Return training rows: a skewed float with ties (rounded), a normal float and a categorical code."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "skewed": np.round(rng.lognormal(0.0, 1.0, rows), 1),
            "normal": rng.normal(10.0, 2.0, rows),
            "code": rng.choice(["a", "b", "c", "d"], rows, p=[0.6, 0.25, 0.1, 0.05]),
        }
    )


def setup(frame: pd.DataFrame, quantile: float = 0.99, draws: int = 200):
    """Return the baseline, plan (every feature, Azure's thresholds, no predictions) and Noise."""
    settings = yaml.safe_load(DEFAULTS.read_text())
    settings["signals"]["data_drift"]["features"] = "all_features"
    settings["signals"]["data_quality"]["features"] = "all_features"
    settings["signals"]["prediction_drift"]["enabled"] = False
    base = baseline.from_frame(frame, list(frame.columns), rows=50_000, seed=0)
    plan = signals.plan(settings, base, "regression", with_ground_truth=False)
    return base, plan, noise.Noise(base, plan.types, quantile, draws)


def test_buckets_are_the_powers_of_root_two_at_or_below_the_rows_up_to_most_rows():
    expected = {
        0: 1,
        1: 1,
        2: 2,
        3: 2,
        4: 4,
        5: 4,
        6: 5,
        8: 8,
        11: 8,
        12: 11,
        90: 64,
        91: 90,
        127: 90,
        1000: 724,
    }
    assert {rows: noise.bucket(rows) for rows in expected} == expected
    for rows in range(1, noise.MOST_ROWS):
        assert (
            int(rows / 2**0.5) <= noise.bucket(rows) <= rows
        )  # at most a factor √2 fewer rows than the window
    assert noise.bucket(noise.MOST_ROWS) == noise.bucket(10_000) == noise.bucket(10**9) == noise.MOST_ROWS


@pytest.mark.parametrize("column", ["skewed", "normal"])
@pytest.mark.parametrize("rows", [2, 45, 90])
def test_numerical_draws_equal_the_metrics_of_the_same_drawn_sample(column, rows):
    base, _, noisy = setup(training())
    found = noisy.numerical(column, rows, np.random.default_rng(5))
    values = np.sort(base.sample[column].dropna().to_numpy(dtype=float))
    drawn = values[np.random.default_rng(5).integers(0, len(values), (noisy.draws, rows))]  # the same draws
    expected = {name: [] for name in noise.DISTANCES}
    for sample in drawn:
        window = metrics.Numerical(base.sample[column].dropna().to_numpy(dtype=float))
        window.add(sample)
        window.start_histogram()
        for name, value in window.drift()[0].items():
            if name in expected:
                expected[name].append(value)
    assert set(found) == set(noise.DISTANCES)
    for name in noise.DISTANCES:
        assert len(found[name]) == noisy.draws
        np.testing.assert_allclose(found[name], expected[name], rtol=1e-7, atol=1e-12, err_msg=name)


def test_categorical_draws_equal_the_metrics_of_the_same_drawn_counts():
    base, plan, noisy = setup(training())
    assert plan.types["code"] == metrics.CATEGORICAL
    found = noisy.categorical("code", 100, np.random.default_rng(9))
    counts = category_counts(base, "code")
    shares = np.array(list(counts.values()), dtype=float) / sum(counts.values())
    drawn = np.random.default_rng(9).multinomial(100, shares, size=noisy.draws)
    assert set(found) == {"jensen_shannon_distance", "population_stability_index"}
    for name, values in found.items():
        expected = []
        for sample in drawn:
            window = metrics.Categorical(counts)
            window.add(dict(zip(counts, sample.tolist(), strict=True)))
            expected.append(window.drift()[0][name])
        np.testing.assert_allclose(values, expected, rtol=1e-7, atol=1e-12, err_msg=name)


def test_thresholds_are_seeded_per_column_and_bucket_and_kept_once_drawn():
    frame = training()
    first, again = setup(frame)[2], setup(frame)[2]
    assert first.thresholds("normal", 100, 0.99) == again.thresholds(
        "normal", 100, 0.99
    )  # a new Noise, the same
    assert first.thresholds("normal", 100, 0.99) == first.thresholds("normal", 95, 0.99)  # one bucket: 90
    assert list(first.found) == [("normal", 90)]
    kept = first.found[("normal", 90)]
    first.thresholds("normal", 100, 0.9)
    assert first.found[("normal", 90)] is kept  # another quantile reads the same draws
    assert first.thresholds("normal", 100, 0.99) != first.thresholds("skewed", 100, 0.99)


def test_the_noise_shrinks_with_the_rows_and_grows_with_the_quantile():
    noisy = setup(training())[2]
    small, large = (noisy.thresholds("normal", rows, 0.99) for rows in (100, 10_000))
    assert all(large[name] < small[name] / 4 for name in noise.DISTANCES)  # about 1/√rows
    assert (
        noisy.thresholds("normal", 100, 0.999)["normalized_wasserstein_distance"]
        > small["normalized_wasserstein_distance"]
    )


def test_a_window_drawn_from_training_gets_the_window_quantile_shared_by_its_columns():
    frame = training()
    base, plan, noisy = setup(frame, quantile=0.99)
    window = training(rows=100, seed=1)
    result = compute.compute(plan, base, [window])[0]
    noisy.annotate(result.rows, result.histograms)
    drift = [
        row for row in result.rows if row["signal"] == signals.DATA_DRIFT and row["metric"] in noise.DISTANCES
    ]
    thresholded = [row for row in drift if row["threshold"] is not None]
    assert (
        len(thresholded) == 3
    )  # Azure thresholds Wasserstein (2 numerical) and Jensen-Shannon (1 categorical)
    share = 0.99 ** (1 / 3)
    for row in drift:
        expected = noisy.thresholds(row["feature"], 100, share)[row["metric"]]
        assert row["noise_threshold"] == expected
        assert row["effective_threshold"] == (
            None if row["threshold"] is None else max(row["threshold"], expected)
        )
    for row in result.rows:  # p-value tests and quality rates get no noise threshold
        assert ("noise_threshold" in row) == (row in drift)
    by_name = {(row["feature"], row["metric"]): row for row in drift}
    wasserstein = by_name[("skewed", "normalized_wasserstein_distance")]
    assert (
        wasserstein["noise_threshold"]
        > noisy.thresholds("skewed", 100, 0.99)["normalized_wasserstein_distance"]
    )
    assert (
        wasserstein["effective_threshold"] > wasserstein["threshold"] == 0.1
    )  # 100 rows: noise above Azure's


def test_a_shifted_column_is_beyond_its_noise_and_the_others_are_not():
    base, plan, noisy = setup(training())
    window = training(rows=100, seed=2)
    window["normal"] = window["normal"] * 4
    result = compute.compute(plan, base, [window])[0]
    noisy.annotate(result.rows, result.histograms)
    beyond = {
        row["feature"]
        for row in result.rows
        if row.get("effective_threshold") is not None and row["value"] > row["effective_threshold"]
    }
    assert beyond == {"normal"}
