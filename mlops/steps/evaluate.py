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


CONFIDENCE = 0.95  # evaluation.confidence: the level of the improvement's interval
RESAMPLES = 1000  # evaluation.resamples: bootstrap resamples of the compared test rows


@dataclass
class Evaluation:
    """Test metrics of the candidate, and of the champion it is compared with on the test rows the
    champion did not train on (``compared_rows`` of them, ``excluded_rows`` left out; the candidate's
    metrics on those rows in ``compared_metrics`` when any were left out)."""

    metrics: dict[str, float]
    champion_version: str | None = None
    champion_metrics: dict[str, float] | None = None
    champion_error: str | None = None
    compared_metrics: dict[str, float] | None = None
    compared_rows: int | None = None
    excluded_rows: int = 0
    note: str = ""  # how the rows were chosen, when it could not be by the champion's training rows
    interval: dict[str, float] | None = None  # the improvement's paired bootstrap (mlops.uncertainty)


def score(cfg: DictConfig, pipeline: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Return every metric of the model's task for ``pipeline`` on ``test``."""
    from mlops import metrics
    from mlops.features import feature_columns

    return metrics.compute(cfg.task, pipeline, test[feature_columns(cfg)], test[cfg.schema.target])


def run(cfg: DictConfig, pipeline: Pipeline, test: pd.DataFrame) -> Evaluation:
    """Score the candidate and the registered champion (if any) on ``test``. A champion that
    cannot be loaded or scored on these rows is reported in ``champion_error``."""
    from mlops import registry

    evaluation = Evaluation(score(cfg, pipeline, test))
    return compared(cfg, evaluation, pipeline, registry.champion(cfg.name), test)


def compared(
    cfg: DictConfig,
    evaluation: Evaluation,
    pipeline: Pipeline,
    champion: ModelVersion | None,
    test: pd.DataFrame,
) -> Evaluation:
    """Return the candidate's ``evaluation`` with ``champion`` (None: no champion) scored on the rows
    of ``test`` it did not train on (see ``mlops.overlap``), the candidate too when rows were left out."""
    from mlops import metrics, overlap, registry, uncertainty
    from mlops.errors import MlopsError
    from mlops.features import feature_columns

    evaluation = Evaluation(evaluation.metrics)
    if champion is None:
        return evaluation
    evaluation.champion_version = str(champion.version)
    recorded = overlap.read(champion)
    fresh = overlap.unseen(test, recorded) if recorded else None
    if fresh is None:
        evaluation.note = "the champion's training rows are not recorded: compared on every test row"
        rows = test
    else:
        rows = test[fresh]
        evaluation.excluded_rows = len(test) - len(rows)
    evaluation.compared_rows = len(rows)
    if rows.empty:
        evaluation.champion_error = (
            f"it trained on every one of the {len(test)} test rows, so none is fair to compare on"
        )
        return evaluation
    features, target = rows[feature_columns(cfg)], rows[cfg.schema.target].to_numpy()
    try:
        champion_pipeline = registry.load(champion, cfg.serialization.trusted_types)
        theirs = metrics.outputs(cfg.task, champion_pipeline, features)
    except (MlopsError, KeyError, ValueError) as error:
        evaluation.champion_error = str(error).splitlines()[0]
        return evaluation
    ours = metrics.outputs(cfg.task, pipeline, features)
    names = metrics.names(cfg.task)
    evaluation.champion_metrics = {name: metrics.measure(cfg.task, name, theirs, target) for name in names}
    if evaluation.excluded_rows:
        evaluation.compared_metrics = {name: metrics.measure(cfg.task, name, ours, target) for name in names}
    settings = cfg.evaluation
    evaluation.interval = uncertainty.improvement(
        cfg.task,
        settings.primary_metric,
        target,
        ours,
        theirs,
        level=settings.get("confidence", CONFIDENCE),
        resamples=settings.get("resamples", RESAMPLES),
        seed=cfg.split.seed,
    ).as_dict()
    return evaluation


def against_current(
    cfg: DictConfig, evaluation: Evaluation, pipeline: Pipeline, test: pd.DataFrame
) -> Evaluation:
    """Return ``evaluation`` compared with the champion as it is now: when another version took the
    alias since it was made (a concurrent train), that version is scored on ``test`` instead."""
    from mlops import registry

    champion = registry.champion(cfg.name)
    if (str(champion.version) if champion else None) == evaluation.champion_version:
        return evaluation
    return compared(cfg, evaluation, pipeline, champion, test)


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
