"""The champion gate: whether a candidate version takes the ``champion`` alias, and why."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mlops import metrics
from mlops.uncertainty import Interval

TAGS = {"promote": "promoted", "reject": "rejected", "investigate": "investigate"}  # verdict: gate tag
SAID = {  # verdict: how mlops train says it
    "promote": "is the champion",
    "reject": "is not promoted",
    "investigate": "is not promoted, a person decides (investigate)",
}


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on one candidate: ``promote``, ``reject``, or ``investigate`` (the evidence
    does not settle it: the alias stays and a person decides), and why."""

    verdict: str
    reason: str

    @property
    def promote(self) -> bool:
        """Return whether the candidate takes the champion alias."""
        return self.verdict == "promote"


def decide(
    task: str,
    candidate: Mapping[str, float],
    *,
    primary_metric: str,
    thresholds: Mapping[str, float],
    min_improvement: float,
    min_test_rows: int = 1,
    champion: Mapping[str, float] | None = None,
    champion_version: str | None = None,
    champion_error: str | None = None,
    compared: Mapping[str, float] | None = None,
    interval: Interval | None = None,
    rows: str = "",
) -> Decision:
    """Decide on thresholds, then on the paired ``interval`` of the improvement over the champion.

    A threshold is a bound in the metric's better direction: a floor for metrics where higher is
    better (r2, roc_auc), a ceiling for the others (rmse, log_loss); a metric that is NaN or infinite
    (a test split too small to measure it) fails. With no champion, passing the thresholds promotes.
    Against a champion: promote when the whole interval of the improvement of ``primary_metric`` is
    above zero and at least ``min_improvement``; reject when none of it is above zero; otherwise, or
    with fewer compared rows than ``min_test_rows``, investigate. A champion that could not be scored
    (``champion_error``) also leaves the decision to a person (``mlops promote``).

    Thresholds apply to ``candidate`` (every test row); the comparison uses ``compared``, the
    candidate's metrics on the rows the champion was scored on, when those differ, and the reason
    ends with ``rows``, which says what they were.
    """
    for metric in dict.fromkeys([*thresholds, primary_metric]):
        if not math.isfinite(candidate[metric]):
            return Decision(
                "reject",
                f"{metric} is {candidate[metric]} on the test rows, so nothing can be judged from it (too "
                "few rows, or one class only); give the test split more rows (split.test_size)",
            )
    for metric, bound in thresholds.items():
        value = candidate[metric]
        if metrics.higher_is_better(task, metric) and value < bound:
            return Decision("reject", f"{metric} {value:.4g} is below the threshold {bound:.4g}")
        if not metrics.higher_is_better(task, metric) and value > bound:
            return Decision("reject", f"{metric} {value:.4g} is above the threshold {bound:.4g}")
    by_hand = "promote by hand with mlops promote if this version should serve"
    if champion_error:
        return Decision(
            "investigate",
            f"the champion (version {champion_version}) could not be scored on this test split: "
            f"{champion_error}; {by_hand}",
        )
    if champion is None:
        return Decision("promote", "passes every threshold and there is no champion yet")
    suffix = f" ({rows})" if rows else ""
    new, old = (compared or candidate)[primary_metric], champion[primary_metric]
    for whose, value in ((f"the champion's (version {champion_version})", old), ("the candidate's", new)):
        if not math.isfinite(value):
            return Decision(
                "investigate",
                f"{whose} {primary_metric} is {value} on the compared test rows, so the two cannot be "
                f"compared{suffix}; {by_hand}",
            )
    versus = f"{primary_metric} {new:.4g} vs champion (version {champion_version}) {old:.4g}{suffix}"
    if interval is None or not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return Decision("investigate", f"{versus}: the improvement has no interval; {by_hand}")
    if interval.rows < min_test_rows:
        return Decision(
            "investigate",
            f"{versus}: only {interval.rows:,} test rows to compare on, fewer than "
            f"evaluation.min_test_rows {min_test_rows:,}; {by_hand}",
        )
    if interval.high <= 0:
        return Decision("reject", f"{versus}: does not beat the champion (improvement {interval})")
    if interval.low > 0 and interval.low >= min_improvement:
        return Decision("promote", f"{versus}: improves by {interval}")
    margin = f"above evaluation.min_improvement {min_improvement:.4g}" if min_improvement else "above zero"
    return Decision("investigate", f"{versus}: the improvement {interval} is not clearly {margin}; {by_hand}")
