"""The model protocol: what a model's own training function (``trainer:`` in its config) must give the
framework so that every shared step (gate, report, card, endpoints, batch, monitoring, Azure) handles
it as it handles a scikit-learn pipeline.

A **trainer** is a function named by ``trainer._target_``; the config's other ``trainer`` keys are its
keyword arguments. The framework calls it as::

    model = fit(train, config, **params)                       # or, when it has a `validation` parameter:
    model = fit(train, config, validation=held_out, **params)

- ``train`` is a pandas DataFrame of the training rows: the raw feature columns of ``config.schema``
  (numbers as float64 or int, categories and text as strings with NaN for missing, booleans as pandas'
  nullable boolean, date-times as naive UTC ``datetime64``) and the target column
  ``config.schema.target``.
- ``validation`` (only when the function declares it) holds the same columns for a seeded share of the
  training rows (``split.validation_size``, stratified for a classifier), taken out of ``train``: use it
  for early stopping. The test rows the gate uses are never given to the trainer.
- ``config`` is the model's composed Hydra config (``config.task``, ``config.schema``,
  ``config.split.seed``...).

It returns a **trained model**, an object with:

- ``predict(frame) -> array`` of one value per row of ``frame`` (the raw feature columns, as above),
  finite numbers for a regressor, class labels for a classifier;
- for a classifier, ``classes_`` (the labels, in the order of ``predict_proba``'s columns) and
  ``predict_proba(frame) -> array`` of shape (rows, classes), each row summing to 1;
- ``save(folder)``, writing everything it needs into the existing empty ``folder`` in a format of
  its choosing (a booster's text or JSON file, weights in ``.npz`` or safetensors, parameters as JSON),
  and a classmethod ``load(folder)`` returning an equal model from it. Its class must be importable:
  a class of the model's ``code/`` package (copied into every version) or of an installed library;
- optionally ``importances() -> {column: value}``, shown in the model card beside the permutation
  importances the framework measures.

The framework checks all of it before registering anything: a trainer that raises, returns an object
without ``predict``, predicts the wrong number of rows or a non-finite value, or whose saved folder does
not load back to the same predictions is reported in one line naming the model and the step. It saves
the model as an MLflow model (a pyfunc loaded by ``mlops.models.trained``, never pickle) with the
signature, input example, code and requirements of every version.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig


@runtime_checkable
class TrainedModel(Protocol):
    """A model a trainer returns: it predicts a frame of raw feature columns and saves itself."""

    def predict(self, frame: pd.DataFrame) -> Any:
        """Return one prediction per row of ``frame``."""

    def save(self, folder: Path) -> None:
        """Write the model into the empty ``folder``."""

    @classmethod
    def load(cls, folder: Path) -> TrainedModel:
        """Return the model ``save`` wrote into ``folder``."""


@runtime_checkable
class TrainedClassifier(TrainedModel, Protocol):
    """A trained classifier: also its classes and their probabilities."""

    classes_: Any

    def predict_proba(self, frame: pd.DataFrame) -> Any:
        """Return each row's probability of each class of ``classes_``, in that order."""


class Trainer(Protocol):
    """A model's own training function (``trainer._target_``)."""

    def __call__(self, train: pd.DataFrame, config: DictConfig, **params: Any) -> TrainedModel:
        """Return the model fitted on ``train``; ``validation=`` is passed only when declared."""
