"""Chart data of one model on the compared test rows, small and JSON-ready (plain floats, ints and
lists), for the comparison report (``mlops.reports.comparison``).

A regressor: a seeded sample of (actual, predicted) points and the histogram of its residuals. A
classifier: the ROC and precision-recall curves of one class against the rest, thinned to a few hundred
points, and its calibration. Values are kept to six significant digits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

    from mlops.evaluation.metrics import Outputs

SAMPLE = 400  # most (actual, predicted) points of a regressor
RESIDUAL_BINS = 30
POINTS = 200  # most points of a ROC or precision-recall curve
CALIBRATION_BINS = 10  # equal-width bins of the predicted probability
DIGITS = 6  # significant digits kept


def summarize(task: str, target: np.ndarray, found: Outputs, seed: int) -> dict[str, Any]:
    """Return the chart data of ``found`` outputs against ``target`` (see ``regression`` and
    ``classification``); ``seed`` draws a regressor's sample of points."""
    import numpy as np

    truth = np.asarray(target)
    if task == "regression":
        return regression(truth.astype(float), np.asarray(found.predicted, dtype=float), seed)
    return classification(truth, found)


def regression(actual: np.ndarray, predicted: np.ndarray, seed: int) -> dict[str, Any]:
    """Return ``rows``, a seeded sample of at most SAMPLE ``points`` (actual, predicted) in row order,
    and the ``residuals`` (predicted - actual) in RESIDUAL_BINS equal bins (``edges``, ``counts``);
    rows with a NaN or infinite value are counted in ``rows`` but left out of both."""
    import numpy as np

    finite = np.isfinite(actual) & np.isfinite(predicted)
    actual, predicted = actual[finite], predicted[finite]
    chosen = np.sort(np.random.default_rng(seed).choice(len(actual), min(SAMPLE, len(actual)), replace=False))
    empty = (np.zeros(0, dtype=int), np.zeros(0))
    counts, edges = np.histogram(predicted - actual, bins=RESIDUAL_BINS) if len(actual) else empty
    return {
        "task": "regression",
        "rows": len(finite),
        "points": {"actual": rounded(actual[chosen]), "predicted": rounded(predicted[chosen])},
        "residuals": {"edges": rounded(edges), "counts": [int(count) for count in counts]},
    }


def classification(target: np.ndarray, found: Outputs) -> dict[str, Any]:
    """Return ``rows``, the ``positive`` class and its ``positives`` rows, and that class against the
    rest: the ``roc`` curve (fpr, tpr; None unless both sides occur), the ``pr`` curve (recall,
    precision; None without positives), and the ``calibration`` of its probability (equal-width
    bins that hold rows: mean ``predicted`` probability, ``observed`` positive fraction, ``count``).

    The positive class of a binary classifier is ``classes[1]``; of a multiclass one, the class with
    the most rows (the first in ``classes`` order on a tie): one class keeps the page to three charts,
    and the largest class has the steadiest curves. Rows whose probability is NaN are left out."""
    import numpy as np
    from sklearn import metrics

    assert found.classes is not None  # a classifier's outputs (see ``metrics.outputs``) name its classes
    classes = list(found.classes)
    index = 1 if len(classes) == 2 else int(np.argmax([(target == label).sum() for label in classes]))
    scores = np.asarray(found.probabilities, dtype=float)[:, index]
    kept = np.isfinite(scores)
    truth, scores = target[kept] == classes[index], scores[kept]
    positives = int(truth.sum())
    summary: dict[str, Any] = {
        "task": "classification",
        "rows": len(target),
        "positive": str(classes[index]),
        "positives": positives,
        "roc": None,
        "pr": None,
        "calibration": calibration(truth, scores),
    }
    if 0 < positives < len(truth):
        fpr, tpr, _ = metrics.roc_curve(truth, scores)
        summary["roc"] = dict(zip(("fpr", "tpr"), thin(fpr, tpr), strict=True))
    if positives:
        precision, recall, _ = metrics.precision_recall_curve(truth, scores)
        summary["pr"] = dict(zip(("recall", "precision"), thin(recall, precision), strict=True))
    return summary


def calibration(truth: np.ndarray, scores: np.ndarray) -> dict[str, list[float] | list[int]]:
    """Return, per equal-width bin of ``scores`` in [0, 1] that holds rows, their mean score
    (``predicted``), the fraction of them that are positive (``observed``) and their ``count``."""
    import numpy as np

    bins = np.clip((scores * CALIBRATION_BINS).astype(int), 0, CALIBRATION_BINS - 1)
    count = np.bincount(bins, minlength=CALIBRATION_BINS)
    predicted = np.bincount(bins, scores, CALIBRATION_BINS)
    observed = np.bincount(bins, truth.astype(float), CALIBRATION_BINS)
    held = count > 0
    return {
        "predicted": rounded(predicted[held] / count[held]),
        "observed": rounded(observed[held] / count[held]),
        "count": [int(rows) for rows in count[held]],
    }


def thin(xs: np.ndarray, ys: np.ndarray, most: int = POINTS) -> tuple[list[float], list[float]]:
    """Return at most ``most`` points of the curve through (xs, ys), both ends kept and the others
    evenly spaced along its length, so its shape stays within about 1/``most`` of its length."""
    import numpy as np

    if len(xs) > most:
        along = np.concatenate([[0.0], np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))])
        keep = np.unique(np.searchsorted(along, np.linspace(0.0, along[-1], most - 1)))
        keep = np.union1d(keep, [0, len(xs) - 1])
        xs, ys = xs[keep], ys[keep]
    return rounded(xs), rounded(ys)


def rounded(values: np.ndarray) -> list[float]:
    """Return ``values`` as plain floats of DIGITS significant digits."""
    return [float(f"{value:.{DIGITS}g}") for value in values.tolist()]
