"""Drift and data-quality metrics computed as Azure ML model monitoring computes them, streamed.

Production values arrive in chunks and are reduced to statistics whose size depends on the baseline
only: counts and sums between the baseline's distinct values (enough for the exact two-sample
Kolmogorov-Smirnov statistic and the Wasserstein distance), a histogram, category counts. Up to
``EXACT_LIMIT`` production values are also kept so that small windows get scipy's own results.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

NUMERICAL = "numerical"
CATEGORICAL = "categorical"
# below this share of distinct values in the baseline, an integer column is categorical (Azure's rule)
CATEGORICAL_DISTINCT_RATIO = 0.05
# up to this many production values, Wasserstein and KS come from scipy on the values themselves
# (the same limit below which scipy's ks_2samp computes an exact p-value)
EXACT_LIMIT = 10_000
# the smallest baseline standard deviation the Wasserstein distance is divided by
MIN_STD = 0.001

DRIFT_METRICS = {
    NUMERICAL: (
        "jensen_shannon_distance",
        "normalized_wasserstein_distance",
        "population_stability_index",
        "two_sample_kolmogorov_smirnov_test",
    ),
    CATEGORICAL: ("jensen_shannon_distance", "population_stability_index", "pearsons_chi_squared_test"),
}
QUALITY_METRICS = ("null_value_rate", "data_type_error_rate", "out_of_bounds_rate")
# metrics where a breach is a value below the threshold; for every other metric it is a value above
LOWER_IS_BREACH = frozenset(
    {
        "two_sample_kolmogorov_smirnov_test",
        "pearsons_chi_squared_test",
        "normalized_discounted_cumulative_gain",
        "accuracy",
        "precision",
        "recall",
        "f1",
        "roc_auc",
    }
)


def breached(metric: str, value: float | None, threshold: float | None) -> bool:
    """Return whether ``value`` breaks ``threshold`` in the metric's bad direction."""
    if value is None or threshold is None or math.isnan(value):
        return False
    return value < threshold if metric in LOWER_IS_BREACH else value > threshold


def column_type(dtype: str, distinct_ratio: float) -> str:
    """Return Azure's type of a column: strings, booleans and dates are categorical, floats
    numerical, integers categorical when their baseline distinct-value ratio is below 0.05."""
    if dtype == "float":
        return NUMERICAL
    if dtype == "integer":
        return CATEGORICAL if distinct_ratio < CATEGORICAL_DISTINCT_RATIO else NUMERICAL
    return CATEGORICAL


def bin_count(baseline_rows: int, production_rows: int) -> int:
    """Return Azure's number of equal-width histogram bins: ceil(log2(min(n1, n2)) + 1)."""
    return max(1, math.ceil(math.log2(max(1, min(baseline_rows, production_rows))) + 1))


