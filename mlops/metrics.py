"""The metrics of each task, which way each is better, and how to compute them on a test split."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
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


def names(task: str) -> list[str]:
    """Return the metrics computed for ``task``."""
    return list(DIRECTIONS[task])


def higher_is_better(task: str, metric: str) -> bool:
    """Return True when a larger value of ``metric`` is better."""
    return DIRECTIONS[task][metric]


def compute(task: str, pipeline: Pipeline, features: pd.DataFrame, target: pd.Series) -> dict[str, float]:
    """Score a fitted pipeline on held-out rows; return every metric of the task."""
    from sklearn import metrics

    predicted = pipeline.predict(features)
    if task == "regression":
        return {
            "rmse": float(metrics.root_mean_squared_error(target, predicted)),
            "mae": float(metrics.mean_absolute_error(target, predicted)),
            "mape": float(metrics.mean_absolute_percentage_error(target, predicted)),
            "r2": float(metrics.r2_score(target, predicted)),
        }
    classes = list(pipeline.classes_)
    probabilities = pipeline.predict_proba(features)
    if len(classes) == 2:
        positive = classes[1]
        averaging = {"average": "binary", "pos_label": positive}
        scores = probabilities[:, 1]
        auc = metrics.roc_auc_score(target == positive, scores)
        precision_recall = metrics.average_precision_score(target == positive, scores)
    else:
        from sklearn.preprocessing import label_binarize

        averaging = {"average": "macro"}
        auc = metrics.roc_auc_score(target, probabilities, multi_class="ovr", labels=classes)
        precision_recall = metrics.average_precision_score(
            label_binarize(target, classes=classes), probabilities, average="macro"
        )
    return {
        "accuracy": float(metrics.accuracy_score(target, predicted)),
        "precision": float(metrics.precision_score(target, predicted, zero_division=0, **averaging)),
        "recall": float(metrics.recall_score(target, predicted, zero_division=0, **averaging)),
        "f1": float(metrics.f1_score(target, predicted, zero_division=0, **averaging)),
        "roc_auc": float(auc),
        "average_precision": float(precision_recall),
        "log_loss": float(metrics.log_loss(target, probabilities, labels=classes)),
    }
