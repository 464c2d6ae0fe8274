"""The metrics of each task, which way each is better, and how to compute them on a test split."""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

# metric -> True when larger is better
DIRECTIONS: dict[str, dict[str, bool]] = {
    "regression": {"rmse": False, "mae": False, "mape": False, "r2": True},
    "classification": {
        "accuracy": True,
        "precision": True,
        "recall": True,
        "f1": True,
        "roc_auc": True,
        "average_precision": True,
        "log_loss": False,
    },
}


def finite(value: Any) -> float | None:
    """Return ``value`` as a float, or None when it is missing, not a number, NaN or infinite (a metric
    undefined on its rows), so it can be written to JSON and shown."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return None
    return float(value)


def names(task: str) -> list[str]:
    """Return the metrics computed for ``task``."""
    return list(DIRECTIONS[task])


def higher_is_better(task: str, metric: str) -> bool:
    """Return True when a larger value of ``metric`` is better."""
    return DIRECTIONS[task][metric]


@dataclass
class Outputs:
    """What a fitted pipeline says about test rows: its predictions and, for a classifier, its class
    probabilities (columns in ``classes`` order)."""

    predicted: np.ndarray
    probabilities: np.ndarray | None = None
    classes: list[Any] | None = None

    def take(self, rows: np.ndarray) -> Outputs:
        """Return the outputs of ``rows`` (positions, repeats allowed)."""
        probabilities = None if self.probabilities is None else self.probabilities[rows]
        return Outputs(self.predicted[rows], probabilities, self.classes)


def outputs(task: str, pipeline: Pipeline, features: pd.DataFrame) -> Outputs:
    """Return a fitted pipeline's outputs on ``features``."""
    if task == "regression":
        return Outputs(pipeline.predict(features))
    return Outputs(pipeline.predict(features), pipeline.predict_proba(features), list(pipeline.classes_))


def compute(task: str, pipeline: Pipeline, features: pd.DataFrame, target: pd.Series) -> dict[str, float]:
    """Score a fitted pipeline on held-out rows; return every metric of the task."""
    import numpy as np

    return every(task, outputs(task, pipeline, features), np.asarray(target))


def every(task: str, found: Outputs, target: np.ndarray) -> dict[str, float]:
    """Return every metric of the task for ``found`` outputs against ``target``."""
    return {name: measure(task, name, found, target) for name in names(task)}


def measure(task: str, name: str, found: Outputs, target: np.ndarray) -> float:
    """Return metric ``name`` of ``found`` outputs against ``target``."""
    from sklearn import metrics

    predicted = found.predicted
    if task == "regression":
        regression = {
            "rmse": metrics.root_mean_squared_error,
            "mae": metrics.mean_absolute_error,
            "mape": metrics.mean_absolute_percentage_error,
            "r2": metrics.r2_score,
        }
        return float(regression[name](target, predicted))
    classes, probabilities = found.classes, found.probabilities
    assert classes is not None  # a classifier's outputs (see ``outputs``) name its classes
    binary = len(classes) == 2
    averaging = {"average": "binary", "pos_label": classes[1]} if binary else {"average": "macro"}
    if name in ("precision", "recall", "f1"):
        return float(getattr(metrics, f"{name}_score")(target, predicted, zero_division=0, **averaging))
    if name == "accuracy":
        return float(metrics.accuracy_score(target, predicted))
    if name == "log_loss":
        return float(metrics.log_loss(target, probabilities, labels=classes))
    assert probabilities is not None  # a classifier's outputs hold its class probabilities
    if binary:
        ranking = metrics.roc_auc_score if name == "roc_auc" else metrics.average_precision_score
        return float(ranking(target == classes[1], probabilities[:, 1]))
    if name == "roc_auc":
        return float(metrics.roc_auc_score(target, probabilities, multi_class="ovr", labels=classes))
    from sklearn.preprocessing import label_binarize

    return float(
        metrics.average_precision_score(
            label_binarize(target, classes=classes), probabilities, average="macro"
        )
    )
