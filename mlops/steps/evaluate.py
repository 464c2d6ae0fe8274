"""evaluate: score the candidate, and the current champion, on the same held-out test rows."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline


@dataclass
class Evaluation:
    """Test metrics of the candidate and of the champion it is compared with."""

    metrics: dict[str, float]
    champion_version: str | None = None
    champion_metrics: dict[str, float] | None = None
    champion_error: str | None = None


def score(cfg: DictConfig, pipeline: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Return every metric of the model's task for ``pipeline`` on ``test``."""
    from mlops import metrics
    from mlops.features import feature_columns

    return metrics.compute(cfg.task, pipeline, test[feature_columns(cfg)], test[cfg.schema.target])


def run(cfg: DictConfig, pipeline: Pipeline, test: pd.DataFrame) -> Evaluation:
    """Score the candidate and the registered champion (if any) on ``test``. A champion that
    cannot be loaded or scored on these rows is reported in ``champion_error``."""
    from mlops import registry

    return compared(cfg, Evaluation(score(cfg, pipeline, test)), registry.champion(cfg.name), test)


def compared(
    cfg: DictConfig, evaluation: Evaluation, champion: ModelVersion | None, test: pd.DataFrame
) -> Evaluation:
    """Return the candidate's ``evaluation`` with ``champion`` (None: no champion) scored on ``test``."""
    from mlops import registry
    from mlops.errors import MlopsError

    evaluation = Evaluation(evaluation.metrics)
    if champion is None:
        return evaluation
    evaluation.champion_version = str(champion.version)
    try:
        champion_pipeline = registry.load(champion, cfg.serialization.trusted_types)
        evaluation.champion_metrics = score(cfg, champion_pipeline, test)
    except (MlopsError, KeyError, ValueError) as error:
        evaluation.champion_error = str(error).splitlines()[0]
    return evaluation


def against_current(cfg: DictConfig, evaluation: Evaluation, test: pd.DataFrame) -> Evaluation:
    """Return ``evaluation`` compared with the champion as it is now: when another version took the
    alias since it was made (a concurrent train), that version is scored on ``test`` instead."""
    from mlops import registry

    champion = registry.champion(cfg.name)
    if (str(champion.version) if champion else None) == evaluation.champion_version:
        return evaluation
    return compared(cfg, evaluation, champion, test)


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops import modelio
    from mlops.steps import prep

    pipeline = modelio.load(args.model_dir, cfg.serialization.trusted_types, cfg.name)
    evaluation = run(cfg, pipeline, prep.read(args.data).test)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / "evaluation.json").write_text(json.dumps(asdict(evaluation), indent=2))


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data", "model-dir", "output"], _main)
