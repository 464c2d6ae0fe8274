"""A registered version ready to score: its pipeline (loaded with the checked skops allow-list, never
pickle), the columns of its signature and its classes, with the answer every endpoint gives."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlops.models.features import missing_as_nan
from mlops.scoring import contract
from mlops.scoring.guard import Guard, Refusal, score

NUMERIC = ("double", "float")


@dataclass
class Scores:
    """What one predict pass returns: a prediction per row (None for a refused row) and, when asked,
    its class probabilities; ``refused`` says, by row, why a row was left out."""

    predictions: list[Any]
    probabilities: list[Any] | None
    refused: dict[int, Refusal]


@dataclass
class Model:
    """A loaded version: its pipeline, its signature's columns and its classes (classifiers)."""

    version: str
    pipeline: Any
    columns: list[contract.Column]
    classes: list[Any] | None

    def __post_init__(self) -> None:
        self.guard = Guard.of(self.pipeline)

    @property
    def names(self) -> list[str]:
        """Return the signature's column names, in order."""
        return [column.name for column in self.columns]

    def frame(self, values: list[list[Any]]) -> Any:
        """Return column-wise request values as the DataFrame the pipeline was trained on: numeric
        columns as float64 (a null as NaN), date-times (ISO 8601 text) as naive UTC datetimes, booleans
        as nullable booleans, every other column as given with its nulls as NaN."""
        import numpy as np
        import pandas as pd

        from mlops.models.columns import READERS

        columns: dict[str, Any] = {}
        for column, column_values in zip(self.columns, values, strict=True):
            if column.type in NUMERIC:
                columns[column.name] = np.array(column_values, dtype="float64")
            elif column.type in READERS:
                columns[column.name] = READERS[column.type](pd.Series(column_values, dtype=object))
            else:
                columns[column.name] = column_values
        others = [column.name for column in self.columns if column.type not in (*NUMERIC, *READERS)]
        return missing_as_nan(pd.DataFrame(columns, copy=False), others)

    def predict(self, values: list[list[Any]], probabilities: bool) -> Scores:
        """Score column-wise values in one pass; return each row's prediction and, when asked, its
        class probabilities in ``classes`` order. A row the estimator cannot take after preprocessing
        (see ``Guard``) is left out of the pass: its prediction is None and ``refused`` names why."""
        frame = self.frame(values)
        scored = score(self.pipeline, self.guard, frame, probabilities)
        predictions = scored.predictions.tolist()
        proba = scored.probabilities.tolist() if scored.probabilities is not None else None
        if scored.refused:
            predictions = spread(predictions, scored.kept, len(frame))
            proba = spread(proba, scored.kept, len(frame)) if probabilities else None
        return Scores(predictions, proba if probabilities else None, scored.refused)

    def preprocess(self, values: list[list[Any]]) -> None:
        """Run column-wise values through the pipeline's preprocessing alone; raise where it fails."""
        if self.guard is not None:
            self.guard.preprocess.transform(self.frame(values))

    def labelled(self, probabilities: list[list[float]]) -> list[dict[str, float]]:
        """Return probability rows as ``{class: p}`` objects, the shape every endpoint answers with."""
        labels = [str(label) for label in self.classes or []]
        return [dict(zip(labels, row, strict=True)) for row in probabilities]


def spread(values: list[Any] | None, rows: list[int], total: int) -> list[Any]:
    """Return ``values`` (those of ``rows``) placed at their rows of ``total``, None elsewhere."""
    spread: list[Any] = [None] * total
    for row, value in zip(rows, values or [None] * len(rows), strict=True):
        spread[row] = value
    return spread


def answer(predictions: list[Any], probabilities: list[dict[str, float]] | None) -> dict[str, Any]:
    """Return the body of a successful answer: ``{"predictions": [...]}``, with ``"probabilities"``
    when the request asked for them."""
    body: dict[str, Any] = {"predictions": predictions}
    if probabilities is not None:
        body["probabilities"] = probabilities
    return body


def output_rows(predictions: list[Any], probabilities: list[dict[str, float]] | None) -> list[dict[str, Any]]:
    """Return what an answer holds as the rows data collection records as ``model_outputs``: the
    prediction and, when the client asked for them, ``probability_<class>`` columns."""
    if probabilities is None:
        return [{"prediction": value} for value in predictions]
    return [
        {"prediction": value, **{f"probability_{label}": p for label, p in row.items()}}
        for value, row in zip(predictions, probabilities, strict=True)
    ]


def single_threaded(pipeline: Any) -> None:
    """Set every ``n_jobs`` of a pipeline to 1. An endpoint scores small batches, for which joblib's
    per-call thread fan-out costs more than it saves; concurrency comes from the server instead (the
    local endpoint's micro-batches, or one Azure inference server worker per core)."""
    pipeline.set_params(**{key: 1 for key in pipeline.get_params() if key.endswith("n_jobs")})


def load(folder: Path, name: str, version: str, trusted_types: list[str]) -> Model:
    """Load the MLflow model folder of ``version`` of model ``name`` for scoring: the pipeline with the
    checked skops allow-list (``trusted_types`` adds the model's own), single-threaded, and the
    columns of its signature; raise MlopsError when it cannot be served by column. Everything alive
    afterwards is frozen out of Python's cycle collector (``gc.freeze``): a server keeps it anyway."""
    from mlflow.models import Model as MlflowModel
    from sklearn.base import is_classifier

    from mlops.registry import modelio

    columns = contract.columns_of(MlflowModel.load(str(folder)).signature, name, version)
    pipeline = modelio.load(folder, trusted_types, name)
    single_threaded(pipeline)
    classes = pipeline.classes_.tolist() if is_classifier(pipeline) else None
    # what is loaded now (the model, scikit-learn, pandas: ~350,000 objects) lives as long as the
    # server: keep it out of the cycle collector, whose full pass over it stalls scoring for ~200 ms
    gc.freeze()
    return Model(str(version), pipeline, columns, classes)
