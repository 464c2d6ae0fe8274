"""Build a model's scikit-learn Pipeline: the declared preprocessing, then the estimator."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline


def feature_columns(cfg: DictConfig) -> list[str]:
    """Return the model's feature columns: numeric first, then categorical."""
    return list(cfg.schema.get("numeric") or []) + list(cfg.schema.get("categorical") or [])


def missing_as_nan(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Return ``frame`` with every missing value of the text ``columns`` as NaN, so training and every
    scoring path treat it alike: pandas 2 keeps a None in an object column, which scikit-learn's
    imputers do not count as missing (pandas 3 text columns already hold NaN)."""
    present = [column for column in columns if column in frame and frame[column].dtype == object]
    if not present:
        return frame
    return frame.assign(**{column: frame[column].where(frame[column].notna()) for column in present})


def check_parameters(name: str, component: Any, key: str) -> None:
    """Raise naming the config key of a parameter value a scikit-learn component refuses (a text for a
    number, say), before any data is read: scikit-learn itself checks only when it fits."""
    from sklearn.utils._param_validation import InvalidParameterError

    validate = getattr(component, "_validate_params", None)  # scikit-learn's checker of its constraints
    if validate is None:
        return
    try:
        validate()
    except InvalidParameterError as error:
        found = re.match(r"The '(\w+)' parameter of (\w+) (must be .*?)\. Got (.*) instead", str(error))
        if found is None:
            raise MlopsError(f"{name}: {key}: {error}") from None
        parameter, owner, rule, got = found.groups()
        raise MlopsError(
            f"{name}: {key}.{parameter} is {got}; {owner}'s {parameter} {rule}. Fix the override "
            f"or the config file"
        ) from None


def build_pipeline(cfg: DictConfig) -> Pipeline:
    """Return an unfitted Pipeline: a ColumnTransformer over the schema's numeric and categorical
    columns (steps from ``preprocessing``), then the estimator from ``estimator._target_``."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from sklearn.base import is_classifier, is_regressor
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline, make_pipeline

    from mlops.models.catalog import one_line

    try:
        estimator = instantiate(cfg.estimator)
        check_parameters(cfg.name, estimator, "estimator")
        branches = []
        for kind in ("numeric", "categorical"):
            columns = list(cfg.schema.get(kind) or [])
            steps = [instantiate(step) for step in cfg.preprocessing.get(kind) or []]
            for number, step in enumerate(steps):
                check_parameters(cfg.name, step, f"preprocessing.{kind}[{number}]")
            if columns:
                branches.append((kind, make_pipeline(*steps) if steps else "passthrough", columns))
    except InstantiationException as error:
        raise MlopsError(
            f"{cfg.name}: cannot build the estimator or preprocessing: {one_line(error)}; check the "
            "_target_ class paths and parameters under estimator and preprocessing"
        ) from None
    expected = is_classifier if cfg.task == "classification" else is_regressor
    if not expected(estimator):
        raise MlopsError(
            f"{cfg.name}: estimator {cfg.estimator._target_} is not a {cfg.task} estimator; "
            f"pick one that matches task: {cfg.task}"
        )
    return Pipeline([("preprocess", ColumnTransformer(branches)), ("estimator", estimator)])
