"""The ``estimated_performance`` signal: a classifier's performance on unlabeled production rows,
estimated from its own probabilities before the labels arrive (confidence-based performance
estimation, as NannyML's CBPE).

If the model is calibrated, each production row's true class is a draw from its predicted
probabilities. Drawing every row's class that way many times gives the distribution of what each
metric will be once the labels are known: its mean is the estimate, its central ``confidence`` share
the interval. The metrics are the project's (``mlops.evaluation.metrics``): accuracy, and precision,
recall and f1 of the second class for a binary model (macro over classes otherwise), roc_auc.
Whether the model is calibrated is checked first on the version's held-out test rows
(``baseline.holdout``): when its expected calibration error there, beyond what sampling noise gives a
calibrated model on as many rows, is above ``max_calibration_error``, the signal is disabled with the
reason, since the estimate would then be wrong by about that much. A window's estimates are compared
with the estimates on the held-out rows (not the realized test metrics), so a small calibration bias
cancels out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from mlops.monitoring.baseline import Baseline
    from mlops.monitoring.summary import MetricRow

from mlops.core.settings import value as setting
from mlops.monitoring.signals import ESTIMATED_GUARDED as GUARDED
from mlops.monitoring.signals import ESTIMATED_METRICS as METRICS
from mlops.monitoring.signals import ESTIMATED_PERFORMANCE as SIGNAL

SIMULATIONS = 500  # label draws per estimate
DRAWN = 4_000_000  # row classes drawn at once (memory: about 20 bytes each)
CALIBRATION_BINS = 10  # equal-width bins of the predicted probability
MIN_HOLDOUT = 200  # fewer held-out rows cannot tell a calibrated model from one that is not
NOISE_DRAWS = 100  # draws of the held-out labels from the probabilities: the error a calibrated model shows


@dataclass(frozen=True)
class Estimate:
    """One metric's estimate: the mean over the label draws and the interval holding ``confidence``
    of them."""

    value: float
    low: float
    high: float


def ranks_of(probabilities: np.ndarray) -> list[np.ndarray]:
    """Return the rank of each row's probability of every class scored against the rest (the second
    class alone for a binary model)."""
    from scipy.stats import rankdata

    positives = [1] if probabilities.shape[1] == 2 else range(probabilities.shape[1])
    return [rankdata(probabilities[:, positive]) for positive in positives]


def scores(labels: np.ndarray, predicted: np.ndarray, ranks: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Return each metric for every row of ``labels`` (draws x rows of class indices, or one row of
    true ones) against the ``predicted`` class indices, with the ranks of ``ranks_of``; precision,
    recall, f1 and roc_auc are of the second class for a binary model, else the mean over classes."""
    empty = np.zeros(len(labels))
    precision, recall, f1, auc = [], [], [], []
    for positive, ranked in zip([1] if len(ranks) == 1 else range(len(ranks)), ranks, strict=True):
        truth, guess = labels == positive, predicted == positive
        hits, called, real = (truth & guess).sum(axis=1), guess.sum(), truth.sum(axis=1)
        p = hits / called if called else empty
        r = np.divide(hits, real, out=empty.copy(), where=real > 0)
        precision.append(p)
        recall.append(r)
        f1.append(np.divide(2 * p * r, p + r, out=empty.copy(), where=p + r > 0))
        others = len(predicted) - real
        area = (truth @ ranked - real * (real + 1) / 2) / np.maximum(real * others, 1)
        auc.append(np.where((real > 0) & (others > 0), area, np.nan))
    return {
        "roc_auc": np.mean(auc, axis=0),
        "accuracy": (labels == predicted).mean(axis=1),
        "precision": np.mean(precision, axis=0),
        "recall": np.mean(recall, axis=0),
        "f1": np.mean(f1, axis=0),
    }


