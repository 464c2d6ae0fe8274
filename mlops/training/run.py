"""``mlops train``: prep → validate → train → evaluate → register for one model, with sweeps."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.evaluation.gate import Verdict
from mlops.registry import artifacts

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from mlops.steps.evaluate import Evaluation
    from mlops.steps.prep import Split
    from mlops.steps.register import Registration

Echo = Callable[[str], None]


@dataclass
class Outcome:
    """What one ``mlops train`` produced: the register step's ``registration`` (the version, the gate's
    decision, the comparison report), the candidate's test ``metrics`` and the ``overrides`` it won with."""

    name: str
    registration: Registration
    metrics: dict[str, float]
    overrides: list[str]

    @property
    def version(self) -> str:
        """Return the registered version."""
        return self.registration.version

    @property
    def verdict(self) -> Verdict:
        """Return the gate's verdict on the version."""
        return self.registration.decision.verdict

    @property
    def reason(self) -> str:
        """Return why the gate decided so."""
        return self.registration.decision.reason

    @property
    def promoted(self) -> bool:
        """Return whether the version became the champion."""
        return self.registration.decision.promote

    @property
    def report(self) -> str | None:
        """Return the path of the comparison report, None when none was written."""
        return str(self.registration.report) if self.registration.report else None

    def as_dict(self) -> dict[str, object]:
        """Return the registration as ``mlops train --json`` reports it."""
        return self.registration.as_dict(self.name)


def expand(overrides: Sequence[str], multirun: bool) -> list[list[str]]:
    """Return the override sets a run stands for: one, or with ``multirun`` the cartesian product
    of every sweep (``a=1,2``, ``range(...)``, ``choice(...)``), as Hydra's basic sweeper does."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as error:
        raise MlopsError(f"bad override: {str(error).splitlines()[0]}") from None
    choices: list[list[str]] = []
    for override in parsed:
        assert override.input_line is not None  # the parser keeps each override's text
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

    from mlops.evaluation import metrics
    from mlops.models import catalog, features, trainer
    from mlops.steps import prep, validate

    configs = [catalog.load_config(name, overrides) for overrides in sets]
    for cfg in configs:
        if (
            "trainer" in cfg
        ):  # a bad trainer, estimator, transformer or preprocessing value stops the run first
            trainer.build(cfg)
        else:
            features.parts(cfg)
        metrics.suite(cfg)  # as does a metric of the model's own that does not import
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
            columns = len(features.feature_columns(cfg))
            echo(f"{name}: validate  ok ({columns} features, target '{cfg.schema.target}')")
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

    from mlops.evaluation import metrics
    from mlops.steps import evaluate, train

    active = mlflow.active_run()
    assert active is not None  # called inside the parent "train" run (see ``run``)
    experiment = active.info.experiment_id
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
    best_value, best = (max if metrics.higher_is_better(metrics.suite(cfg), metric) else min)(
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

    from mlops import registry
    from mlops.steps import evaluate, register, train

    registry.check_store()  # a damaged or locked store stops the run before any step
    prepared = prepare(name, expand(overrides, multirun), sample, echo)
    experiment = registry.experiment_id(name)
    with mlflow.start_run(experiment_id=experiment, run_name="train") as run:
        best = pick_best(name, prepared, echo) if len(prepared) > 1 else next(iter(prepared))
        cfg, split = prepared[best]
        mlflow.set_tags({"mlops.model": name, "mlops.overrides": " ".join(best)})
        mlflow.log_params(flat_params(cfg))
        mlflow.log_dict(split.info, artifacts.SPLIT_FILE)
        mlflow.log_text(OmegaConf.to_yaml(cfg, resolve=True), artifacts.CONFIG_FILE)
        started = time.perf_counter()
        pipeline = train.run(cfg, split.train)
        echo(f"{name}: train     {train.target(cfg)} in {time.perf_counter() - started:.1f}s")
        evaluation = evaluate.run(cfg, pipeline, split.test)
        mlflow.log_metrics({f"test_{key}": value for key, value in evaluation.metrics.items()})
        if evaluation.champion_metrics:
            mlflow.log_metrics(
                {f"champion_{key}": value for key, value in evaluation.champion_metrics.items()}
            )
        echo(f"{name}: evaluate  {describe(evaluation, cfg.evaluation.primary_metric)}")
        result = register.run(cfg, pipeline, split, evaluation, best)
        mlflow.set_tag("mlops.gate", result.decision.verdict.tag)
    verdict = result.decision.verdict.said
    echo(
        f"{name}: register  version {result.version} {verdict}: {result.decision.reason} "
        f"(run {run.info.run_id})"
    )
    echo(f"{name}: report    {result.report}")
    return Outcome(name, result, evaluation.metrics, list(best))