def bin_edges(low: float, high: float, bins: int) -> np.ndarray:
    """Return equal-width edges over [low, high]; a constant column gets one bin of ±0.5%."""
    if low == high:
        half = abs(low) * 0.005 or 0.005
        return np.array([low - half, high + half])
    return np.linspace(low, high, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Count values into equal-width bins (the last one closed), as np.histogram does with ``edges``."""
    counts: np.ndarray = np.histogram(values, bins=len(edges) - 1, range=(edges[0], edges[-1]))[0]
    return counts


def jensen_shannon_distance(baseline_counts: np.ndarray, production_counts: np.ndarray) -> np.ndarray:
    """Return the base-2 Jensen-Shannon distance between two count vectors (scipy's definition); with
    one production count vector per row (draws x bins), one distance per row."""
    from scipy.spatial.distance import jensenshannon

    distance: np.ndarray = np.maximum(0.0, jensenshannon(baseline_counts, production_counts, base=2, axis=-1))
    return distance


def population_stability_index(baseline_counts: np.ndarray, production_counts: np.ndarray) -> np.ndarray:
    """Return PSI with Laplace smoothing: shares (count + 1) / (n + bins), then sum((q - p) ln(q / p));
    with one production count vector per row (draws x bins), one index per row."""
    bins = len(baseline_counts)
    p = (baseline_counts + 1) / (baseline_counts.sum() + bins)
    q = (production_counts + 1) / (production_counts.sum(axis=-1, keepdims=True) + bins)
    index: np.ndarray = np.sum((q - p) * np.log(q / p), axis=-1)
    return index


def chi_squared_p_value(baseline_counts: np.ndarray, production_counts: np.ndarray) -> float:
    """Return the p-value of scipy's chisquare of production counts against baseline shares; a
    category the baseline never saw makes it 0."""
    from scipy.stats import chisquare

    expected = baseline_counts / baseline_counts.sum() * production_counts.sum()
    if np.any((expected == 0) & (production_counts > 0)):
        return 0.0
    seen = expected > 0
    if seen.sum() < 2:
        return 1.0
    return float(chisquare(production_counts[seen], expected[seen]).pvalue)


@dataclass
class Histogram:
    """What the report plots for one column: bins (edges or categories) and both count vectors."""

    kind: str
    bins: list[Any]
    baseline: list[int]
    production: list[int]


class Numerical:
    """Production values of one numerical column, reduced against a baseline sample."""

    def __init__(self, baseline: np.ndarray):
        self.baseline = np.sort(np.asarray(baseline, dtype=np.float64))
        self.points, counts = np.unique(self.baseline, return_counts=True)
        self.baseline_cdf = np.cumsum(counts) / max(1, len(self.baseline))
        size = len(self.points)
        self.at = np.zeros(size)  # production values equal to each baseline point
        self.inside = np.zeros(size + 1)  # values strictly between points; [0] below, [-1] above
        self.sums = np.zeros(size + 1)
        self.count = 0
        self.low = math.inf
        self.high = -math.inf
        self.kept: list[np.ndarray] | None = []
        self.edges: np.ndarray | None = None
        self.counts: np.ndarray | None = None

    def add(self, values: np.ndarray) -> None:
        """Add a chunk of non-null production values."""
        if not len(values):
            return
        values = np.sort(values)  # a sorted chunk finds its places among the baseline points faster
        self.count += len(values)
        self.low = min(self.low, float(values[0]))
        self.high = max(self.high, float(values[-1]))
        if self.kept is not None:
            self.kept.append(values)
            if self.count > EXACT_LIMIT:
                self.kept = None
        if not len(self.points):
            return
        index = np.searchsorted(self.points, values)
        clipped = np.minimum(index, len(self.points) - 1)
        equal = self.points[clipped] == values
        self.at += np.bincount(index[equal], minlength=len(self.at))
        self.inside += np.bincount(index[~equal], minlength=len(self.inside))
        self.sums += np.bincount(index[~equal], weights=values[~equal], minlength=len(self.sums))

    @property
    def needs_second_pass(self) -> bool:
        """Whether the histogram needs the production values again (too many were seen to keep)."""
        return self.kept is None and self.count > 0 and len(self.baseline) > 0

    def start_histogram(self) -> None:
        """Fix the bins over the combined range; count what was kept, else wait for ``add_to_histogram``."""
        low = min(self.low, float(self.baseline[0]))
        high = max(self.high, float(self.baseline[-1]))
        self.edges = bin_edges(low, high, bin_count(len(self.baseline), self.count))
        self.counts = np.zeros(len(self.edges) - 1)
        if self.kept is not None:
            self.add_to_histogram(self.values())

    def add_to_histogram(self, values: np.ndarray) -> None:
        """Count a chunk of production values (the same ones ``add`` saw) into the histogram."""
        assert self.edges is not None and self.counts is not None  # set by start_histogram
        self.counts += histogram(values, self.edges)

    def values(self) -> np.ndarray:
        """Return the kept production values."""
        return np.concatenate(self.kept) if self.kept else np.empty(0)

    def drift(self) -> tuple[dict[str, float], Histogram]:
        """Return the four numerical drift metrics and the histograms they were computed on."""
        from scipy import stats

        assert self.edges is not None and self.counts is not None  # set by start_histogram
        baseline_counts = histogram(self.baseline, self.edges).astype(float)
        std = float(np.std(self.baseline, ddof=1)) if len(self.baseline) > 1 else 0.0
        scale = max(std, MIN_STD)
        if self.kept is not None:
            values = self.values()
            wasserstein = stats.wasserstein_distance(self.baseline, values)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                p_value = stats.ks_2samp(self.baseline, values).pvalue
        else:
            wasserstein = self.streamed_wasserstein()
            p_value = self.streamed_ks_p_value()
        metrics = {
            "jensen_shannon_distance": float(jensen_shannon_distance(baseline_counts, self.counts)),
            "normalized_wasserstein_distance": float(wasserstein) / scale,
            "population_stability_index": float(population_stability_index(baseline_counts, self.counts)),
            "two_sample_kolmogorov_smirnov_test": float(p_value),
        }
        plotted = Histogram(
            NUMERICAL,
            [float(edge) for edge in self.edges],
            [int(c) for c in baseline_counts],
            [int(c) for c in self.counts],
        )
        return metrics, plotted

    def production_cdf(self) -> tuple[np.ndarray, np.ndarray]:
        """Return the production CDF just before and at each baseline point."""
        before = (np.cumsum(self.inside[:-1]) + np.concatenate(([0.0], np.cumsum(self.at)[:-1]))) / self.count
        return before, before + self.at / self.count

    def streamed_ks_p_value(self) -> float:
        """Return the two-sided KS p-value from the exact statistic, by Smirnov's asymptotic
        distribution, as scipy's ks_2samp does for samples too large for the exact method."""
        from scipy.stats import kstwo

        before, at = self.production_cdf()
        previous = np.concatenate(([0.0], self.baseline_cdf[:-1]))
        statistic = max(np.max(np.abs(previous - before)), np.max(np.abs(self.baseline_cdf - at)))
        large, small = sorted([float(len(self.baseline)), float(self.count)], reverse=True)
        return float(kstwo.sf(statistic, np.round(large * small / (large + small))))

    def streamed_wasserstein(self) -> float:
        """Return the area between the two CDFs. Exact, except inside a gap between baseline points
        where the production CDF crosses the baseline's: there the gap's values sit at their mean."""
        points, n = self.points, self.count
        before, at = self.production_cdf()
        area = (self.inside[0] * points[0] - self.sums[0]) / n
        area += (self.sums[-1] - self.inside[-1] * points[-1]) / n
        if len(points) > 1:
            width = np.diff(points)
            level = self.baseline_cdf[:-1]  # the baseline CDF inside each gap
            start, end = at[:-1], before[1:]  # the production CDF at the gap's two ends
            count, total = self.inside[1:-1], self.sums[1:-1]
            under = start * width + (count * points[1:] - total) / n  # integral of the production CDF
            above = np.abs(under - level * width)
            mean = np.divide(total, count, out=(points[:-1] + points[1:]) / 2, where=count > 0)
            crossing = (start < level) & (end > level)
            split = (mean - points[:-1]) * (level - start) + (points[1:] - mean) * (end - level)
            area += float(np.sum(np.where(crossing, split, above)))
        return float(area)


class Categorical:
    """Production values of one categorical column, counted against the baseline's category counts."""

    def __init__(self, baseline: dict[str, int]):
        self.baseline = dict(baseline)
        self.counts: dict[str, int] = {}
        self.count = 0

    def add(self, counts: dict[str, int]) -> None:
        """Add the label counts of a chunk of production values."""
        for label, count in counts.items():
            self.counts[label] = self.counts.get(label, 0) + count
            self.count += count

    def drift(self) -> tuple[dict[str, float], Histogram]:
        """Return the three categorical drift metrics over the union of categories, and the counts."""
        union = sorted(set(self.baseline) | set(self.counts))
        baseline = np.array([self.baseline.get(label, 0) for label in union], dtype=float)
        production = np.array([self.counts.get(label, 0) for label in union], dtype=float)
        metrics = {
            "jensen_shannon_distance": float(jensen_shannon_distance(baseline, production)),
            "population_stability_index": float(population_stability_index(baseline, production)),
            "pearsons_chi_squared_test": chi_squared_p_value(baseline, production),
        }
        plotted = Histogram(CATEGORICAL, union, [int(c) for c in baseline], [int(c) for c in production])
        return metrics, plotted


def performance(task: str, actual: list[Any], predicted: list[Any]) -> dict[str, float]:
    """Return Azure's model-performance metrics of predictions against ground truth: mae, mse and
    rmse for regression; accuracy, precision and recall (binary on the larger label, else macro)."""
    from sklearn import metrics as scores

    if task == "regression":
        truth, guess = np.asarray(actual, dtype=float), np.asarray(predicted, dtype=float)
        mse = float(scores.mean_squared_error(truth, guess))
        return {"mae": float(scores.mean_absolute_error(truth, guess)), "mse": mse, "rmse": math.sqrt(mse)}
    truth = np.asarray([label(value) for value in actual], dtype=object)
    guess = np.asarray([label(value) for value in predicted], dtype=object)
    classes = sorted(set(truth) | set(guess))
    averaging = {"average": "binary", "pos_label": classes[-1]} if len(classes) == 2 else {"average": "macro"}
    return {
        "accuracy": float(scores.accuracy_score(truth, guess)),
        "precision": float(scores.precision_score(truth, guess, zero_division=0, **averaging)),
        "recall": float(scores.recall_score(truth, guess, zero_division=0, **averaging)),
    }


def label(value: object) -> str:
    """Return a class label as text, a whole float written as an integer (1.0 -> "1")."""
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    return str(value)
