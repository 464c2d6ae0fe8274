"""``mlops train``: prep → validate → train → evaluate → register for one model, with sweeps."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.errors import MlopsError

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from mlops.steps.evaluate import Evaluation
    from mlops.steps.prep import Split

Echo = Callable[[str], None]


@dataclass
class Outcome:
    """What one ``mlops train`` produced."""

    name: str
    version: str
    verdict: str  # the gate's: promote, reject or investigate
    reason: str
    metrics: dict[str, float]
    overrides: list[str]
    report: str | None = None  # the comparison report's path

    @property
    def promoted(self) -> bool:
        """Return whether the version became the champion."""
        return self.verdict == "promote"

    def as_dict(self) -> dict[str, object]:
        """Return the registration as ``mlops train --json`` reports it."""
        from mlops import gate
        from mlops.steps.register import Registration

        decision = gate.Decision(self.verdict, self.reason)
        return Registration(self.version, decision, self.report).as_dict(self.name)


def expand(overrides: Sequence[str], multirun: bool) -> list[list[str]]:
    """Return the override sets a run stands for: one, or with ``multirun`` the cartesian product
    of every sweep (``a=1,2``, ``range(...)``, ``choice(...)``), as Hydra's basic sweeper does."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise MlopsError(f"bad override: {str(error).splitlines()[0]}") from None
    choices = []
    for override in parsed:
        if not override.is_sweep_override():
            choices.append([override.input_line])
        elif multirun:
            key = override.get_key_element()
            choices.append([f"{key}={value}" for value in override.sweep_string_iterator()])
        else:
            raise MlopsError(f"'{override.input_line}' is a sweep; add -m to run every value")
    return [list(combination) for combination in itertools.product(*choices)]


def flat_params(cfg: DictConfig) -> dict[str, Any]:
    """Return the config as flat ``key.sub=value`` pairs for MLflow params."""
    from omegaconf import OmegaConf

    def walk(node: Any, prefix: str) -> dict[str, Any]:
        if isinstance(node, dict):
            return {k: v for key, value in node.items() for k, v in walk(value, f"{prefix}{key}.").items()}
        return {prefix.rstrip("."): str(node)[:6000]}

    return walk(OmegaConf.to_container(cfg, resolve=True), "")


def prepare(
    name: str, sets: list[list[str]], sample: int | None, echo: Echo
) -> dict[tuple[str, ...], tuple[DictConfig, Split]]:
    """Compose each override set's config, then prep and validate its data once per distinct
    data, split and schema settings. Nothing is logged before every set passes."""
    from omegaconf import OmegaConf

    from mlops import catalog
    from mlops.features import build_pipeline
    from mlops.steps import prep, validate

    configs = [catalog.load_config(name, overrides) for overrides in sets]
    for cfg in configs:
        build_pipeline(cfg)  # a bad estimator or preprocessing value stops the run before any step
    splits: dict[str, Split] = {}
    prepared = {}
    for overrides, cfg in zip(sets, configs, strict=True):
        key = OmegaConf.to_yaml({part: cfg[part] for part in ("data", "split", "schema")})
        if key not in splits:
            split = splits[key] = prep.run(cfg, sample)
            info = split.info
            echo(
                f"{name}: prep      {info['sampled_rows']} rows from {info['source']} -> "
                f"train {info['train_rows']} / test {info['test_rows']} (seed {info['seed']})"
            )
            validate.run(cfg, split)
            features = len(cfg.schema.get("numeric") or []) + len(cfg.schema.get("categorical") or [])
            echo(f"{name}: validate  ok ({features} features, target '{cfg.schema.target}')")
        prepared[tuple(overrides)] = (cfg, splits[key])
    return prepared


