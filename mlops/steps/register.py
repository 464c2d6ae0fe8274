"""register: log the candidate as a new registered version, then let the gate decide the champion."""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core import settings
from mlops.evaluation import gate
from mlops.models import catalog
from mlops.registry import artifacts

if TYPE_CHECKING:
    import argparse

    import pandas as pd
    from mlflow.models import ModelSignature
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline

    from mlops.steps.evaluate import Evaluation
    from mlops.steps.prep import Split


@dataclass
class Registration:
    """The new version and the gate's verdict on it."""

    version: str
    decision: gate.Decision
    report: Path | str | None = None  # the comparison report, written locally and logged with the run

    def as_dict(self, name: str) -> dict[str, object]:
        """Return the registration as ``mlops train --json`` reports it."""
        return {
            "model": name,
            "version": self.version,
            "champion": self.decision.promote,
            "verdict": self.decision.verdict,
            "reason": self.decision.reason,
            "report": str(self.report) if self.report else None,
        }


def decide(cfg: DictConfig, evaluation: Evaluation) -> gate.Decision:
    """Apply the model's evaluation settings to the candidate and champion metrics."""
    from mlops.evaluation import metrics
    from mlops.evaluation.uncertainty import Interval

    return gate.decide(
        metrics.suite(cfg),
        evaluation.metrics,
        compared=evaluation.compared_metrics,
        interval=Interval(**evaluation.interval) if evaluation.interval else None,
        rows=rows_note(evaluation),
        primary_metric=cfg.evaluation.primary_metric,
        thresholds=dict(cfg.evaluation.get("thresholds") or {}),
        min_improvement=settings.value(cfg.evaluation, "evaluation.min_improvement"),
        min_test_rows=settings.value(cfg.evaluation, "evaluation.min_test_rows"),
        champion=evaluation.champion_metrics,
        champion_version=evaluation.champion_version,
        champion_error=evaluation.champion_error,
        slices=evaluation.slices,
        cost=evaluation.cost,
        cost_bounds=dict(cfg.evaluation.get("cost") or {}),
    )


def write_report(
    cfg: DictConfig, version: str, evaluation: Evaluation, decision: gate.Decision, run_id: str
) -> Path:
    """Write the comparison report of ``version`` against the champion into the state folder's
    ``reports/<model>/``, log it and the evaluation (``evaluation/``) with the run; return its path."""
    from dataclasses import asdict

    from mlops import registry
    from mlops.core import project
    from mlops.reports import comparison

    folder: Path = project.state_dir() / "reports" / cfg.name
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"version-{version}-comparison.html"
    recorded = asdict(evaluation)
    comparison.write(
        path,
        cfg.name,
        version,
        cfg.task,
        primary_metric=cfg.evaluation.primary_metric,
        evaluation=recorded,
        decision={"verdict": decision.verdict, "reason": decision.reason},
        curves=recorded.pop("curves"),
    )
    with tempfile.TemporaryDirectory() as temporary:
        saved = Path(temporary) / artifacts.EVALUATION_FILE
        saved.write_text(json.dumps({**recorded, "version": version, "verdict": decision.verdict}, indent=2))
        mlflow_client = registry.client()
        shutil.copyfile(path, saved.with_name(artifacts.COMPARISON_FILE))
        mlflow_client.log_artifacts(run_id, temporary, artifacts.EVALUATION_ARTIFACT_PATH)
    return path


def write_card(name: str, version: str, run_id: str) -> None:
    """Log the model card of the new version with its run (``card/``), as registered."""
    from mlops import registry
    from mlops.reports import card

    with tempfile.TemporaryDirectory() as temporary:
        card.write(card.build(registry.get_version(name, version)), Path(temporary))
        registry.client().log_artifacts(run_id, temporary, artifacts.CARD_ARTIFACT_PATH)


def rows_note(evaluation: Evaluation) -> str:
    """Return which test rows candidate and champion were compared on, for the gate's reason."""
    if evaluation.note:
        return evaluation.note
    if evaluation.excluded_rows:
        return (
            f"on the {evaluation.compared_rows:,} test rows the champion did not train on "
            f"({evaluation.excluded_rows:,} it trained on left out)"
        )
    return ""


