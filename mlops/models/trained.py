"""A model of the trainer route (see ``mlops.models.protocol``) as every shared step sees it: a
scikit-learn estimator (``predict``, a classifier's ``predict_proba`` and ``classes_``, ``score``) around
the model's own object, written into and read back from an MLflow model folder's data folder by the
model's own ``save`` and ``load``, never pickle.

This module is MLflow's loader of such a version (``loader_module`` of its ``python_function``
flavor): it is copied into every version's ``code/`` with the rest of what it imports (NumPy, pandas,
scikit-learn's base classes), so ``mlflow.pyfunc.load_model`` loads a version where only its
requirements are installed.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

FORMAT = 1  # version of the manifest's layout
MANIFEST = "trained.json"  # the data folder's record of the model's class, task and classes
FILES = "files"  # the data folder's subfolder the model's own save writes into


class Trained(BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """The framework's view of a trained model of the trainer route: its ``model`` and, for a
    classifier, its ``classes``; every prediction is checked to hold one value per row."""

    LOADER = __name__  # how mlops.registry.modelio knows a model of this route: the loader it saves with

    def __init__(self, model: Any = None, classes: list[Any] | None = None) -> None:
        self.model = model
        self.classes = classes

    def fit(self, frame: Any, target: Any = None) -> Trained:
        """Refuse: the model's own trainer fits it (``mlops train``); scikit-learn's tools that only score
        (permutation importance) need the method to exist."""
        raise TypeError("a model of the trainer route is fitted by its trainer: run mlops train")

    def predict(self, frame: Any) -> np.ndarray:
        """Return the model's prediction of each row of ``frame``; raise when it gave another count."""
        return rows_of(np.asarray(self.model.predict(frame)), frame, "predict")

    def write(self, folder: Path) -> None:
        """Write the model into the new ``folder`` (``write``)."""
        write(self, folder)

    def importances(self) -> dict[str, float]:
        """Return the model's own importance of each raw column, empty when it has none."""
        found = getattr(self.model, "importances", None)
        return {str(column): float(value) for column, value in found().items()} if found else {}


class TrainedRegressor(RegressorMixin, Trained):  # type: ignore[misc]
    """A trained regressor of the trainer route."""


class TrainedClassifier(ClassifierMixin, Trained):  # type: ignore[misc]
    """A trained classifier of the trainer route."""

    @property
    def classes_(self) -> np.ndarray:
        """Return the class labels, in the order of ``predict_proba``'s columns."""
        return np.asarray(self.classes)

    def predict_proba(self, frame: Any) -> np.ndarray:
        """Return each row's probability of each class; raise when the shape is not (rows, classes)."""
        found = rows_of(np.asarray(self.model.predict_proba(frame), dtype="float64"), frame, "predict_proba")
        classes = len(self.classes or [])
        if found.ndim != 2 or found.shape[1] != classes:
            raise ValueError(
                f"predict_proba returned shape {found.shape}; expected ({len(frame)}, {classes}), a column "
                "per class of classes_"
            )
        return found


def rows_of(values: np.ndarray, frame: Any, method: str) -> np.ndarray:
    """Return ``values`` when they hold one entry per row of ``frame``; raise ValueError otherwise."""
    if values.ndim == 0 or len(values) != len(frame):
        count = "a single value" if values.ndim == 0 else f"{len(values)} values"
        raise ValueError(f"{method} returned {count} for {len(frame)} rows; return one per row")
    return values


def wrap(model: Any, task: str) -> Trained:
    """Return ``model`` as the framework sees it: a ``TrainedClassifier`` with its classes for the
    classification task, else a ``TrainedRegressor``."""
    if task == "classification":
        return TrainedClassifier(model, np.asarray(model.classes_).tolist())
    return TrainedRegressor(model)


def class_path(model: Any) -> str:
    """Return the importable name of ``model``'s class: ``package.module.Class``."""
    kind = type(model)
    return f"{kind.__module__}.{kind.__qualname__}"


def write(trained: Trained, folder: Path) -> None:
    """Write ``trained`` into the new ``folder``: the model's own files (its ``save``) in ``files/`` and
    the manifest naming its class, task and classes."""
    folder = Path(folder)
    (folder / FILES).mkdir(parents=True)
    trained.model.save(folder / FILES)
    task = "classification" if isinstance(trained, TrainedClassifier) else "regression"
    manifest = {
        "format": FORMAT,
        "class": class_path(trained.model),
        "task": task,
        "classes": trained.classes,
    }
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def manifest(folder: Path) -> dict[str, Any]:
    """Return the manifest ``write`` left in ``folder``."""
    loaded: dict[str, Any] = json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))
    if loaded.get("format") != FORMAT:
        raise ValueError(f"{folder}: manifest format {loaded.get('format')!r}; this loader reads {FORMAT}")
    return loaded


def find_class(path: str) -> Any:
    """Return the class named ``package.module.Class`` (the longest importable module prefix)."""
    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            found: Any = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            found = getattr(found, name)
        return found
    raise ModuleNotFoundError(f"no module of {path} imports")


def read(folder: Path) -> Trained:
    """Return the model ``write`` left in ``folder``, loaded by its class's own ``load``."""
    found = manifest(folder)
    model = find_class(found["class"]).load(Path(folder) / FILES)
    if found["task"] == "classification":
        return TrainedClassifier(model, found["classes"])
    return TrainedRegressor(model)


def _load_pyfunc(path: str) -> Trained:
    """Return the model of an MLflow model folder's data folder ``path`` (MLflow's loader hook)."""
    return read(Path(path))
