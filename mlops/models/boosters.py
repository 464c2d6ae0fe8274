"""LightGBM and XGBoost trained on their own APIs, as trainers of the model protocol
(``mlops.models.protocol``): ``trainer: {_target_: mlops.models.boosters.lightgbm}`` (or ``xgboost``).

Each trains with early stopping on the validation share, takes the raw columns itself (numbers as they
are, booleans as 1/0, a date-time as its year, day of the year, weekday and hour, categories as the
library's own categorical features with their training levels; an unseen category counts as missing),
ranks the raw columns by the gain of their splits, and saves in the library's
own file format (LightGBM's text model, XGBoost's JSON model) beside ``columns.json``, the levels and
classes: no pickle, nothing to trust by name. Copied into every version's ``code/``; imports its library
only when it trains or loads.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

COLUMNS = "columns.json"  # each raw column's kind and a category's levels, the classes
DATETIME_PARTS = ("year", "dayofyear", "weekday", "hour")  # the booster's columns of a date-time column
PARALLEL_ROWS = 1000  # from this many rows on, a prediction uses every core


def label(value: Any) -> str:
    """Return a category value as the text its level is kept under (a whole float as its integer)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


class Encoding:
    """How raw feature columns become a booster's input: each column's kind and each categorical
    column's training levels."""

    def __init__(self, kinds: dict[str, str], levels: dict[str, list[str]]) -> None:
        self.kinds = kinds
        self.levels = levels

    @classmethod
    def learn(cls, config: Any, train: pd.DataFrame) -> Encoding:
        """Return the encoding of the model's declared columns, levels from the ``train`` rows; raise
        ValueError for a text column, which a booster cannot take raw."""
        kinds = {
            column: kind
            for kind in ("numeric", "categorical", "boolean", "datetime", "text")
            for column in config.schema.get(kind) or []
        }
        text = [column for column, kind in kinds.items() if kind == "text"]
        if text:
            raise ValueError(
                f"text column {text[0]} cannot go to a booster raw; turn it into numbers in a trainer of "
                "your own, or use the estimator route with its TF-IDF preprocessing"
            )
        levels = {
            column: sorted({label(value) for value in train[column].dropna()})
            for column, kind in kinds.items()
            if kind == "categorical"
        }
        return cls(kinds, levels)

    def values(self, raw: pd.DataFrame) -> dict[str, np.ndarray]:
        """Return each of the booster's columns of ``raw`` as float64: numbers, booleans as 1/0, a
        date-time's parts, a category's position among its training levels (NaN: missing or unseen)."""
        columns: dict[str, np.ndarray] = {}
        for column, kind in self.kinds.items():
            values = raw[column]
            if kind == "categorical":
                position = {level: float(number) for number, level in enumerate(self.levels[column])}
                columns[column] = np.array(
                    [np.nan if pd.isna(value) else position.get(label(value), np.nan) for value in values],
                    dtype="float64",
                )
            elif kind == "datetime":
                stamps = pd.DatetimeIndex(pd.to_datetime(values))
                for part in DATETIME_PARTS:
                    columns[f"{column}.{part}"] = np.asarray(getattr(stamps, part), dtype="float64")
            else:  # numbers, and booleans as 1/0 with NaN for missing
                try:
                    columns[column] = np.asarray(values, dtype="float64")
                except (TypeError, ValueError):  # text, or a nullable column holding pd.NA
                    coerced = pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
                    columns[column] = coerced.to_numpy("float64")
        return columns

    def frame(self, raw: pd.DataFrame) -> pd.DataFrame:
        """Return ``raw``'s columns as the booster trains on them: a categorical column as pandas'
        categorical over its training levels, which tells the library to split on it as a category."""
        columns: dict[str, Any] = self.values(raw)
        for column, levels in self.levels.items():
            codes = np.nan_to_num(columns[column], nan=-1).astype("int64")
            columns[column] = pd.Categorical.from_codes(codes, categories=levels)
        return pd.DataFrame(columns, index=raw.index)

    def matrix(self, raw: pd.DataFrame) -> np.ndarray:
        """Return ``raw``'s columns as one float64 matrix, a category as its level's position (what
        LightGBM makes of pandas' categorical itself, without its per-call conversion)."""
        return np.column_stack(list(self.values(raw).values()))

    def categorical(self) -> list[str]:
        """Return the categorical columns."""
        return list(self.levels)

    def raw_columns(self, importances: dict[str, float]) -> dict[str, float]:
        """Return importances of the booster's columns summed by the raw column each comes from."""
        parts = {f"{column}.{part}": column for column in self.kinds for part in DATETIME_PARTS}
        summed = dict.fromkeys(self.kinds, 0.0)
        for name, value in importances.items():
            summed[parts.get(name, name)] += float(value)
        return summed