def lineage_tags(cfg: DictConfig, split: Split, overrides: Sequence[str], run_id: str) -> dict[str, str]:
    """Return the tags that say what produced a version: code, data, config. The whole resolved config
    (5,360 characters for taxi-fare) is the run's ``config.yaml``, which the ``config`` tag names, with
    its sha256 beside it: every tag stays within ``registry.TAG_LIMIT``."""
    import hashlib

    from omegaconf import OmegaConf

    from mlops import registry
    from mlops.registry import lineage

    commit, dirty = lineage.git_commit(catalog.model_dir(cfg.name))
    config = OmegaConf.to_yaml(cfg, resolve=True)
    return {
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "data_source": registry.fitted(str(split.info["source"])),
        "data_fingerprint": split.info["data_fingerprint"],
        "split_seed": str(split.info["seed"]),
        "test_rows": str(split.info["test_rows"]),
        "env": str(OmegaConf.select(cfg, "env.name", default="")),
        "overrides": registry.fitted(" ".join(overrides)),
        "config": f"runs:/{run_id}/{artifacts.CONFIG_FILE}",
        "config_sha256": hashlib.sha256(config.encode()).hexdigest(),
    }


def signature(cfg: DictConfig, features: pd.DataFrame, predictions: Any) -> ModelSignature:
    """Return the signature of the raw columns a caller sends, by kind: numeric columns as doubles (a
    request may hold ints, floats or nulls), booleans, datetimes, text as strings, categorical columns as
    their data holds them (strings or integers); the outputs as the predictions are."""
    from mlflow.models import ModelSignature, infer_signature
    from mlflow.types import ColSpec, DataType, Schema

    from mlops.models.features import column_kinds

    kinds = column_kinds(cfg)
    declared = {"numeric": DataType.double, "boolean": DataType.boolean, "datetime": DataType.datetime}
    declared["text"] = DataType.string
    categorical = [column for column in features if kinds[column] == "categorical"]
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
        inferred = infer_signature(features[categorical] if categorical else None, predictions)
    found = {spec.name: spec.type for spec in inferred.inputs.inputs} if inferred.inputs else {}
    inputs = Schema([ColSpec(declared.get(kinds[column]) or found[column], column) for column in features])
    return ModelSignature(inputs, inferred.outputs)


def save_model(cfg: DictConfig, pipeline: Pipeline, train: pd.DataFrame, folder: Path) -> None:
    """Write ``pipeline`` as an MLflow model folder (``modelio.save``), with the model's own code
    (``code/``), the signature of its raw feature columns, their first five training rows as input
    example (numbers as doubles, as the signature has them) and the model's
    ``environment/requirements.txt`` as pip requirements."""
    from mlops.models.features import column_kinds, feature_columns
    from mlops.registry import modelio

    features = train[feature_columns(cfg)]
    numeric = [column for column, kind in column_kinds(cfg).items() if kind == "numeric"]
    home = catalog.model_dir(cfg.name)
    requirements = home / "environment" / "requirements.txt"
    modelio.save(
        pipeline,
        folder,
        catalog.trusted(cfg),
        cfg.name,
        code=home / "code",
        signature=signature(cfg, features, pipeline.predict(features.head(100))),
        input_example=features.head(5).astype(dict.fromkeys(numeric, "float64")),  # as the signature says
        pip_requirements=str(requirements) if requirements.is_file() else None,
    )


def record_baseline(
    cfg: DictConfig, pipeline: Pipeline, split: Split, metrics: dict[str, float], model_folder: Path
) -> None:
    """Write the monitoring baseline (training profile, sample, predictions, feature importance and the
    model's own importance of each column when it gives one, test metrics) into the model folder's
    ``monitoring/`` folder, so monitoring compares with what this version was trained on."""
    from mlops.models.features import column_kinds, feature_columns
    from mlops.monitoring import baseline

    rows = int(cfg.monitoring.baseline_rows)
    recorded = baseline.build(
        split.train,
        split.test,
        feature_columns(cfg),
        cfg.schema.target,
        pipeline,
        rows,
        cfg.split.seed,
        metrics,
        kinds=column_kinds(cfg),
    )
    if hasattr(pipeline, "importances"):  # a trainer's model may rank its columns itself (a booster's gain)
        recorded.profile["model_importance"] = pipeline.importances()
    baseline.write(recorded, model_folder / baseline.ARTIFACT_PATH)


