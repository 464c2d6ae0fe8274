"""The model contract: finding model folders and composing their Hydra configs (``catalog``),
building a model's pipeline (``features``), its data sources (``data``) and which models a git change
touches (``changes``)."""

__all__ = ["TASKS", "catalog", "changes", "data", "features"]

# what a model may do (config: task); templates/model's hook keeps its own copy, since plain
# cookiecutter runs it without mlops
TASKS = ("regression", "classification")
