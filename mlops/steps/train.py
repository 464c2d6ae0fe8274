"""train: fit the model's Pipeline (its feature transformers, the declared preprocessing, the estimator) on
the training rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline


def run(cfg: DictConfig, train: pd.DataFrame) -> Pipeline:
    """Return the model's pipeline fitted on ``train``."""
    from mlops.models import features

    return features.fit(cfg, train)


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
