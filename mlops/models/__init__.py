"""The model contract: finding model folders and composing their Hydra configs (``catalog``),
building a model's pipeline (``features``), its data sources (``data``) and which models a git change
touches (``changes``)."""

__all__ = ["KINDS", "TASKS", "catalog", "changes", "columns", "data", "features"]

# what a model may do (config: task); templates/model's hook keeps its own copy, since plain
# cookiecutter runs it without mlops
TASKS = ("regression", "classification")
# the kinds of feature column a schema declares (schema.<kind>), each with its preprocessing steps
KINDS = ("numeric", "categorical", "boolean", "datetime", "text")