def pick_best(
    name: str, prepared: dict[tuple[str, ...], tuple[DictConfig, Split]], echo: Echo
) -> tuple[str, ...]:
    """Fit every override set on the training rows less a validation share, log each as a nested
    MLflow run, and return the set with the best primary metric on the validation rows."""
    import click
    import mlflow
    from sklearn.model_selection import train_test_split

    from mlops import metrics
    from mlops.steps import evaluate, train

    experiment = mlflow.active_run().info.experiment_id
    scored = []
    with click.progressbar(prepared.items(), label=f"{name}: sweep") as bar:
        for overrides, (cfg, split) in bar:
            target = split.train[cfg.schema.target] if cfg.task == "classification" else None
            fit, held = train_test_split(
                split.train, test_size=cfg.split.validation_size, random_state=cfg.split.seed, stratify=target
            )
            with mlflow.start_run(experiment_id=experiment, run_name=" ".join(overrides), nested=True):
                mlflow.log_params(flat_params(cfg))
                values = evaluate.score(cfg, train.run(cfg, fit), held)
                mlflow.log_metrics({f"validation_{key}": value for key, value in values.items()})
            scored.append((values[cfg.evaluation.primary_metric], overrides))
    metric = cfg.evaluation.primary_metric
    best_value, best = (max if metrics.higher_is_better(cfg.task, metric) else min)(
        scored, key=lambda item: item[0]
    )
    for value, overrides in scored:
        mark = "*" if overrides is best else " "
        echo(f"{name}: {mark} validation {metric} {value:.4g}  {' '.join(overrides)}")
    echo(f"{name}: best of {len(prepared)} runs: {' '.join(best)} (validation {metric} {best_value:.4g})")
    return best


def describe(evaluation: Evaluation, primary: str) -> str:
    """Return a one-line summary of the candidate's and champion's metrics."""
    text = ", ".join(f"{key} {value:.4g}" for key, value in evaluation.metrics.items())
    if evaluation.champion_metrics:
        text += (
            f" | champion v{evaluation.champion_version} {primary} {evaluation.champion_metrics[primary]:.4g}"
        )
    return text


def train_model(
    name: str,
    overrides: Sequence[str] = (),
    *,
    multirun: bool = False,
    sample: int | None = None,
    echo: Echo = print,
) -> Outcome:
    """Run the shared pipeline for model ``name`` and return the registered version and verdict.

    With ``multirun``, every combination of the sweep overrides is fitted and scored on a
    validation share of the training rows; only the best goes on to evaluate, register and the
    gate. Nothing is logged or registered when the config or the data is invalid.
    """
    import mlflow
    from omegaconf import OmegaConf

    from mlops import gate, registry
    from mlops.steps import evaluate, register, train

    registry.check_store()  # a damaged or locked store stops the run before any step
    prepared = prepare(name, expand(overrides, multirun), sample, echo)
    experiment = registry.experiment_id(name)
    with mlflow.start_run(experiment_id=experiment, run_name="train") as run:
        best = pick_best(name, prepared, echo) if len(prepared) > 1 else next(iter(prepared))
        cfg, split = prepared[best]
        mlflow.set_tags({"mlops.model": name, "mlops.overrides": " ".join(best)})
        mlflow.log_params(flat_params(cfg))
        mlflow.log_dict(split.info, "split.json")
        mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), "config.yaml")
        started = time.perf_counter()
        pipeline = train.run(cfg, split.train)
        echo(f"{name}: train     {cfg.estimator._target_} in {time.perf_counter() - started:.1f}s")
        evaluation = evaluate.run(cfg, pipeline, split.test)
        mlflow.log_metrics({f"test_{key}": value for key, value in evaluation.metrics.items()})
        if evaluation.champion_metrics:
            mlflow.log_metrics(
                {f"champion_{key}": value for key, value in evaluation.champion_metrics.items()}
            )
        echo(f"{name}: evaluate  {describe(evaluation, cfg.evaluation.primary_metric)}")
        result = register.run(cfg, pipeline, split, evaluation, best)
        mlflow.set_tag("mlops.gate", gate.TAGS[result.decision.verdict])
    verdict = gate.SAID[result.decision.verdict]
    echo(
        f"{name}: register  version {result.version} {verdict}: {result.decision.reason} "
        f"(run {run.info.run_id})"
    )
    echo(f"{name}: report    {result.report}")
    decision = result.decision
    report = str(result.report) if result.report else None
    return Outcome(
        name, result.version, decision.verdict, decision.reason, evaluation.metrics, list(best), report
    )
