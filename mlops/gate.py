"""The champion gate: whether a candidate version takes the ``champion`` alias, and why."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from mlops import metrics


@dataclass(frozen=True)
class Decision:
    """The gate's verdict on one candidate."""

    promote: bool
    reason: str


def decide(
    task: str,
    candidate: Mapping[str, float],
    *,
    primary_metric: str,
    thresholds: Mapping[str, float],
    min_improvement: float,
    champion: Mapping[str, float] | None = None,
    champion_version: str | None = None,
    champion_error: str | None = None,
    compared: Mapping[str, float] | None = None,
    rows: str = "",
) -> Decision:
    """Promote when every absolute threshold holds and the candidate beats the champion's
    ``primary_metric`` by more than zero and at least ``min_improvement``.

    A threshold is a bound in the metric's better direction: a floor for metrics where higher is
    better (r2, roc_auc), a ceiling for the others (rmse, log_loss). With no champion, passing the
    thresholds is enough. A champion that could not be scored (``champion_error``) blocks the
    automatic move; the user decides with ``mlops promote``. A metric that is NaN or infinite (a test
    split too small to measure it) fails the gate, the candidate's and the champion's alike.

    Thresholds apply to ``candidate`` (every test row); the comparison uses ``compared``, the
    candidate's metrics on the rows the champion was scored on, when those differ, and the reason
    ends with ``rows``, which says what they were.
    """
    for metric in dict.fromkeys([*thresholds, primary_metric]):
        if not math.isfinite(candidate[metric]):
            return Decision(
                False,
                f"{metric} is {candidate[metric]} on the test rows, so nothing can be judged from it (too "
                "few rows, or one class only); give the test split more rows (split.test_size)",
            )
    for metric, bound in thresholds.items():
        value = candidate[metric]
        if metrics.higher_is_better(task, metric) and value < bound:
            return Decision(False, f"{metric} {value:.4g} is below the threshold {bound:.4g}")
        if not metrics.higher_is_better(task, metric) and value > bound:
            return Decision(False, f"{metric} {value:.4g} is above the threshold {bound:.4g}")
    if champion_error:
        return Decision(
            False,
            f"the champion (version {champion_version}) could not be scored on this test split: "
            f"{champion_error}; promote by hand with mlops promote if this version should serve",
        )
    if champion is None:
        return Decision(True, "passes every threshold and there is no champion yet")
    sign = 1 if metrics.higher_is_better(task, primary_metric) else -1
    new, old = (compared or candidate)[primary_metric], champion[primary_metric]
    suffix = f" ({rows})" if rows else ""
    for whose, value in ((f"the champion's (version {champion_version})", old), ("the candidate's", new)):
        if not math.isfinite(value):
            return Decision(
                False,
                f"{whose} {primary_metric} is {value} on the compared test rows, so the two cannot be "
                f"compared{suffix}; promote by hand with mlops promote if this version should serve",
            )
    improvement = sign * (new - old)
    versus = f"{primary_metric} {new:.4g} vs champion (version {champion_version}) {old:.4g}{suffix}"
    if improvement <= 0:
        return Decision(False, f"{versus}: does not beat the champion")
    if improvement < min_improvement:
        return Decision(
            False,
            f"{versus}: improves by {improvement:.4g}, "
            f"less than evaluation.min_improvement {min_improvement:.4g}",
        )
    return Decision(True, f"{versus}: improves by {improvement:.4g}")
