"""The monitoring baseline recorded with every registered version: a profile of the training rows
(types, bounds, category counts, feature importance, test metrics) and a seeded sample of them with
the model's predictions, kept in the ``monitoring/`` folder of the registered MLflow model folder
itself, so it travels with every copy of the model (a download, an Azure ML registry share). The
profile is of the monitored columns (``mlops.monitoring.views``: a date-time's hour and weekday, a
text's length and word count); the sample keeps the raw columns, which the model and Azure's monitor
read."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.models.features import dtype_kind
from mlops.monitoring import metrics, views

if TYPE_CHECKING:
    import pandas as pd
    from sklearn.pipeline import Pipeline

ARTIFACT_PATH = "monitoring"
PROFILE_FILE = "profile.json"
SAMPLE_FILE = "baseline.parquet"
HOLDOUT_FILE = "holdout.parquet"  # held-out test rows with their target: a classifier's calibration check
HOLDOUT_ROWS = 5000
PREDICTION = "prediction"
FORMAT = 1
# rows of the test split that permutation importance is computed on
IMPORTANCE_ROWS = 1000


@dataclass
class Baseline:
    """A version's training profile and sample, and a sample of its held-out test rows with the
    target (None in a baseline written before they were kept)."""

    profile: dict[str, Any]
    sample: pd.DataFrame
    holdout: pd.DataFrame | None = None

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        """Return the profile of every monitored feature column and of the prediction."""
        columns: dict[str, dict[str, Any]] = self.profile["columns"]
        return columns

    @property
    def kinds(self) -> dict[str, str]:
        """Return each raw feature column's declared kind (empty in a baseline written before kinds
        were kept: every column is then monitored as it is)."""
        kinds: dict[str, str] = self.profile.get("kinds") or {}
        return kinds

    @cached_property
    def view(self) -> pd.DataFrame:
        """Return the sample's monitored columns (``views.monitored``), the prediction and the target."""
        return views.monitored(self.kinds, self.sample)

    @property
    def importance(self) -> dict[str, float]:
        """Return each monitored column's permutation importance: that of the raw column it comes from."""
        raw = self.profile.get("feature_importance") or {}
        source = views.sources(self.kinds)
        return {
            column: raw[source.get(column, column)]
            for column in self.columns
            if source.get(column, column) in raw
        }


def labels(series: pd.Series, kind: str) -> pd.Series:
    """Return a column's values as category labels (strings, nulls kept): integers without a
    decimal point, booleans as true/false, so baseline and production labels always compare."""
    import pandas as pd

    if kind == "integer":
        return series.astype("Int64").astype("string").astype(object).where(series.notna(), None)
    if kind == "boolean":
        return series.map({True: "true", False: "false"}).astype(object).where(series.notna(), None)
    return series.astype("string").astype(object).where(pd.notna(series), None)


def category_counts(baseline: Baseline, name: str) -> dict[str, int]:
    """Return the training count of each category of column ``name``: the profile's counts of every
    training row, or the sample's labels for a column typed categorical by an override."""
    profile = baseline.columns[name]
    counts: dict[str, int] = (
        profile.get("categories") or labels(baseline.view[name], profile["dtype"]).value_counts().to_dict()
    )
    return counts


def describe(series: pd.Series) -> dict[str, Any]:
    """Return one column's profile: kind, Azure type, null rate, bounds or category counts."""
    kind = dtype_kind(series)
    non_null = series.dropna()
    distinct = non_null.nunique() / len(non_null) if len(non_null) else 0.0
    column: dict[str, Any] = {
        "dtype": kind,
        "type": metrics.column_type(kind, distinct),
        "distinct_ratio": float(distinct),
        "null_rate": float(series.isna().mean()) if len(series) else 0.0,
    }
    if kind in ("float", "integer") and len(non_null):
        column |= {"min": float(non_null.min()), "max": float(non_null.max())}
    if column["type"] == metrics.CATEGORICAL:
        counts = labels(series, kind).value_counts(dropna=True)
        column["categories"] = {str(label): int(count) for label, count in counts.items()}
    return column