class Booster:
    """A trained booster: the library's model, the columns' encoding and, for a classifier, its classes;
    subclasses give the library's raw prediction and file format."""

    FILE = ""  # the library's model file

    def __init__(self, model: Any, encoding: Encoding, classes: list[Any] | None) -> None:
        self.model = model
        self.encoding = encoding
        if classes is not None:
            self.classes_ = np.asarray(classes)

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Return the library's prediction: values, a binary classifier's positive probability, or a
        multiclass classifier's probabilities."""
        raise NotImplementedError

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Return each row's value, or a classifier's most probable class."""
        if not hasattr(self, "classes_"):
            return np.asarray(self.raw(frame), dtype="float64")
        found: np.ndarray = self.classes_[self.predict_proba(frame).argmax(axis=1)]
        return found

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        """Return each row's probability of each class of ``classes_``."""
        found = np.asarray(self.raw(frame), dtype="float64")
        return np.column_stack([1 - found, found]) if found.ndim == 1 else found

    def save(self, folder: Path) -> None:
        """Write the library's model file and ``columns.json`` into ``folder``."""
        self.write(Path(folder) / self.FILE)
        classes = self.classes_.tolist() if hasattr(self, "classes_") else None
        record = {"kinds": self.encoding.kinds, "levels": self.encoding.levels, "classes": classes}
        (Path(folder) / COLUMNS).write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")

    def write(self, path: Path) -> None:
        """Write the library's model to ``path``."""
        raise NotImplementedError

    @classmethod
    def read(cls, path: Path) -> Any:
        """Return the library's model in ``path``."""
        raise NotImplementedError

    @classmethod
    def load(cls, folder: Path) -> Booster:
        """Return the booster ``save`` wrote into ``folder``."""
        record = json.loads((Path(folder) / COLUMNS).read_text(encoding="utf-8"))
        encoding = Encoding(record["kinds"], record["levels"])
        return cls(cls.read(Path(folder) / cls.FILE), encoding, record["classes"])


def targets(config: Any, rows: pd.DataFrame, classes: list[Any] | None) -> np.ndarray:
    """Return the target of ``rows`` as the library learns it: numbers, or a class's position."""
    values = rows[config.schema.target]
    if classes is None:
        return np.asarray(values, dtype="float64")
    return np.asarray(pd.Categorical(values, categories=classes).codes, dtype="float64")


def classes_of(config: Any, train: pd.DataFrame) -> list[Any] | None:
    """Return a classifier's classes, sorted as scikit-learn sorts them; None for a regressor."""
    if config.task != "classification":
        return None
    return sorted(train[config.schema.target].dropna().unique().tolist())


def prepared(
    config: Any,
    train: pd.DataFrame,
    base: dict[str, Any],
    objectives: tuple[str, str],
    params: dict[str, Any] | None,
) -> tuple[Encoding, list[Any] | None, dict[str, Any]]:
    """Return what a booster learns from ``train`` before it trains (the columns' encoding, a
    classifier's classes) and the library's settings: ``base``, a classifier's objective (the library's
    names for binary and multiclass in ``objectives``), then the model's own ``params``."""
    encoding = Encoding.learn(config, train)
    classes = classes_of(config, train)
    settings = dict(base)
    if classes is not None:
        binary, multiclass = objectives
        settings |= (
            {"objective": binary}
            if len(classes) == 2
            else {"objective": multiclass, "num_class": len(classes)}
        )
    return encoding, classes, settings | dict(params or {})


