"""The rows a fitted pipeline's estimator cannot take, found before it sees them.

scikit-learn refuses a whole call when one row holds a value its estimator cannot compute with: a
number that becomes infinite once scaled, one beyond float32 for the trees (which compute in float32:
``3.5e38`` fits a ``double`` column but not a forest), or a missing value where no imputer fills it.
A server scoring many requests in one call must not let that row fail the others, so it transforms
the batch once, finds such rows in the matrix the estimator would get, and scores the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlops.scoring.contract import FLOAT32_MAX

FLOAT32_MODULES = ("xgboost", "lightgbm")  # libraries whose estimators compute in float32 as well


@dataclass(frozen=True)
class Refusal:
    """Why one row cannot be scored: the input column at fault, and whether its value is missing
    (``null``) or out of range once preprocessed (``range``)."""

    column: str
    kind: str
    limit: float

    def message(self, row: int, value: Any) -> str:
        """Return the 400 message of this refusal at request ``row``, whose value (as shown) is ``value``."""
        return f"column '{self.column}' row {row} {self.reason(value)}"

    def reason(self, value: Any) -> str:
        """Return what is wrong with ``value`` (as shown) and the fix, to follow the column's name."""
        if self.kind == "null":
            return "is null; this model has no imputer for it, so send a value"
        bound = (
            "infinity" if math.isinf(self.limit) else f"±{self.limit:.4g}, the float32 range its trees use"
        )
        return (
            f"is {value}; once preprocessed it is beyond what the model computes with ({bound}); "
            "send a value nearer the training data, or null"
        )


@dataclass
class Guard:
    """A pipeline split into its preprocessing and its estimator, with what the estimator takes."""

    preprocess: Any
    estimator: Any
    sources: list[str]  # the input column behind each feature the preprocessing outputs
    limit: float  # the largest magnitude the estimator computes with
    allow_nan: bool  # whether the estimator takes missing values itself

    @classmethod
    def of(cls, pipeline: Any) -> Guard | None:
        """Return the guard of a fitted scikit-learn Pipeline, or None for anything else."""
        from sklearn.pipeline import Pipeline
        from sklearn.utils import get_tags

        if not isinstance(pipeline, Pipeline) or len(pipeline.steps) < 2:
            return None
        preprocess, estimator = pipeline[:-1], pipeline[-1]
        try:  # the last transformer's outputs, named from its inputs (a model's own steps come before it)
            features = [str(name) for name in pipeline[-2].get_feature_names_out()]
        except (AttributeError, ValueError, TypeError):  # a step without feature names
            return None
        inputs = [str(name) for name in getattr(pipeline[-2], "feature_names_in_", [])]
        limit = FLOAT32_MAX if computes_in_float32(estimator) else math.inf
        return cls(
            preprocess,
            estimator,
            [source(name, inputs) for name in features],
            limit,
            get_tags(estimator).input_tags.allow_nan,
        )

    def refused(self, matrix: Any) -> dict[int, Refusal]:
        """Return, by row, why each row of the preprocessed ``matrix`` the estimator cannot take is out."""
        import numpy as np
        from scipy import sparse

        if sparse.issparse(matrix):
            entries = matrix.tocoo()
            rows, columns, values = entries.row, entries.col, entries.data
        else:
            values = np.asarray(matrix)
            if values.dtype.kind != "f":  # mixed or categorical output: the estimator checks it itself
                return {}
            rows = columns = None
        beyond = np.isinf(values) | (np.abs(values) > self.limit)
        missing = np.zeros_like(beyond) if self.allow_nan else np.isnan(values)
        if not (beyond.any() or missing.any()):
            return {}
        found: dict[int, Refusal] = {}
        for kind, mask in (("null", missing), ("range", beyond)):
            if rows is None:
                at_rows, at_columns = np.nonzero(mask)
            else:
                at_rows, at_columns = rows[mask], columns[mask]
            for row, column in zip(at_rows.tolist(), at_columns.tolist(), strict=True):
                found.setdefault(row, Refusal(self.sources[column], kind, self.limit))
        return found


def source(feature: str, inputs: list[str]) -> str:
    """Return the input column a preprocessed feature comes from: ``numeric__fare`` from ``fare``,
    ``categorical__vendor_2`` from ``vendor``; the feature's own name when no input matches."""
    name = feature.split("__", 1)[-1]
    if name in inputs:
        return name
    prefixes = [column for column in inputs if name.startswith(f"{column}_")]
    return max(prefixes, key=len) if prefixes else name


def computes_in_float32(estimator: Any) -> bool:
    """Return whether an estimator casts its input to float32: scikit-learn's trees and the forests
    and boosted ensembles made of them, and XGBoost's and LightGBM's models."""
    import numpy as np
    from sklearn.tree import BaseDecisionTree

    if isinstance(estimator, BaseDecisionTree) or type(estimator).__module__.startswith(FLOAT32_MODULES):
        return True
    inner = getattr(estimator, "estimators_", None)
    members = list(np.ravel(inner)) if isinstance(inner, np.ndarray) else list(inner or [])
    members += [getattr(estimator, name) for name in ("regressor_", "estimator_") if hasattr(estimator, name)]
    return any(computes_in_float32(member) for member in members)


@dataclass
class Scored:
    """One predict pass: the positions of the rows scored, their predictions and (when asked) class
    probabilities, and why each other row was refused, by position."""

    kept: list[int]
    predictions: Any
    probabilities: Any | None
    refused: dict[int, Refusal]


def score(pipeline: Any, guard: Guard | None, frame: Any, probabilities: bool) -> Scored:
    """Score the rows of ``frame`` the estimator can take, in one pass: preprocess once, leave out the
    rows ``guard`` refuses, predict the rest (no guard: the pipeline predicts every row)."""
    import numpy as np
    from sklearn import config_context

    total = len(frame)
    with config_context(skip_parameter_validation=True):  # a fitted pipeline's own parameters
        if guard is None:
            matrix, estimator, refused = frame, pipeline, {}
        else:  # an overflow shows in the matrix as infinity, refused by the guard: no numpy warning
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                matrix = guard.preprocess.transform(frame)
            estimator, refused = guard.estimator, guard.refused(matrix)
        kept = [row for row in range(total) if row not in refused]
        if refused:
            matrix = matrix.iloc[kept] if hasattr(matrix, "iloc") else matrix[kept]
        predicted = estimator.predict(matrix) if kept else np.empty(0)
        proba = estimator.predict_proba(matrix) if probabilities and kept else None
    return Scored(kept, predicted, proba, refused)
