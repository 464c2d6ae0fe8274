"""How sure the gate can be that a candidate beats the champion: a paired bootstrap of the difference of
their primary metric on the same test rows.

Both models are scored on one resample of the rows at a time, so what makes a resample easy or hard
for both cancels out and the interval shows only how much the difference itself varies. The
resamples come from a seeded generator: the same rows, models and seed give the same interval.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from mlops import metrics

if TYPE_CHECKING:
    import numpy as np

    from mlops.metrics import Outputs


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
        return (
            f"{self.estimate:+.4g}, {self.level:.0%} interval [{self.low:+.4g}, {self.high:+.4g}] "
            f"over {self.rows:,} rows"
        )

    def as_dict(self) -> dict[str, float]:
        """Return the interval as JSON-ready fields."""
        return asdict(self)


def improvement(
    task: str,
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

    def difference(rows: np.ndarray | slice) -> float:
        ours = metrics.measure(task, metric, candidate.take(rows), target[rows])
        theirs = metrics.measure(task, metric, champion.take(rows), target[rows])
        return sign * (ours - theirs)

    count = len(target)
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