def draws(probabilities: np.ndarray, count: int, seed: int) -> Iterator[np.ndarray]:
    """Yield ``count`` seeded draws of every row's class index from its ``probabilities``, in
    batches (draws x rows) of at most ``DRAWN`` classes."""
    rng = np.random.default_rng(seed)
    edges = np.cumsum(probabilities, axis=1)[:, :-1]
    batch = max(1, min(count, DRAWN // max(1, probabilities.size)))
    for start in range(0, count, batch):
        uniform = rng.random((min(batch, count - start), len(probabilities)))
        yield (uniform[:, :, None] > edges[None, :, :]).sum(axis=2)


def estimate(probabilities: np.ndarray, confidence: float, seed: int = 0) -> dict[str, Estimate]:
    """Return each metric's estimate on rows with these class ``probabilities`` (rows x classes),
    from ``SIMULATIONS`` seeded draws of every row's class."""
    predicted, ranks = probabilities.argmax(axis=1), ranks_of(probabilities)
    drawn: dict[str, list[np.ndarray]] = {metric: [] for metric in METRICS}
    for labels in draws(probabilities, SIMULATIONS, seed):
        for metric, values in scores(labels, predicted, ranks).items():
            drawn[metric].append(values)
    tail = (1 - confidence) / 2 * 100
    result = {}
    for metric, parts in drawn.items():
        values = np.concatenate(parts)
        values = values[~np.isnan(values)]
        if len(values):
            low, high = np.percentile(values, [tail, 100 - tail])
            result[metric] = Estimate(float(values.mean()), float(low), float(high))
    return result


def realized(labels: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
    """Return each metric on rows whose true class indices are ``labels``."""
    values = scores(labels[None, :], probabilities.argmax(axis=1), ranks_of(probabilities))
    return {metric: float(value[0]) for metric, value in values.items()}


def calibration_error(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Return the expected calibration error: over equal-width bins of the predicted probability
    (of the second class for a binary model, of the predicted class otherwise), the row-weighted
    mean gap between the probability and the share of rows it came true for. On a finite sample a
    perfectly calibrated model shows some error too: ``check`` subtracts that noise."""
    if probabilities.shape[1] == 2:
        confidence, happened = probabilities[:, 1], labels == 1
    else:
        confidence = probabilities.max(axis=1)
        happened = labels == probabilities.argmax(axis=1)
    bins = np.minimum((confidence * CALIBRATION_BINS).astype(int), CALIBRATION_BINS - 1)
    counts = np.bincount(bins, minlength=CALIBRATION_BINS)
    gaps = np.abs(
        np.bincount(bins, weights=confidence, minlength=CALIBRATION_BINS)
        - np.bincount(bins, weights=happened.astype(float), minlength=CALIBRATION_BINS)
    )
    return float(gaps.sum() / max(1, counts.sum()))


@dataclass(frozen=True)
class Check:
    """Whether the signal runs for a version and why (not); the calibration error measured on the
    held-out test rows, and each metric's estimate there: the reference a window's estimate is
    compared with (so a calibration bias the check allows cancels out)."""

    enabled: bool
    reason: str
    error: float | None = None
    reference: dict[str, float] | None = None


def check(
    base: Baseline, classes: list[Any], probabilities: Any, target: str, settings: dict[str, Any]
) -> Check:
    """Return whether a version's probabilities are calibrated enough to estimate from, measured on
    its held-out test rows with the function ``probabilities`` (rows -> probabilities)."""
    limit = float(setting(settings, "monitoring.signals.estimated_performance.max_calibration_error"))
    key = f"monitoring.signals.{SIGNAL}.max_calibration_error"
    if base.holdout is None:
        return Check(
            False,
            "the version keeps no held-out test rows to check its calibration on (registered before they "
            "were kept); train a new version",
        )
    holdout = base.holdout.dropna(subset=[target])
    if len(holdout) < MIN_HOLDOUT:
        return Check(
            False,
            f"the version holds {len(holdout):,} held-out test rows, fewer than {MIN_HOLDOUT} to check its "
            "calibration on",
        )
    from mlops.monitoring.metrics import label

    known = {label(name): i for i, name in enumerate(classes)}
    labels = np.array([known.get(label(value), -1) for value in holdout[target]])
    scored = probabilities(holdout.drop(columns=[target]))
    error = calibration_error(labels, scored)
    if error > limit:
        return Check(
            False,
            f"the model is poorly calibrated: on its {len(holdout):,} held-out test rows its probabilities "
            f"are off by {error:.3f} on average (expected calibration error; {key} is {limit:g}), so an "
            "estimate from them would be off too; calibrate the model (e.g. sklearn's "
            "CalibratedClassifierCV, or no class_weight)",
            error,
        )
    reference = {metric: found.value for metric, found in estimate(scored, 0.95).items()}
    return Check(
        True, f"calibrated on {len(holdout):,} held-out test rows (error {error:.3f})", error, reference
    )


def thresholds(settings: dict[str, Any], reference: dict[str, float]) -> dict[str, float | None]:
    """Return each metric's threshold: the configured one, else, for the metrics ``guarded`` names,
    its estimate on the held-out test rows lowered by ``tolerance`` (relative), else None."""
    tolerance = float(setting(settings, "monitoring.signals.estimated_performance.tolerance"))
    given = settings.get("metric_thresholds") or {}
    guarded = settings.get("guarded", GUARDED)
    found: dict[str, float | None] = {}
    for metric in METRICS:
        if metric in given:
            found[metric] = float(given[metric])
        elif metric in guarded and metric in reference:
            found[metric] = reference[metric] * (1 - tolerance)
        else:
            found[metric] = None
    return found


def rows(target: str, checked: Check, probabilities: np.ndarray, settings: dict[str, Any]) -> list[MetricRow]:
    """Return the signal's metric rows for one window's probabilities: Azure's row shape plus the
    interval (``low``, ``high``) and ``confidence``."""
    from mlops.monitoring import compute, metrics

    confidence = float(setting(settings, "monitoring.signals.estimated_performance.confidence"))
    limits = thresholds(settings, checked.reference or {})
    found = []
    for metric, value in estimate(probabilities, confidence).items():
        row = compute.row(SIGNAL, target, metrics.CATEGORICAL, metric, value.value, limits[metric])
        row["low"], row["high"], row["confidence"] = value.low, value.high, confidence
        found.append(row)
    return found
