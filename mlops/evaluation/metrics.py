"""The metrics of each task, which way each is better, and how to compute them on a test split."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from omegaconf import DictConfig
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
OWN_KEYS = (
    "_target_",
    "greater_is_better",
    "needs",
)  # what evaluation.metrics.<name> holds besides arguments
NEEDS = ("predictions", "probabilities")  # what a model's own metric is computed from


def finite(value: Any) -> float | None:
    """Return ``value`` as a float, or None when it is missing, not a number, NaN or infinite (a metric
    undefined on its rows), so it can be written to JSON and shown."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        return None
    return float(value)


@dataclass(frozen=True)
class Metric:
    """A model's own metric (``evaluation.metrics.<name>``): a function of the true values and either
    the predictions or the class probabilities (columns in ``classes`` order), and its direction."""

    name: str
    function: Callable[..., Any]
    higher_is_better: bool
    needs: str = "predictions"  # or "probabilities"

    def on(self, found: Outputs, target: np.ndarray) -> Any:
        """Return what the function says of ``found`` outputs against ``target``, as it returns it."""
        given = found.probabilities if self.needs == "probabilities" else found.predicted
        return self.function(target, given)


@dataclass(frozen=True)
class Suite:
    """The metrics a model is measured on: its task's built-in ones, then its own (``extra``)."""

    task: str
    extra: tuple[Metric, ...] = ()

    @property
    def own(self) -> dict[str, Metric]:
        """Return the model's own metrics by name."""
        return {metric.name: metric for metric in self.extra}

    def names(self) -> list[str]:
        """Return every metric's name: the built-in ones, then the model's own."""
        return [*DIRECTIONS[self.task], *self.own]

    def higher_is_better(self, metric: str) -> bool:
        """Return True when a larger value of ``metric`` is better."""
        own = self.own.get(metric)
        return own.higher_is_better if own else DIRECTIONS[self.task][metric]


Task = str | Suite  # a task's name stands for its built-in metrics alone


def suite_of(task: Task) -> Suite:
    """Return the suite ``task`` names: a suite as it is, a task's name as its built-in metrics."""
    return task if isinstance(task, Suite) else Suite(task)


def suite(cfg: DictConfig) -> Suite:
    """Return model ``cfg``'s metrics: its task's, and its own from ``evaluation.metrics`` (each a
    ``_target_`` function, ``greater_is_better``, ``needs`` and any keyword arguments for the function);
    raise one line naming the key when a function does not import."""
    import functools

    from hydra.utils import get_method
    from omegaconf import OmegaConf

    from mlops.core.errors import MlopsError, whole_line

    extra = []
    for name, declared in (cfg.evaluation.get("metrics") or {}).items():
        path = declared["_target_"]
        try:
            function = get_method(path)
        except Exception as error:  # any import error of the model's code, in one line
            raise MlopsError(
                f"{cfg.name}: evaluation.metrics.{name}._target_ '{path}' does not import: "
                f"{whole_line(error)}; name a function of the model's code/ package or "
                "an installed library"
            ) from None
        given = OmegaConf.to_container(declared, resolve=True) if OmegaConf.is_config(declared) else declared
        assert isinstance(given, dict)  # a mapping, as catalog.check_config made sure
        arguments = {str(key): value for key, value in given.items() if key not in OWN_KEYS}
        if arguments:
            function = functools.partial(function, **arguments)
        extra.append(
            Metric(
                str(name),
                function,
                bool(declared["greater_is_better"]),
                str(declared.get("needs") or "predictions"),
            )
        )
    return Suite(cfg.task, tuple(extra))


def checked(model: str, chosen: Suite, found: Outputs, target: np.ndarray) -> dict[str, float]:
    """Return every metric of ``chosen`` on every test row, after checking that each of the model's own
    returns a finite number there: raise one line naming the metric's key and what it did instead."""
    from mlops.core.errors import MlopsError, whole_line

    for metric in chosen.extra:
        key = f"evaluation.metrics.{metric.name}"
        try:
            value = metric.on(found, target)
        except Exception as error:  # the model's own code: whatever it raises, said in one line
            raise MlopsError(
                f"{model}: {key} failed on the test rows: {type(error).__name__}: {whole_line(error)}; fix "
                "the function "
                f"(it is called with the true values and the {metric.needs})"
            ) from None
        if finite(value) is None:
            raise MlopsError(
                f"{model}: {key} returned {value!r} on the test rows, not a finite number; make the "
                "function return one (a metric the gate compares must be measurable on every test split)"
            )
    return every(chosen, found, target)


def names(task: Task) -> list[str]:
    """Return the metrics computed for ``task`` (a task's name or a model's suite)."""
    return suite_of(task).names()


def higher_is_better(task: Task, metric: str) -> bool:
    """Return True when a larger value of ``metric`` is better."""
    return suite_of(task).higher_is_better(metric)


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


def outputs(task: Task, pipeline: Pipeline, features: pd.DataFrame) -> Outputs:
    """Return a fitted pipeline's outputs on ``features``."""
    if suite_of(task).task == "regression":
        return Outputs(pipeline.predict(features))
    return Outputs(pipeline.predict(features), pipeline.predict_proba(features), list(pipeline.classes_))


def every(task: Task, found: Outputs, target: np.ndarray) -> dict[str, float]:
    """Return every metric of the task for ``found`` outputs against ``target``."""
    return {name: measure(task, name, found, target) for name in names(task)}


def measure(task: Task, name: str, found: Outputs, target: np.ndarray) -> float:
    """Return metric ``name`` of ``found`` outputs against ``target``: a model's own metric as its
    function returns it (NaN when it raises or returns no number), a built-in one from scikit-learn.
    For three classes or more, precision, recall and f1 are macro averages, roc_auc one-vs-rest and
    average_precision a macro average over the classes."""
    from sklearn import metrics

    chosen = suite_of(task)
    own = chosen.own.get(name)
    if own is not None:
        try:
            value = finite(own.on(found, target))
        except Exception:  # a resample the function cannot measure; ``checked`` reports it on all rows
            return math.nan
        return math.nan if value is None else value
    predicted = found.predicted
    if chosen.task == "regression":
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
