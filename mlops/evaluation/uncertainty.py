"""How sure the gate can be that a candidate beats the champion: a paired bootstrap of the difference of
their primary metric on the same test rows.

Both models are scored on one resample of the rows at a time, so what makes a resample easy or hard
for both cancels out and the interval shows only how much the difference itself varies. The
resamples come from a seeded generator: the same rows, models and seed give the same interval.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from mlops.core import settings
from mlops.evaluation import metrics

ROUNDING = 1e-12  # a relative difference this small between two metric values is float rounding: 0

if TYPE_CHECKING:
    import numpy as np
    from omegaconf import DictConfig

    from mlops.evaluation.metrics import Outputs


@dataclass(frozen=True)
class Interval:
    """The candidate's improvement over the champion (positive: better, in the metric's own units) on
    every compared row, and its ``level`` bootstrap interval from ``resamples`` resamples of ``rows``."""

    estimate: float
    low: float
    high: float
    level: float
    resamples: int
    rows: int

    def __str__(self) -> str:
        estimate, low, high = (signed(value) for value in (self.estimate, self.low, self.high))
        return f"{estimate}, {self.level:.0%} interval [{low}, {high}] over {self.rows:,} rows"

    def as_dict(self) -> dict[str, Any]:
        """Return the interval as JSON-ready fields (its own: ``Interval(**fields)`` reads them back)."""
        return asdict(self)


def signed(value: float) -> str:
    """Return a difference with its sign in four significant digits; rounding noise (below 1e-12,
    the sum of equal floats in another order) is 0."""
    return "0" if abs(value) < 1e-12 else f"{value:+.4g}"


def improvement(
    task: metrics.Task,
    metric: str,
    target: np.ndarray,
    candidate: Outputs,
    champion: Outputs,
    *,
    level: float,
    resamples: int,
    seed: int,
) -> Interval:
    """Return the candidate's improvement over the champion on ``metric`` with its paired bootstrap
    interval; resamples where the metric is undefined (one class drawn) are left out."""
    import numpy as np
    from sklearn.exceptions import UndefinedMetricWarning

    sign = 1 if metrics.higher_is_better(task, metric) else -1
    count = len(target)
    if metric == "roc_auc" and candidate.classes is not None and len(candidate.classes) == 2:
        positive = (target == candidate.classes[1]).astype(float)
        assert candidate.probabilities is not None and champion.probabilities is not None  # classifiers'
        probabilities = (candidate.probabilities, champion.probabilities)
        ours, theirs = (Ranked(found[:, 1], positive) for found in probabilities)

        def difference(rows: np.ndarray) -> float:
            weights = np.bincount(rows, minlength=count).astype(float)
            return sign * apart(ours.auc(weights), theirs.auc(weights))
    else:

        def difference(rows: np.ndarray) -> float:
            ours = metrics.measure(task, metric, candidate.take(rows), target[rows])
            theirs = metrics.measure(task, metric, champion.take(rows), target[rows])
            return sign * apart(ours, theirs)

    generator = np.random.default_rng(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        estimate = difference(np.arange(count))
        drawn = np.array([difference(generator.integers(0, count, count)) for _ in range(resamples)])
    drawn = drawn[np.isfinite(drawn)]
    if not len(drawn):
        return Interval(estimate, float("nan"), float("nan"), level, resamples, count)
    low, high = np.quantile(drawn, [(1 - level) / 2, (1 + level) / 2])
    return Interval(float(estimate), float(low), float(high), level, resamples, count)


def apart(ours: float, theirs: float) -> float:
    """Return ``ours - theirs``, or 0 when the two differ only by rounding (within ``ROUNDING`` of their
    size: the same predictions summed in another order), so an identical retrain improves by exactly 0
    whatever the metric."""
    difference = ours - theirs
    return 0.0 if abs(difference) <= ROUNDING * max(abs(ours), abs(theirs)) else difference


def of(cfg: DictConfig, target: np.ndarray, candidate: Outputs, champion: Outputs) -> Interval:
    """Return ``improvement`` of the model's primary metric with its ``evaluation`` settings
    (confidence, resamples) seeded by ``split.seed``."""
    return improvement(
        metrics.suite(cfg),
        cfg.evaluation.primary_metric,
        target,
        candidate,
        champion,
        level=settings.value(cfg.evaluation, "evaluation.confidence"),
        resamples=settings.value(cfg.evaluation, "evaluation.resamples"),
        seed=cfg.split.seed,
    )


class Ranked:
    """A binary classifier's scores ranked once, so the ROC AUC of any resample of its rows (given
    as a count per row) takes two weighted counts instead of a sort: the Mann-Whitney form, ties
    counting one half, which is what scikit-learn's ``roc_auc_score`` computes."""

    def __init__(self, scores: np.ndarray, positive: np.ndarray):
        import numpy as np

        levels, self.groups = np.unique(scores, return_inverse=True)
        self.levels = len(levels)
        self.positive = positive

    def auc(self, weights: np.ndarray) -> float:
        """Return the ROC AUC of the rows counted ``weights`` times each (NaN with one class)."""
        import numpy as np

        positives = np.bincount(self.groups, weights * self.positive, self.levels)
        negatives = np.bincount(self.groups, weights * (1 - self.positive), self.levels)
        below = np.cumsum(negatives) - negatives
        pairs = positives.sum() * negatives.sum()
        return float((positives * (below + negatives / 2)).sum() / pairs) if pairs else float("nan")
