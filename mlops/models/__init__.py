"""The model contract: finding model folders and composing their Hydra configs (``catalog``),
building a model's pipeline (``features``), its data sources (``data``) and which models a git change
touches (``changes``)."""

__all__ = ["catalog", "changes", "data", "features"]
