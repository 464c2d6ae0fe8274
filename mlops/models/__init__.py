"""The model contract: finding model folders and composing their Hydra configs (``catalog``),
building a model's pipeline (``features``) or fitting it by its own trainer (``trainer``, to the
``protocol``, held as ``trained``; the native ``boosters``), its data sources (``data``), which
models a git change touches (``changes``) and a model's own environment (``environment``)."""

__all__ = [
    "ESTIMATORS",
    "KINDS",
    "TASKS",
    "boosters",
    "catalog",
    "changes",
    "columns",
    "data",
    "environment",
    "features",
    "protocol",
    "trained",
    "trainer",
]

# what a model may do (config: task); templates/model's hook keeps its own copy, since plain
# cookiecutter runs it without mlops
TASKS = ("regression", "classification")
# what a new model is fitted by (mlops new --estimator): a scikit-learn forest in the framework's pipeline,
# or a booster's own training (mlops.models.boosters); the hook keeps its own copy of this too
ESTIMATORS = ("random_forest", "lightgbm", "xgboost")
# the kinds of feature column a schema declares (schema.<kind>), each with its preprocessing steps
KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
