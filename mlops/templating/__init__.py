"""The model template and the folders baked from it: ``mlops new`` (``scaffold``) and
``mlops upgrade`` (``upgrade``)."""

__all__ = ["scaffold", "upgrade"]
