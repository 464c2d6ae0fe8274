"""The sampling noise of the drift distances: how far a window of n rows drawn from the baseline itself
lands from the baseline. A small window is far from its distribution by chance alone (100 taxi trips
reach a normalized Wasserstein distance of 0.27 on pickup_longitude in 1 of 100 samples of the
training rows), so a raw breach of a distance counts toward an alert only when the window's value is
beyond its noise threshold: the quantile of that distance over ``draws`` seeded samples of the
window's row count drawn (with replacement) from the version's baseline rows. The quantile is the
window's: with m thresholded distances in a window, each column's is ``quantile ** (1 / m)``, so a
window drawn like the baseline counts a breach in at most ``1 - quantile`` of windows whatever the
number of features. The draws are reduced exactly as ``mlops.monitoring.metrics`` reduces a window
(the same bins and formulas) and drawn once per column and row-count bucket, the largest power of √2
at or below the row count (a threshold at most 19% above the exact one); from ``MOST_ROWS`` rows on,
the noise of ``MOST_ROWS`` rows stands in (larger, so it never counts a breach the exact one would
not; it is already below Azure's default thresholds there)."""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.monitoring import metrics

if TYPE_CHECKING:
    from mlops.monitoring.baseline import Baseline
    from mlops.monitoring.summary import MetricRow

# the distances a noise threshold is drawn for (one draw gives all three)
DISTANCES = ("jensen_shannon_distance", "normalized_wasserstein_distance", "population_stability_index")
DRAWS_AT_ONCE = 100  # draws held in memory at a time (draws x rows floats)
MOST_ROWS = 4096  # the largest row-count bucket drawn: a draw costs its rows


def bucket(rows: int) -> int:
    """Return the row-count bucket of a window of ``rows`` rows: the largest power of √2 at or below it,
    rounded down (1, 2, 4, 5, 8, 11, 16, 22, 32, 45, 64, 90, 128, ...), at most ``MOST_ROWS``."""
    return min(MOST_ROWS, max(1, int(2 ** (math.floor(2 * math.log2(max(rows, 1)) + 1e-9) / 2))))


class Noise:
    """The noise thresholds of one baseline: per column and row-count bucket, each distance over
    ``draws`` samples drawn (with replacement, seeded by column and bucket) from the baseline's values
    of the column, kept once drawn; a window's thresholds are their ``quantile`` (see the module)."""

    def __init__(self, baseline: Baseline, types: dict[str, str], quantile: float, draws: int):
        self.baseline = baseline
        self.types = types
        self.quantile = quantile
        self.draws = draws
        self.found: dict[tuple[str, int], dict[str, np.ndarray]] = {}

    def thresholds(self, column: str, rows: int, quantile: float) -> dict[str, float]:
        """Return each distance's ``quantile`` over the draws for a window of ``rows`` values of
        ``column``."""
        key = (column, bucket(rows))
        if key not in self.found:
            rng = np.random.default_rng([zlib.crc32(column.encode()), key[1]])
            draw = self.categorical if self.types[column] == metrics.CATEGORICAL else self.numerical
            self.found[key] = draw(column, key[1], rng)
        return {metric: float(np.quantile(drawn, quantile)) for metric, drawn in self.found[key].items()}

    def numerical(self, column: str, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Return every draw's three distances for a numerical column. A draw is ``rows`` sorted
        values of the baseline; between two drawn values its CDF is flat at k / rows, and the area
        between it and the baseline's CDF (the Wasserstein distance) comes from the integral of the
        baseline's CDF, split where it crosses k / rows, from prefix sums of the baseline. Drawn as
        sorted positions in the sorted baseline, a draw finds its values' places by lookup."""
        values = self.baseline.view[column].dropna().to_numpy(dtype=float)
        values = np.sort(values - values.mean())  # centred: the prefix sums keep their precision
        size = len(values)
        prefix = np.concatenate(([0.0], np.cumsum(values)))
        below = np.searchsorted(values, values, side="right")  # baseline values at or below each

        # the baseline CDF's integral to x: an array for arrays, a number for a number
        def area_below(x: np.ndarray | float, count: np.ndarray | int) -> Any:
            return (x * count - prefix[count]) / size

        scale = max(float(np.std(values, ddof=1)) if size > 1 else 0.0, metrics.MIN_STD)
        edges = metrics.bin_edges(values[0], values[-1], metrics.bin_count(size, rows))
        base_counts = metrics.histogram(values, edges).astype(float)
        bins = len(edges) - 1
        bin_of = np.minimum(np.searchsorted(edges, values, side="right") - 1, bins - 1)
        level = np.arange(1, rows) / rows  # the draw's CDF between its k-th and (k+1)-th value
        crossed = -(-np.arange(1, rows) * size // rows) - 1  # where the baseline's CDF reaches it
        crossing, crossing_below = values[crossed], below[crossed]
        top = values[-1] - area_below(values[-1], size)  # beyond the draw's last value, 1 - the baseline CDF
        found: dict[str, list[np.ndarray]] = {metric: [] for metric in DISTANCES}
        for start in range(0, self.draws, DRAWS_AT_ONCE):
            count = min(DRAWS_AT_ONCE, self.draws - start)
            at = np.sort(rng.integers(0, size, (count, rows)), axis=1)
            drawn, drawn_below = values[at], below[at]
            low, high = drawn[:, :-1], drawn[:, 1:]
            middle = np.clip(crossing, low, high)
            middle_below = np.where(
                crossing < low,
                drawn_below[:, :-1],
                np.where(crossing > high, drawn_below[:, 1:], crossing_below),
            )
            areas, at_middle = area_below(drawn, drawn_below), area_below(middle, middle_below)
            inner = level * (2 * middle - low - high) + areas[:, 1:] + areas[:, :-1] - 2 * at_middle
            outer = areas[:, 0] + top - (drawn[:, -1] - areas[:, -1])
            found["normalized_wasserstein_distance"].append((inner.sum(axis=1) + outer) / scale)
            offsets = (bin_of[at] + bins * np.arange(count)[:, None]).ravel()
            histograms = np.bincount(offsets, minlength=count * bins).reshape(count, bins).astype(float)
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

    def annotate(self, rows: list[MetricRow], histograms: dict[str, metrics.Histogram]) -> None:
        """Add to each drift distance row of a window its ``noise_threshold`` (for as many values as
        the column's histogram of the window counts, at the column's share of the quantile) and its
        ``effective_threshold``, the larger of Azure's threshold and the noise one (None without a
        threshold)."""
        from mlops.monitoring import signals

        counts = {column: int(sum(histogram.production)) for column, histogram in histograms.items()}
        drift = [
            row
            for row in rows
            if row["signal"] in (signals.DATA_DRIFT, signals.PREDICTION_DRIFT)
            and row["metric"] in DISTANCES
            and counts.get(row["feature"])
        ]
        tested = sum(row["threshold"] is not None for row in drift)
        quantile = self.quantile ** (1 / max(tested, 1))  # each column's share of the window's quantile
        for row in drift:
            noise = self.thresholds(row["feature"], counts[row["feature"]], quantile).get(row["metric"])
            if noise is None:
                continue
            row["noise_threshold"] = noise
            row["effective_threshold"] = None if row["threshold"] is None else max(row["threshold"], noise)