class LightGBM(Booster):
    """A LightGBM booster saved as LightGBM's text model."""

    FILE = "model.txt"

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Return LightGBM's prediction of the encoded rows: on one thread for a small batch (an
        endpoint's request), where starting OpenMP's threads costs more than the trees."""
        threads = 1 if len(frame) < PARALLEL_ROWS else 0  # 0: LightGBM's default, every core
        return np.asarray(self.model.predict(self.encoding.matrix(frame), num_threads=threads))

    def write(self, path: Path) -> None:
        """Write the booster as LightGBM's text model (its best iteration's trees)."""
        self.model.save_model(str(path))

    @classmethod
    def read(cls, path: Path) -> Any:
        """Return the LightGBM booster of a text model."""
        import lightgbm

        return lightgbm.Booster(model_file=str(path))

    def importances(self) -> dict[str, float]:
        """Return each raw column's total gain over the booster's splits."""
        gains = self.model.feature_importance(importance_type="gain")
        return self.encoding.raw_columns(dict(zip(self.model.feature_name(), gains, strict=True)))


class XGBoost(Booster):
    """An XGBoost booster saved as XGBoost's JSON model."""

    FILE = "model.json"

    def raw(self, frame: pd.DataFrame) -> np.ndarray:
        """Return XGBoost's prediction of the encoded rows."""
        import xgboost

        return np.asarray(
            self.model.predict(xgboost.DMatrix(self.encoding.frame(frame), enable_categorical=True))
        )

    def write(self, path: Path) -> None:
        """Write the booster as XGBoost's JSON model."""
        self.model.save_model(str(path))

    @classmethod
    def read(cls, path: Path) -> Any:
        """Return the XGBoost booster of a JSON model."""
        import xgboost

        model = xgboost.Booster()
        model.load_model(str(path))
        return model

    def importances(self) -> dict[str, float]:
        """Return each raw column's total gain over the booster's splits (0 for a column never split on)."""
        return self.encoding.raw_columns(self.model.get_score(importance_type="total_gain"))


def lightgbm(
    train: pd.DataFrame,
    config: Any,
    validation: pd.DataFrame | None = None,
    *,
    params: dict[str, Any] | None = None,
    num_boost_round: int = 1000,
    early_stopping_rounds: int | None = 50,
) -> LightGBM:
    """Train a LightGBM booster with ``lightgbm.train`` on ``train``, stopping once the validation
    rows' loss has not improved for ``early_stopping_rounds`` rounds (None: all ``num_boost_round``);
    ``params`` are LightGBM's (objective and seed are set from the task and ``split.seed``)."""
    import lightgbm as lgb

    base = {"verbosity": -1, "seed": int(config.split.seed), "deterministic": True}
    encoding, classes, settings = prepared(config, train, base, ("binary", "multiclass"), params)
    data = lgb.Dataset(
        encoding.frame(train),
        targets(config, train, classes),
        categorical_feature=encoding.categorical() or "auto",
    )
    checks: list[Any] = []
    callbacks: list[Any] = []
    if validation is not None and early_stopping_rounds:
        checks = [
            lgb.Dataset(encoding.frame(validation), targets(config, validation, classes), reference=data)
        ]
        callbacks = [lgb.early_stopping(int(early_stopping_rounds), verbose=False)]
    model = lgb.train(settings, data, int(num_boost_round), valid_sets=checks, callbacks=callbacks)
    if model.best_iteration > 0:  # keep only the trees up to the best round
        model = lgb.Booster(model_str=model.model_to_string(num_iteration=model.best_iteration))
    return LightGBM(model, encoding, classes)


def xgboost(
    train: pd.DataFrame,
    config: Any,
    validation: pd.DataFrame | None = None,
    *,
    params: dict[str, Any] | None = None,
    num_boost_round: int = 1000,
    early_stopping_rounds: int | None = 50,
) -> XGBoost:
    """Train an XGBoost booster with ``xgboost.train`` on ``train``, stopping once the validation
    rows' loss has not improved for ``early_stopping_rounds`` rounds (None: all ``num_boost_round``);
    ``params`` are XGBoost's (objective and seed are set from the task and ``split.seed``)."""
    import xgboost as xgb

    base = {"tree_method": "hist", "seed": int(config.split.seed)}
    encoding, classes, settings = prepared(config, train, base, ("binary:logistic", "multi:softprob"), params)
    data = xgb.DMatrix(encoding.frame(train), targets(config, train, classes), enable_categorical=True)
    checks = []
    if validation is not None and early_stopping_rounds:
        checks = [
            (
                xgb.DMatrix(
                    encoding.frame(validation), targets(config, validation, classes), enable_categorical=True
                ),
                "validation",
            )
        ]
    model = xgb.train(
        settings,
        data,
        int(num_boost_round),
        evals=checks,
        early_stopping_rounds=int(early_stopping_rounds) if checks and early_stopping_rounds else None,
        verbose_eval=False,
    )
    if checks:  # keep only the trees up to the best round
        model = model[: model.best_iteration + 1]
    return XGBoost(model, encoding, classes)
