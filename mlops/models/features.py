"""Build and fit a model's scikit-learn Pipeline: the model's own feature transformers (``features``),
the declared preprocessing of each column kind (``preprocessing``), then the estimator."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError, whole_line
from mlops.models import KINDS

# the column kind (schema.<kind>) of each kind of values a column holds (``dtype_kind``)
DTYPE_KINDS = {
    "boolean": "boolean",
    "integer": "numeric",
    "float": "numeric",
    "datetime": "datetime",
    "string": "categorical",
}

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline


def feature_columns(cfg: DictConfig) -> list[str]:
    """Return the model's raw feature columns, what a caller sends: kind by kind in ``KINDS`` order."""
    return [column for kind in KINDS for column in cfg.schema.get(kind) or []]


def column_kinds(cfg: DictConfig) -> dict[str, str]:
    """Return each raw feature column's declared kind (``schema.<kind>``)."""
    return {column: kind for kind in KINDS for column in cfg.schema.get(kind) or []}


def missing_as_nan(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Return ``frame`` with every missing value of the text ``columns`` as NaN, so training and every
    scoring path treat it alike: pandas 2 keeps a None in an object column, which scikit-learn's
    imputers do not count as missing (pandas 3 text columns already hold NaN)."""
    present = [column for column in columns if column in frame and frame[column].dtype == object]
    if not present:
        return frame
    return frame.assign(**{column: frame[column].where(frame[column].notna()) for column in present})


def normalize(cfg: DictConfig, frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with its declared columns as every scoring path gives them to the model: a
    date-time column as naive UTC datetimes, a boolean column as nullable booleans (each only when
    every value reads as one: validation reports the rest), text and categories with NaN for missing."""
    from mlops.models.columns import READERS

    kinds = column_kinds(cfg)
    converted = {}
    for column, kind in kinds.items():
        if kind in READERS and column in frame:
            values = frame[column]
            parsed = READERS[kind](values)
            if not (parsed.isna() & values.notna()).any():
                converted[column] = parsed
    frame = frame.assign(**converted) if converted else frame
    return missing_as_nan(
        frame, [column for column, kind in kinds.items() if kind in ("categorical", "text")]
    )


def check_parameters(name: str, component: Any, key: str) -> None:
    """Raise naming the config key of a parameter value a scikit-learn component refuses (a text for a
    number, say), before any data is read: scikit-learn itself checks only when it fits. A component
    without scikit-learn's parameter constraints (LightGBM, XGBoost, a model's own) checks its own
    parameters when it fits (see ``fit``)."""
    from sklearn.utils._param_validation import InvalidParameterError

    validate = getattr(component, "_validate_params", None)  # scikit-learn's checker of its constraints
    if validate is None or not hasattr(component, "_parameter_constraints"):
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


@dataclass
class Parts:
    """The unfitted parts of a model's pipeline, each checked: the model's feature transformers, the
    preprocessing steps of each column kind and the estimator."""

    features: list[Any]
    preprocessing: dict[str, list[Any]]
    estimator: Any


def parts(cfg: DictConfig) -> Parts:
    """Instantiate the model's feature transformers, preprocessing steps and estimator; raise one line
    naming the key when a ``_target_`` does not import, a parameter is refused, or the estimator does
    not match the task."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate
    from sklearn.base import is_classifier, is_regressor

    from mlops.models.catalog import one_line

    def build(node: Any, key: str) -> Any:
        try:
            component = instantiate(node, _convert_="all")  # plain lists and dicts, never OmegaConf's
        except InstantiationException as error:
            raise MlopsError(
                f"{cfg.name}: {key}: cannot build {node.get('_target_')}: {one_line(error)}; check the "
                "_target_ path (a class of the model's code/ package or an installed library) and its "
                "parameters"
            ) from None
        check_parameters(cfg.name, component, key)
        return component

    features = [build(node, f"features[{number}]") for number, node in enumerate(cfg.get("features") or [])]
    preprocessing = {
        kind: [
            build(node, f"preprocessing.{kind}[{number}]")
            for number, node in enumerate(cfg.preprocessing.get(kind) or [])
        ]
        for kind in KINDS
    }
    estimator = build(cfg.estimator, "estimator")
    expected = is_classifier if cfg.task == "classification" else is_regressor
    if not expected(estimator):
        raise MlopsError(
            f"{cfg.name}: estimator {cfg.estimator._target_} is not a {cfg.task} estimator; "
            f"pick one that matches task: {cfg.task}"
        )
    return Parts(features, preprocessing, estimator)


def dtype_kind(series: pd.Series) -> str:
    """Return the kind of values a column holds: float, integer, boolean, datetime or string."""
    import pandas as pd

    if pd.api.types.is_bool_dtype(series):
        return "boolean"
    if pd.api.types.is_integer_dtype(series):
        return "integer"
    if pd.api.types.is_float_dtype(series):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(series):
        return "datetime"
    return "string"


def kind_of(values: pd.Series) -> str:
    """Return the column kind a derived column's dtype stands for: booleans, numbers, date-times, else
    categorical."""
    return DTYPE_KINDS[dtype_kind(values)]


def derived_kinds(cfg: DictConfig, raw: pd.DataFrame, derived: pd.DataFrame) -> dict[str, list[str]]:
    """Return the columns of each kind the preprocessing gets after the model's feature transformers: a
    declared column they left as it was keeps its kind, any other column's kind follows its dtype."""
    declared = column_kinds(cfg)
    kinds: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for column in derived.columns:
        unchanged = column in declared and column in raw and derived[column].dtype == raw[column].dtype
        kinds[declared[column] if unchanged else kind_of(derived[column])].append(str(column))
    return kinds


def fit(cfg: DictConfig, rows: pd.DataFrame) -> Pipeline:
    """Return the model's Pipeline fitted on ``rows`` (raw feature columns and the target): the model's
    feature transformers in order (``features``), a ColumnTransformer applying each kind's preprocessing
    to the columns of that kind they leave, then the estimator. A step that fails to fit is named in one
    line with its error."""
    import pandas as pd
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline, make_pipeline

    built = parts(cfg)
    raw, target = rows[feature_columns(cfg)], rows[cfg.schema.target]
    frame = raw
    for number, step in enumerate(built.features):
        where = f"features[{number}] ({cfg.features[number]._target_})"
        given = frame
        frame = fitted(cfg, where, lambda step=step, given=given: step.fit_transform(given, target))
        if not isinstance(frame, pd.DataFrame) and hasattr(step, "set_output"):
            # a scikit-learn transformer that returns arrays: ask it for a frame named by its outputs (one
            # that returns a frame already is left alone, as scikit-learn would rename its columns)
            step.set_output(transform="pandas")
            frame = fitted(cfg, where, lambda step=step, given=given: step.fit_transform(given, target))
        if not isinstance(frame, pd.DataFrame):
            raise MlopsError(
                f"{cfg.name}: {where} returned {type(frame).__name__}, not a pandas DataFrame; return the "
                "frame with its new columns (or give the class get_feature_names_out)"
            )
    kinds = derived_kinds(cfg, raw, frame)
    branches = [
        (
            kind,
            make_pipeline(*built.preprocessing[kind]) if built.preprocessing[kind] else "passthrough",
            columns,
        )
        for kind, columns in kinds.items()
        if columns
    ]
    preprocess = ColumnTransformer(branches)
    matrix = fitted(cfg, "preprocessing", lambda: preprocess.fit_transform(frame, target))
    estimator = built.estimator
    fitted(cfg, f"estimator ({cfg.estimator._target_})", lambda: estimator.fit(matrix, target))
    # the feature transformers are steps of the pipeline itself, not a pipeline of their own: scikit-learn
    # takes a pipeline as fitted when its last step is, and a stateless transformer never looks fitted
    steps = [(f"features_{number}", step) for number, step in enumerate(built.features)]
    return Pipeline([*steps, ("preprocess", preprocess), ("estimator", estimator)])


def fitted(cfg: DictConfig, where: str, work: Any) -> Any:
    """Return what ``work()`` returns; raise one line naming the model and the step when it fails."""
    return attempt(cfg, where, "failed to fit", work, "fix the step's code or its parameters in the config")


def attempt(cfg: DictConfig, step: str, failed: str, work: Any, fix: str) -> Any:
    """Return ``work()``; raise one line naming the model, the ``step``, what ``failed``, the error and
    the ``fix`` when it raises (a model's own code and any library's: whatever it raises)."""
    try:
        return work()
    except MlopsError:
        raise
    except Exception as error:
        raise MlopsError(
            f"{cfg.name}: {step} {failed}: {type(error).__name__}: {whole_line(error)}; {fix}"
        ) from None
