"""evaluate: score the candidate, and the current champion, on the same held-out test rows."""

from __future__ import annotations

import json
import tempfile
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.models import catalog
from mlops.registry import artifacts

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from mlflow.entities.model_registry import ModelVersion
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline

    from mlops.evaluation.slices import JudgedSlice


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
    # the improvement's paired bootstrap (mlops.evaluation.uncertainty)
    interval: dict[str, Any] | None = None  # an Interval's fields
    # each declared slice, judged (mlops.evaluation.slices)
    slices: list[JudgedSlice] = field(default_factory=list)
    # the candidate's and champion's figures (None without a champion; mlops.evaluation.cost), at
    # registration also their ratios and the bounds
    cost: dict[str, Any] = field(default_factory=dict)
    # chart data (mlops.evaluation.curves)
    curves: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    # whether a larger value is better, for every metric (the model's own among them)
    directions: dict[str, bool] = field(default_factory=dict)


def score(cfg: DictConfig, pipeline: Pipeline, test: pd.DataFrame) -> dict[str, float]:
    """Return every metric of the model (its task's and its own) for ``pipeline`` on ``test``; raise
    naming a metric of the model's own that fails or is not a finite number there."""
    import numpy as np

    from mlops.evaluation import metrics
    from mlops.models.features import feature_columns

    found = metrics.outputs(cfg.task, pipeline, test[feature_columns(cfg)])
    return metrics.checked(cfg.name, metrics.suite(cfg), found, np.asarray(test[cfg.schema.target]))


def run(cfg: DictConfig, pipeline: Pipeline, test: pd.DataFrame) -> Evaluation:
    """Score the candidate and the registered champion (if any) on ``test``. A champion that
    cannot be loaded or scored on these rows is reported in ``champion_error``."""
    from mlops import registry
    from mlops.evaluation import metrics

    chosen = metrics.suite(cfg)
    directions = {name: chosen.higher_is_better(name) for name in chosen.names()}
    evaluation = Evaluation(score(cfg, pipeline, test), directions=directions)
    return compared(cfg, evaluation, pipeline, registry.champion(cfg.name), test)


def compared(
    cfg: DictConfig,
    evaluation: Evaluation,
    pipeline: Pipeline,
    champion: ModelVersion | None,
    test: pd.DataFrame,
) -> Evaluation:
    """Return the candidate's ``evaluation`` with ``champion`` (None: no champion) scored on the rows
    of ``test`` it did not train on (see ``mlops.evaluation.overlap``), the candidate too when rows were
    left out; the slices judged and the cost of serving measured on the same rows, both models' calls
    interleaved."""
    from mlops import registry
    from mlops.evaluation import cost, overlap

    fresh = Evaluation(evaluation.metrics, directions=evaluation.directions)
    if champion is None:
        return judged(cfg, fresh, pipeline, test, None)
    fresh.champion_version = str(champion.version)
    try:
        with tempfile.TemporaryDirectory() as temporary:
            folder = registry.download(champion, temporary)
            recorded = overlap.read(folder)
            unseen = overlap.unseen(test, recorded) if recorded else None
            rows = test if unseen is None else test[unseen]
            if rows.empty:
                raise MlopsError(
                    f"it trained on every one of the {len(test)} test rows, so none is fair to compare on"
                )
            theirs, footprint = cost.loaded(folder, catalog.trusted(cfg), cfg.name)
        if unseen is None:
            fresh.note = "the champion's training rows are not recorded: compared on every test row"
        fresh.excluded_rows, fresh.compared_rows = len(test) - len(rows), len(rows)
        result = judged(cfg, fresh, pipeline, rows, theirs)
    except (MlopsError, KeyError, ValueError, OSError) as error:
        # the candidate is still judged alone: its slices, cost and charts are reported
        alone = Evaluation(
            evaluation.metrics, champion_version=fresh.champion_version, directions=evaluation.directions
        )
        failed = judged(cfg, alone, pipeline, test, None)
        failed.champion_error = str(error).splitlines()[0]
        return failed
    result.cost["champion"] |= footprint
    return result


def judged(
    cfg: DictConfig,
    evaluation: Evaluation,
    pipeline: Pipeline,
    rows: pd.DataFrame,
    champion: Pipeline | None,
) -> Evaluation:
    """Fill ``evaluation`` with what candidate and ``champion`` (None: no champion) do on ``rows``:
    the champion's metrics (and the candidate's, when ``rows`` are not every test row), the interval
    of the improvement, the slices, the cost of serving and the chart data."""
    from mlops.evaluation import cost, curves, metrics, slices, uncertainty
    from mlops.models.features import feature_columns

    features, target = rows[feature_columns(cfg)], rows[cfg.schema.target].to_numpy()
    ours = metrics.outputs(cfg.task, pipeline, features)
    models = [(pipeline, features)]
    theirs = None
    if champion is not None:  # the champion takes the columns it was fitted on: a schema may change
        models.append((champion, rows[list(getattr(champion, "feature_names_in_", features.columns))]))
        theirs = metrics.outputs(cfg.task, champion, models[1][1])
    if theirs is not None:
        chosen = metrics.suite(cfg)
        evaluation.champion_metrics = metrics.every(chosen, theirs, target)
        if evaluation.excluded_rows:
            evaluation.compared_metrics = metrics.every(chosen, ours, target)
        evaluation.interval = uncertainty.of(cfg, target, ours, theirs).as_dict()
    evaluation.slices = slices.judge(cfg, rows.drop(columns=[cfg.schema.target]), target, ours, theirs)
    measured = cost.serving(models)
    evaluation.cost = {"candidate": measured[0], "champion": measured[1] if champion is not None else None}
    evaluation.curves = {
        side: None if found is None else curves.summarize(cfg.task, target, found, cfg.split.seed)
        for side, found in (("candidate", ours), ("champion", theirs))
    }
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
    from mlops.registry import modelio
    from mlops.steps import prep

    pipeline = modelio.load(args.model_dir, catalog.trusted(cfg), cfg.name)
    evaluation = run(cfg, pipeline, prep.read(args.data).test)
    args.output.mkdir(parents=True, exist_ok=True)
    (args.output / artifacts.EVALUATION_FILE).write_text(json.dumps(asdict(evaluation), indent=2))


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data", "model-dir", "output"], _main)
