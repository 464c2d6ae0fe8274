"""train: fit the model on the training rows: its Pipeline (its feature transformers, the declared
preprocessing, the estimator) or its own trainer's model."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline

    from mlops.models.trained import Trained


def run(cfg: DictConfig, train: pd.DataFrame) -> Pipeline | Trained:
    """Return the model fitted on ``train``: its own trainer's model, checked (``trainer:``), else its
    pipeline (``estimator:``)."""
    from mlops.models import features, trainer

    return trainer.fit(cfg, train) if "trainer" in cfg else features.fit(cfg, train)


def target(cfg: DictConfig) -> str:
    """Return what fits the model: its trainer's or its estimator's ``_target_``."""
    return str((cfg.get("trainer") or cfg.estimator)._target_)


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops.models import catalog
    from mlops.registry import modelio
    from mlops.steps import prep

    pipeline = run(cfg, prep.read(args.data).train)
    code = catalog.model_dir(cfg.name) / "code"
    modelio.save(pipeline, args.output, catalog.trusted(cfg), cfg.name, code=code)


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data", "output"], _main)
