"""register: log the candidate as a new registered version, then let the gate decide the champion."""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlops import gate

if TYPE_CHECKING:
    import argparse

    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline

    from mlops.steps.evaluate import Evaluation
    from mlops.steps.prep import Split


# what the step writes to its --output folder: the version and the gate's verdict, for the submission
REGISTRATION_FILE = "registration.json"


@dataclass
class Registration:
    """The new version and the gate's verdict on it."""

    version: str
    decision: gate.Decision

    def as_dict(self, name: str) -> dict[str, object]:
        """Return the registration as ``mlops train --json`` reports it."""
        return {
            "model": name,
            "version": self.version,
            "champion": self.decision.promote,
            "reason": self.decision.reason,
        }


def decide(cfg: DictConfig, evaluation: Evaluation) -> gate.Decision:
    """Apply the model's evaluation settings to the candidate and champion metrics."""
    return gate.decide(
        cfg.task,
        evaluation.metrics,
        primary_metric=cfg.evaluation.primary_metric,
        thresholds=dict(cfg.evaluation.get("thresholds") or {}),
        min_improvement=cfg.evaluation.get("min_improvement", 0.0),
        champion=evaluation.champion_metrics,
        champion_version=evaluation.champion_version,
        champion_error=evaluation.champion_error,
    )


def lineage_tags(cfg: DictConfig, split: Split, overrides: Sequence[str]) -> dict[str, str]:
    """Return the tags that say what produced a version: code, data, config."""
    from omegaconf import OmegaConf

    from mlops import catalog, lineage

    commit, dirty = lineage.git_commit(catalog.model_dir(cfg.name))
    return {
        "git_commit": commit,
        "git_dirty": str(dirty).lower(),
        "data_source": split.info["source"],
        "data_fingerprint": split.info["data_fingerprint"],
        "split_seed": str(split.info["seed"]),
        "test_rows": str(split.info["test_rows"]),
        "env": str(OmegaConf.select(cfg, "env.name", default="")),
        "overrides": " ".join(overrides),
        "config": OmegaConf.to_yaml(cfg, resolve=True),
    }


def record_baseline(
    cfg: DictConfig, pipeline: Pipeline, split: Split, metrics: dict[str, float], model_id: str
) -> None:
    """Add the monitoring baseline (training profile, sample, predictions, feature importance, test
    metrics) to the logged model, so monitoring compares with what this version was trained on."""
    from mlops.features import feature_columns
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
    )
    baseline.log(recorded, model_id)


def run(
    cfg: DictConfig,
    pipeline: Pipeline,
    split: Split,
    evaluation: Evaluation,
    overrides: Sequence[str] = (),
) -> Registration:
    """Register ``pipeline`` as a new version with signature, input example, monitoring baseline,
    metrics and lineage; move the champion alias when the gate passes, else tag the version
    rejected with the reason."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature

    from mlops import catalog, modelio, registry
    from mlops.features import feature_columns

    decision = decide(cfg, evaluation)
    experiment = registry.experiment_id(cfg.name)
    # numeric features enter the signature as doubles, so a request may hold ints, floats or nulls
    numeric = {column: "float64" for column in cfg.schema.get("numeric") or []}
    features = split.train[feature_columns(cfg)].astype(numeric)
    requirements = catalog.model_dir(cfg.name) / "environment" / "requirements.txt"
    active = mlflow.active_run()
    with nullcontext(active) if active else mlflow.start_run(experiment_id=experiment, run_name="register"):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer")
            signature = infer_signature(features, pipeline.predict(features.head(100)))
        info = mlflow.sklearn.log_model(
            pipeline,
            name="model",
            signature=signature,
            input_example=features.head(5),
            pip_requirements=str(requirements) if requirements.is_file() else None,
            **modelio.save_options(pipeline, cfg.serialization.trusted_types, cfg.name),
        )
        record_baseline(cfg, pipeline, split, evaluation.metrics, info.model_id)
    tags = {f"{registry.METRIC_TAG_PREFIX}{key}": str(value) for key, value in evaluation.metrics.items()}
    tags |= lineage_tags(cfg, split, overrides)
    tags |= {
        "compared_with_champion": evaluation.champion_version or "none",
        "gate": "promoted" if decision.promote else "rejected",
        "gate_reason": decision.reason,
    }
    version = registry.create_version(cfg.name, info.model_uri, info.run_id, info.model_id, tags)
    if decision.promote:
        registry.make_champion(cfg.name, version)
    return Registration(version, decision)


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    from mlops import modelio
    from mlops.steps import prep
    from mlops.steps.evaluate import Evaluation

    evaluation = Evaluation(**json.loads((args.evaluation / "evaluation.json").read_text()))
    pipeline = modelio.load(args.model_dir, cfg.serialization.trusted_types, cfg.name)
    result = run(cfg, pipeline, prep.read(args.data), evaluation, args.overrides)
    verdict = "champion" if result.decision.promote else "rejected"
    print(f"{cfg.name}: version {result.version} {verdict}: {result.decision.reason}")
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        (args.output / REGISTRATION_FILE).write_text(json.dumps(result.as_dict(cfg.name), indent=2))


if __name__ == "__main__":
    from mlops.steps import entry

    entry(__doc__, ["data", "model-dir", "evaluation"], _main, optional=["output"])
