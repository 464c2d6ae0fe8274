"""The sampling noise of the drift distances: how far a window of n rows drawn from the baseline itself
lands from the baseline. A small window is far from its distribution by chance alone (100 taxi trips
reach a normalized Wasserstein distance of 0.4 on a pickup longitude with a few far-out trips), so a
raw breach of a distance counts toward an alert only when the window's value is beyond the
``quantile`` of that distance over ``draws`` seeded samples of the window's row count drawn from the
version's baseline rows. The draws are reduced exactly as ``mlops.monitoring.metrics`` reduces a
window (the same bins, the same formulas) and computed once per column and row-count bucket: the
largest power of √2 at or below the row count, a noise threshold at most 19% above the exact one."""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.monitoring import metrics

if TYPE_CHECKING:
    from mlops.monitoring.baseline import Baseline

# the distances a noise threshold is drawn for (one draw gives all three)
DISTANCES = ("jensen_shannon_distance", "normalized_wasserstein_distance", "population_stability_index")
DRAWS_AT_ONCE = 100  # draws held in memory at a time (draws x distinct baseline values floats)


def bucket(rows: int) -> int:
    """Return the row-count bucket of a window of ``rows`` rows: the largest power of √2 at or below it,
    rounded down (1, 2, 4, 5, 8, 11, 16, 22, 32, 45, 64, 90, 128, ...)."""
    return max(1, int(2 ** (math.floor(2 * math.log2(max(rows, 1)) + 1e-9) / 2)))


class Noise:
    """The noise thresholds of one baseline: per column and row-count bucket, the ``quantile`` of each
    distance over ``draws`` samples drawn (with replacement, seeded by column and bucket) from the
    baseline's values of the column, kept once computed."""

    def __init__(self, baseline: Baseline, types: dict[str, str], quantile: float, draws: int):
        self.baseline = baseline
        self.types = types
        self.quantile = quantile
        self.draws = draws
        self.found: dict[tuple[str, int], dict[str, float]] = {}

    def thresholds(self, column: str, rows: int) -> dict[str, float]:
        """Return each distance's noise threshold for a window of ``rows`` values of ``column``."""
        key = (column, bucket(rows))
        if key not in self.found:
            rng = np.random.default_rng([zlib.crc32(column.encode()), key[1]])
            draw = self.categorical if self.types[column] == metrics.CATEGORICAL else self.numerical
            values = draw(column, key[1], rng)
            self.found[key] = {
                metric: float(np.quantile(found, self.quantile)) for metric, found in values.items()
            }
        return self.found[key]

    def numerical(self, column: str, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Return every draw's three distances for a numerical column: each draw is a count of the
        ``rows`` drawn values at every distinct baseline value, which gives its CDF (the Wasserstein
        distance is the area between the two CDFs) and its histogram on the window's bins."""
        values = np.sort(self.baseline.sample[column].dropna().to_numpy(dtype=float))
        points, counts = np.unique(values, return_counts=True)
        base_cdf = np.cumsum(counts) / len(values)
        scale = max(float(np.std(values, ddof=1)) if len(values) > 1 else 0.0, metrics.MIN_STD)
        edges = metrics.bin_edges(points[0], points[-1], metrics.bin_count(len(values), rows))
        base_counts = metrics.histogram(values, edges).astype(float)
        bins = len(edges) - 1
        bin_of = np.minimum(np.searchsorted(edges, points, side="right") - 1, bins - 1)
        ends = np.searchsorted(bin_of, np.arange(bins), side="right")  # distinct values in bins up to each
        found: dict[str, list[np.ndarray]] = {metric: [] for metric in DISTANCES}
        for start in range(0, self.draws, DRAWS_AT_ONCE):
            drawn = rng.multinomial(rows, counts / len(values), size=min(DRAWS_AT_ONCE, self.draws - start))
            cdf = np.cumsum(drawn, axis=1)
            area = np.abs(base_cdf[:-1] - cdf[:, :-1] / rows) @ np.diff(points)
            below = np.concatenate([np.zeros((len(drawn), 1)), cdf], axis=1)[:, ends]
            histograms = np.diff(below, axis=1, prepend=0.0)
            found["normalized_wasserstein_distance"].append(area / scale)
            found["jensen_shannon_distance"].append(metrics.jensen_shannon_distance(base_counts, histograms))
            found["population_stability_index"].append(
                metrics.population_stability_index(base_counts, histograms)
            )
        return {metric: np.concatenate(parts) for metric, parts in found.items()}

    def categorical(self, column: str, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Return every draw's two distances for a categorical column: each draw counts ``rows`` labels
        drawn with the training shares of its categories."""
        from mlops.monitoring.baseline import category_counts

        counts = np.array(list(category_counts(self.baseline, column).values()), dtype=float)
        drawn = rng.multinomial(rows, counts / counts.sum(), size=self.draws).astype(float)
        return {
            "jensen_shannon_distance": metrics.jensen_shannon_distance(counts, drawn),
            "population_stability_index": metrics.population_stability_index(counts, drawn),
        }

    def annotate(self, rows: list[dict[str, Any]], histograms: dict[str, metrics.Histogram]) -> None:
        """Add to each drift distance row of a window its ``noise_threshold`` (for as many values as
        the column's histogram of the window counts) and its ``effective_threshold``, the larger of
        Azure's threshold and the noise one (None without a threshold)."""
        from mlops.monitoring import signals

        counts = {column: int(sum(histogram.production)) for column, histogram in histograms.items()}

        for row in rows:
            drift = row["signal"] in (signals.DATA_DRIFT, signals.PREDICTION_DRIFT)
            if not drift or row["metric"] not in DISTANCES or not counts.get(row["feature"]):
                continue
            noise = self.thresholds(row["feature"], counts[row["feature"]]).get(row["metric"])
            if noise is None:
                continue
            row["noise_threshold"] = noise
            row["effective_threshold"] = None if row["threshold"] is None else max(row["threshold"], noise)