def feature_importance(
    pipeline: Pipeline, features: pd.DataFrame, target: pd.Series, seed: int
) -> dict[str, float]:
    """Return each raw feature's permutation importance (mean score drop) on up to 1000 test rows."""
    from sklearn.inspection import permutation_importance

    rows = features.sample(min(len(features), IMPORTANCE_ROWS), random_state=seed).index
    result = permutation_importance(
        pipeline, features.loc[rows], target.loc[rows], n_repeats=3, random_state=seed
    )
    ranked = zip(features.columns, result.importances_mean, strict=True)
    return {column: float(value) for column, value in ranked}


def from_frame(
    train: pd.DataFrame, columns: list[str], rows: int, seed: int, kinds: dict[str, str] | None = None
) -> Baseline:
    """Profile the monitored columns of ``columns`` of the training rows (a date-time or text column
    of ``kinds`` through its parts, see ``views``) and keep a seeded sample of at most ``rows`` of them,
    raw."""
    kinds = kinds or {}
    sample = train.sample(min(len(train), rows), random_state=seed)[columns]
    monitored = views.monitored(kinds, train[columns])
    profile = {
        "format": FORMAT,
        "training_rows": len(train),
        "sample_rows": len(sample),
        "kinds": kinds,
        "columns": {str(column): describe(monitored[column]) for column in monitored.columns},
        "feature_importance": {},
    }
    return Baseline(profile, sample.reset_index(drop=True))


def build(
    train: pd.DataFrame,
    test: pd.DataFrame,
    features: list[str],
    target: str,
    pipeline: Pipeline,
    rows: int,
    seed: int,
    test_metrics: dict[str, float],
    kinds: dict[str, str] | None = None,
) -> Baseline:
    """Profile the training rows' monitored feature columns (a date-time or text column of ``kinds``,
    each feature column's declared kind, through its parts) and keep a seeded sample of at most
    ``rows`` of them, raw, with the pipeline's predictions; rank the raw features by permutation
    importance on the test rows; keep the test metrics (the default model-performance thresholds) and
    a seeded sample of at most ``HOLDOUT_ROWS`` test rows with their target."""
    baseline = from_frame(train, [*features, target], rows, seed, kinds)
    del baseline.profile["columns"][target]
    baseline.sample[PREDICTION] = pipeline.predict(baseline.sample[features])
    baseline.profile["target"] = target
    baseline.profile["columns"][PREDICTION] = describe(baseline.sample[PREDICTION])
    baseline.profile["feature_importance"] = feature_importance(pipeline, test[features], test[target], seed)
    baseline.profile["test_metrics"] = {key: float(value) for key, value in test_metrics.items()}
    holdout = test.sample(min(len(test), HOLDOUT_ROWS), random_state=seed)[[*features, target]]
    baseline.holdout = holdout.reset_index(drop=True)
    return baseline


def write(baseline: Baseline, folder: Path) -> None:
    """Write a baseline as ``profile.json``, ``baseline.parquet`` and (when kept) ``holdout.parquet``
    in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / PROFILE_FILE).write_text(json.dumps(baseline.profile, indent=2))
    baseline.sample.to_parquet(folder / SAMPLE_FILE)
    if baseline.holdout is not None:
        baseline.holdout.to_parquet(folder / HOLDOUT_FILE)


def read(folder: Path) -> Baseline:
    """Read a baseline written by ``write``."""
    import pandas as pd

    holdout = pd.read_parquet(folder / HOLDOUT_FILE) if (folder / HOLDOUT_FILE).is_file() else None
    return Baseline(
        json.loads((folder / PROFILE_FILE).read_text()), pd.read_parquet(folder / SAMPLE_FILE), holdout
    )


def load(model_folder: Path, described: str, name: str) -> Baseline:
    """Read the baseline inside an MLflow model folder; explain when the model was logged without one.
    ``described`` names the model ("version 3 of 'taxi-fare'") and ``name`` the registered model."""
    folder = Path(model_folder) / ARTIFACT_PATH
    if not (folder / PROFILE_FILE).is_file() or not (folder / SAMPLE_FILE).is_file():
        raise MlopsError(
            f"{described} has no monitoring baseline (no {ARTIFACT_PATH}/{PROFILE_FILE} and "
            f"{SAMPLE_FILE} in the model; it was registered before baselines were kept with the model); "
            f"train a new version with 'mlops train {name}' or pick one with --version"
        )
    return read(folder)
