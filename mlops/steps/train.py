"""train: fit the model's Pipeline (declared preprocessing + estimator) on the training rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline


def run(cfg: DictConfig, train: pd.DataFrame) -> Pipeline:
    """Return the model's pipeline fitted on ``train``."""
    from mlops.models.features import build_pipeline, feature_columns

    pipeline = build_pipeline(cfg)
    pipeline.fit(train[feature_columns(cfg)], train[cfg.schema.target])
    return pipeline


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops.registry import modelio
    from mlops.steps import prep

    pipeline = run(cfg, prep.read(args.data).train)
    modelio.save(pipeline, args.output, cfg.serialization.trusted_types, cfg.name)


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data", "output"], _main)
