"""The self-contained HTML pages: ``page`` and ``svg`` (what every report shares), the comparison
report of a training run and the model card of a version."""

__all__ = ["card", "comparison", "page", "svg"]
