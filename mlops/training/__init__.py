"""One local training run of a model: prep, validate, train, evaluate and register (``run``)."""

__all__ = ["run"]