def run(
    cfg: DictConfig,
    pipeline: Pipeline,
    split: Split,
    evaluation: Evaluation,
    overrides: Sequence[str] = (),
) -> Registration:
    """Register ``pipeline`` as a new version with signature, input example, monitoring baseline,
    metrics and lineage; move the champion alias when the gate passes against the champion of that
    moment (compare-and-set under ``registry.gate_lock``); the version's ``gate`` tag says promoted,
    rejected or investigate, ``gate_reason`` why.

    The model folder is saved locally, logged as the ``model`` artifacts of the active run (or of a
    new ``register`` run) and registered from ``runs:/<run_id>/model``: the same run-artifact and
    registry calls on the local store and on any tracking server, none of MLflow 3's logged-models
    routes, which Azure ML's tracking server does not have."""
    import mlflow
    from omegaconf import OmegaConf

    from mlops import registry
    from mlops.evaluation import cost, overlap
    from mlops.models import environment
    from mlops.models.features import feature_columns
    from mlops.registry import digests
    from mlops.steps.evaluate import against_current

    failing = f"cannot register a version of '{cfg.name}'"
    with registry.answering(failing):
        experiment = registry.experiment_id(cfg.name)
    active = mlflow.active_run()
    scope = nullcontext(active) if active else mlflow.start_run(experiment_id=experiment, run_name="register")
    with scope as run, tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary) / artifacts.MODEL_ARTIFACT_PATH
        save_model(cfg, pipeline, split.train, folder)
        record_baseline(cfg, pipeline, split, evaluation.metrics, folder)
        overlap.write(split.train, [*feature_columns(cfg), cfg.schema.target], folder)
        _, footprint = cost.loaded(folder, catalog.trusted(cfg), cfg.name)
        files = digests.tag(folder)
        mlflow.log_artifacts(str(folder), artifact_path=artifacts.MODEL_ARTIFACT_PATH)
        config = OmegaConf.to_yaml(cfg, resolve=True)
        mlflow.log_text(config, artifacts.CONFIG_FILE)  # what the config tag names
    # a runs:/ source reads the same on every store: download_artifacts and Model.load resolve it, while
    # Model.load takes a local store's file:// artifact URI for a missing path
    source = f"runs:/{run.info.run_id}/{artifacts.MODEL_ARTIFACT_PATH}"
    # compare-and-set: under the model's gate lock the champion is read again, and a version that took
    # the alias since evaluate (a concurrent train) is scored and compared with instead
    with registry.gate_lock(cfg.name), registry.answering(failing):
        evaluation = against_current(cfg, evaluation, pipeline, split.test)
        evaluation.cost["candidate"] = {**evaluation.cost.get("candidate", {}), **footprint}
        evaluation.cost["ratios"] = cost.ratios(
            evaluation.cost["candidate"], evaluation.cost.get("champion") or {}
        )
        evaluation.cost["bounds"] = dict(cfg.evaluation.get("cost") or {})
        decision = decide(cfg, evaluation)
        tags = {f"{registry.METRIC_TAG_PREFIX}{key}": str(value) for key, value in evaluation.metrics.items()}
        tags |= lineage_tags(cfg, split, overrides, run.info.run_id) | files
        tags |= cost.tags(evaluation.cost["candidate"])
        tags |= environment.tags(cfg.name)  # the environment it trained in and its packages' versions
        tags |= {
            "compared_with_champion": evaluation.champion_version or "none",
            "gate": decision.verdict.tag,
            "gate_reason": registry.fitted(decision.reason),
        }
        version = registry.create_version(cfg.name, source, run.info.run_id, tags)
        if decision.promote:
            registry.make_champion(cfg.name, version, decision.reason)
    registry.client().log_batch(run.info.run_id, metrics=cost.logged(evaluation.cost["candidate"]))
    report = write_report(cfg, version, evaluation, decision, run.info.run_id)
    write_card(cfg.name, version, run.info.run_id)
    return Registration(version, decision, report)


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops.registry import modelio
    from mlops.steps import prep
    from mlops.steps.evaluate import Evaluation

    evaluation = Evaluation(**json.loads((args.evaluation / artifacts.EVALUATION_FILE).read_text()))
    pipeline = modelio.load(args.model_dir, catalog.trusted(cfg), cfg.name)
    result = run(cfg, pipeline, prep.read(args.data), evaluation, args.overrides)
    print(f"{cfg.name}: version {result.version} {result.decision.verdict.said}: {result.decision.reason}")
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / artifacts.REGISTRATION_FILE).write_text(json.dumps(result.as_dict(cfg.name), indent=2))


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data", "model-dir", "evaluation"], _main, optional=["output"])
