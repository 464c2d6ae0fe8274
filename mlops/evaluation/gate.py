"""The champion gate: whether a candidate version takes the ``champion`` alias, and why."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from mlops.evaluation import cost as costs
from mlops.evaluation import metrics
from mlops.evaluation.uncertainty import Interval


class Verdict(StrEnum):
    """The gate's verdict on one candidate: ``promote``, ``reject``, or ``investigate`` (the evidence
    does not settle it: the alias stays and a person decides). Its value is what JSON and the registry
    record; ``tag``, ``said`` and ``badge`` are how the version's tag, the terminal and the reports show
    it."""

    PROMOTE = "promote"
    REJECT = "reject"
    INVESTIGATE = "investigate"

    @property
    def tag(self) -> str:
        """Return the version's ``gate`` tag: promoted, rejected or investigate."""
        return WORDS[self][0]

    @property
    def said(self) -> str:
        """Return how a command says it after the version: ``version 3 is the champion``."""
        return WORDS[self][1]

    @property
    def badge(self) -> str:
        """Return the reports' badge: a mark and the verdict, readable without colour."""
        return WORDS[self][2]


WORDS = {  # verdict: (gate tag, how a command says it, the reports' badge)
    Verdict.PROMOTE: ("promoted", "is the champion", "✓ Promote"),
    Verdict.REJECT: ("rejected", "is not promoted", "✗ Reject"),
    Verdict.INVESTIGATE: ("investigate", "is not promoted, a person decides (investigate)", "⚠ Investigate"),
}


@dataclass(frozen=True)
class Decision:
    """The gate's ``verdict`` on one candidate and why."""

    verdict: Verdict
    reason: str

    @property
    def promote(self) -> bool:
        """Return whether the candidate takes the champion alias."""
        return self.verdict is Verdict.PROMOTE


def decide(
    task: metrics.Task,
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
    slices: Sequence[Mapping[str, Any]] = (),
    cost: Mapping[str, Mapping[str, float] | None] | None = None,
    cost_bounds: Mapping[str, float] | None = None,
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

    A candidate that would otherwise be promoted or investigated is rejected when it is worse than
    the champion beyond its tolerance on a gated slice (``slices``, see ``mlops.evaluation.slices``), or when
    the candidate's ``cost`` (its figures and the champion's, see ``mlops.evaluation.cost``) is more times the
    champion's than a bound of ``cost_bounds`` allows (``evaluation.cost``; a null bound is not gated).
    """
    for metric in dict.fromkeys([*thresholds, primary_metric]):
        if not math.isfinite(candidate[metric]):
            return Decision(
                Verdict.REJECT,
                f"{metric} is {candidate[metric]} on the test rows, so nothing can be judged from it (too "
                "few rows, or one class only); give the test split more rows (split.test_size)",
            )
    for metric, bound in thresholds.items():
        value = candidate[metric]
        if metrics.higher_is_better(task, metric) and value < bound:
            return Decision(Verdict.REJECT, f"{metric} {value:.4g} is below the threshold {bound:.4g}")
        if not metrics.higher_is_better(task, metric) and value > bound:
            return Decision(Verdict.REJECT, f"{metric} {value:.4g} is above the threshold {bound:.4g}")
    by_hand = "promote by hand with mlops promote if this version should serve"
    if champion_error:
        return Decision(
            Verdict.INVESTIGATE,
            f"the champion (version {champion_version}) could not be scored on this test split: "
            f"{champion_error}; {by_hand}",
        )
    if champion is None:
        return Decision(Verdict.PROMOTE, "passes every threshold and there is no champion yet")
    suffix = f" ({rows})" if rows else ""
    new, old = (compared or candidate)[primary_metric], champion[primary_metric]
    for whose, value in ((f"the champion's (version {champion_version})", old), ("the candidate's", new)):
        if not math.isfinite(value):
            return Decision(
                Verdict.INVESTIGATE,
                f"{whose} {primary_metric} is {value} on the compared test rows, so the two cannot be "
                f"compared{suffix}; {by_hand}",
            )
    versus = f"{primary_metric} {new:.4g} vs champion (version {champion_version}) {old:.4g}{suffix}"
    if interval is None or not (math.isfinite(interval.low) and math.isfinite(interval.high)):
        return Decision(Verdict.INVESTIGATE, f"{versus}: the improvement has no interval; {by_hand}")
    if interval.high <= 0:
        return Decision(Verdict.REJECT, f"{versus}: does not beat the champion (improvement {interval})")
    for found in slices:
        if found.get("status") == "worse":
            return Decision(
                Verdict.REJECT,
                f"worse than the champion (version {champion_version}) on slice '{found['name']}' "
                f"({found['query']}, {found['rows']:,} rows): {primary_metric} {found['candidate']:.4g} vs "
                f"{found['champion']:.4g}, improvement {Interval(**found['interval'])}, beyond its "
                f"tolerance {found['tolerance']:.4g}",
            )
    ours, theirs = (cost or {}).get("candidate") or {}, (cost or {}).get("champion") or {}
    ratios = costs.ratios(ours, theirs)
    for key, bound in (cost_bounds or {}).items():
        if bound is not None and key in ratios and ratios[key] > bound:
            return Decision(
                Verdict.REJECT,
                f"{key.replace('_', ' ')} {costs.shown(key, ours)} is {ratios[key]:.3g}x the champion's "
                f"(version {champion_version}) {costs.shown(key, theirs)}, above evaluation.cost.{key} "
                f"{bound:.3g}x",
            )
    if interval.rows < min_test_rows:
        return Decision(
            Verdict.INVESTIGATE,
            f"{versus}: only {interval.rows:,} test rows to compare on, fewer than "
            f"evaluation.min_test_rows {min_test_rows:,}; {by_hand}",
        )
    if interval.low > 0 and interval.low >= min_improvement:
        return Decision(Verdict.PROMOTE, f"{versus}: improves by {interval}")
    margin = f"above evaluation.min_improvement {min_improvement:.4g}" if min_improvement else "above zero"
    return Decision(
        Verdict.INVESTIGATE, f"{versus}: the improvement {interval} is not clearly {margin}; {by_hand}"
    )
