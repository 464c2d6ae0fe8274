"""``mlops monitor``: compare a window of production data with a version's training baseline, write the
summary and the HTML report, log an MLflow run linked to the version, and say whether any threshold
was breached."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mlops.core.errors import MlopsError
from mlops.evaluation import metrics
from mlops.models.data import TABLE_SUFFIXES, read_table
from mlops.monitoring import SUMMARY_FILE, alerting, production, signals
from mlops.monitoring.baseline import PREDICTION

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion
    from omegaconf import DictConfig

    from mlops.monitoring.baseline import Baseline
    from mlops.monitoring.compute import Result
    from mlops.monitoring.noise import Noise
    from mlops.monitoring.summary import Production, Summary
    from mlops.scoring.frames import Scorer

Echo = Callable[[str], None]
# the run tag Azure ML sets on a monitor run that breached a threshold (Event Grid filters on it)
BREACH_TAG = "azureml_modelmonitor_threshold_breached"
REPORT_FILE = "report.html"


@dataclass
class Outcome:
    """What one monitor run found and wrote."""

    summary: Summary
    folder: Path
    on_breach: str

    @property
    def breached(self) -> bool:
        """Whether any threshold was breached (Azure's raw verdict)."""
        return bool(self.summary["breached"])

    @property
    def alerted(self) -> bool:
        """Whether the breach alerts (see ``mlops.monitoring.alerting``): what the exit status follows."""
        return bool(self.summary["alert"]["raised"])

    @property
    def retrain(self) -> bool:
        """Whether ``--on-breach retrain`` may fire: an alert outside the cool-down."""
        return bool(self.summary["alert"]["retrain"])


@dataclass
class Subject:
    """The model a monitor run compares production with: its MLflow model folder (which holds the
    baseline) and, for a registered version, the version (None for a folder given with --model)."""

    name: str
    version: str | None
    folder: Path
    registered: ModelVersion | None

    @property
    def described(self) -> str:
        """How messages name the model."""
        from mlops import registry

        if self.version is None:
            return f"'{self.name}' in {self.folder}"
        return registry.described(self.name, self.version)


def subject(name: str, version: str | None, model: Path | None, scratch: str) -> Subject:
    """Return the model to compare with: the folder ``model`` (``version`` only labels it), else
    ``version`` of the registered model (default the champion), downloaded into ``scratch``."""
    from mlops import registry
    from mlops.registry import modelio

    if model is not None:
        return Subject(name, version, modelio.find(model), None)
    chosen = registry.find_version(name, version, registry.CHAMPION)
    return Subject(name, str(chosen.version), registry.download(chosen, scratch), chosen)


def read_truth(path: str, key: str, target: str) -> dict[str, Any]:
    """Return ground truth from CSV, Parquet or JSON-lines files, keyed by ``key``."""
    import pandas as pd

    frames = []
    for file in production.files(path):
        with production.reading(file, "ground truth file"):
            frames.append(
                read_table(str(file))
                if file.suffix.lower() in TABLE_SUFFIXES
                else pd.read_json(file, lines=True)
            )
    truth = pd.concat(frames, ignore_index=True)
    missing = [column for column in (key, target) if column not in truth]
    if missing:
        raise MlopsError(
            f"ground truth {path} has no {' or '.join(missing)} column; it needs the join key "
            f"(monitoring.key_column) and the target '{target}'"
        )
    truth = truth.dropna(subset=[key, target]).drop_duplicates(subset=key, keep="last")
    return dict(zip(truth[key].astype(str), truth[target], strict=True))


def joiner(truth: dict[str, Any], key: str) -> Callable[[pd.DataFrame], tuple[list[Any], list[Any]]]:
    """Return a function pairing a chunk's predictions with the ground truth of its keys."""

    def join(chunk: pd.DataFrame) -> tuple[list[Any], list[Any]]:
        keys = chunk[key].astype(str)
        found = keys.isin(truth.keys()) & chunk[PREDICTION].notna()
        return [truth[value] for value in keys[found]], chunk.loc[found, PREDICTION].tolist()

    return join


def performance_rows(
    cfg: DictConfig, base: Baseline, pairs: list[tuple[list[Any], list[Any]]], result: Result, truth_rows: int
) -> None:
    """Add the model-performance rows from ground truth joined with production predictions, computed
    on the matched rows only, and how many matched; default thresholds come from the test metrics
    kept in the baseline."""
    from mlops.monitoring import compute, metrics

    actual = [value for chunk, _ in pairs for value in chunk]
    predicted = [value for _, chunk in pairs for value in chunk]
    key, rows = cfg.monitoring.key_column, result.production_rows
    result.ground_truth = {"rows": truth_rows, "matched": len(actual), "production_rows": rows}
    if not actual:
        result.notes.append(
            f"{signals.MODEL_PERFORMANCE}: none of the {rows:,} production rows matched the "
            f"{truth_rows:,} ground truth rows by '{key}'; performance is not computed"
        )
        return
    settings = signals.as_dict(cfg.monitoring.signals.get(signals.MODEL_PERFORMANCE)) or {}
    thresholds = signals.performance_thresholds(settings, cfg.task, base.profile["test_metrics"])
    kind = metrics.NUMERICAL if cfg.task == "regression" else metrics.CATEGORICAL
    for metric, value in metrics.performance(cfg.task, actual, predicted).items():
        result.rows.append(
            compute.row(signals.MODEL_PERFORMANCE, cfg.schema.target, kind, metric, value, thresholds[metric])
        )
    share = f"{len(actual) / rows:.0%}" if rows else "n/a"
    classes = len({metrics.label(value) for value in [*actual, *predicted]})
    averaged = (
        f" (precision and recall: the mean over the {classes} classes seen)"
        if cfg.task == "classification" and classes > 2
        else ""
    )
    result.notes.append(
        f"{signals.MODEL_PERFORMANCE}: {len(actual):,} of {rows:,} production rows ({share}) matched the "
        f"ground truth by '{key}'; performance is computed on those only{averaged}"
    )


def estimation_check(cfg: DictConfig, plan: signals.Plan, base: Baseline, score: Scorer) -> Any:
    """Return whether a classifier's performance can be estimated from its probabilities (its
    calibration on the held-out test rows), or None when the signal is off."""
    from mlops.monitoring import estimation

    if plan.estimate is None:
        return None
    pipeline = score.load()
    if not hasattr(pipeline, "predict_proba"):
        return estimation.Check(False, "the model gives no class probabilities (it has no predict_proba)")
    return estimation.check(
        base, list(pipeline.classes_), score.probabilities, cfg.schema.target, plan.estimate
    )


def estimated_rows(cfg: DictConfig, plan: signals.Plan, checked: Any, result: Result) -> None:
    """Add the estimated-performance rows of a window from its probabilities, or say why not."""
    from mlops.monitoring import estimation

    scored = 0 if result.probabilities is None else len(result.probabilities)
    result.estimation = {
        "enabled": checked.enabled,
        "reason": checked.reason,
        "calibration_error": checked.error,
        "rows": scored,
    }
    if not checked.enabled:
        result.notes.append(f"{signals.ESTIMATED_PERFORMANCE} is disabled: {checked.reason}")
    elif scored:
        assert result.probabilities is not None  # scored: it holds a row of probabilities per row scored
        assert plan.estimate is not None  # a check was made: the signal is on (``estimation_check``)
        result.rows.extend(estimation.rows(cfg.schema.target, checked, result.probabilities, plan.estimate))
        classes = result.probabilities.shape[1]
        averaged = (
            f"; roc_auc, precision, recall and f1 are the mean over its {classes} classes"
            if classes > 2
            else ""
        )
        result.notes.append(
            f"{signals.ESTIMATED_PERFORMANCE}: estimated from the model's probabilities on {scored:,} "
            f"production rows, before any label ({checked.reason}){averaged}"
        )


def with_progress(reader: production.Reader, paths: list[Path], label: str) -> Iterator[pd.DataFrame]:
    """Yield the reader's chunks while showing the share of the files read on stderr."""
    import sys

    import click

    total = sum(path.stat().st_size for path in paths)
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        for chunk in reader.chunks(paths):
            bar.update(reader.position - bar.pos)
            yield chunk


def empty_window(name: str, source: str, window: production.Window, tally: production.Tally) -> MlopsError:
    """Return the error for a window without production rows, with what was seen instead."""
    seen = f"{tally.outside_window:,} rows outside it" if tally.outside_window else "no rows"
    newest = f"; the newest row is at {production.stamp(tally.newest)}" if tally.newest else ""
    return MlopsError(
        f"{name}: no production rows from {window} in {source} ({seen}{newest}); widen --window or "
        "set --start/--end"
    )


def summarize(
    cfg: DictConfig,
    version: str | None,
    source: str,
    window: production.Window,
    tally: production.Tally,
    scored: int,
    result: Result,
    training: dict[str, Any],
) -> Summary:
    """Return the JSON summary of a monitor run."""
    counts = asdict(tally)
    counts.pop("newest")
    return {
        "model": cfg.name,
        "version": version,
        "breached": bool(result.breaches),
        "window": {"start": production.stamp(window.start), "end": production.stamp(window.end)},
        "production": cast("Production", {"source": source, **counts, "scored": scored}),
        "baseline": training,
        "breaches": result.breaches,
        "ground_truth": result.ground_truth,
        "estimated_performance": result.estimation,
        "rows": [{**row, "value": metrics.finite(row["value"])} for row in result.rows],
        "notes": result.notes,
        "run_id": None,
        "created": production.stamp(datetime.now(UTC)),
    }


def breach_message(breaches: dict[str, list[str]]) -> str:
    """Return the breach tag's text: each breached signal with its failing features."""
    return "; ".join(f"{signal}: {', '.join(features)}" for signal, features in breaches.items())


def log_run(cfg: DictConfig, summary: Summary, result: Result, folder: Path, earlier: list[Summary]) -> None:
    """Write the summary and report (with the history of the ``earlier`` windows) into ``folder`` and
    log them, with every metric, to an MLflow run in the model's experiment, tagged with the model and
    version; tag the run when a threshold was breached, and the version with its last monitor run."""
    import mlflow

    from mlops import registry

    values = {
        f"{row['signal']}.{row['feature']}.{row['metric']}": row["value"]
        for row in summary["rows"]
        if row["value"] is not None
    }
    tags = {
        "mlops.run": "monitor",
        "model_name": cfg.name,
        "model_version": summary["version"],
        "window_start": summary["window"]["start"],
        "window_end": summary["window"]["end"],
        "production_rows": str(summary["production"]["rows"]),
    }
    if summary["breached"]:
        tags[BREACH_TAG] = breach_message(summary["breaches"])
    if summary["alert"]["raised"]:
        tags[alerting.ALERT_TAG] = "true"
    if summary["alert"]["counted"] and summary["alert"]["state"] != "insufficient data":
        tags[alerting.COUNTED_TAG] = "true"
    experiment = registry.experiment_id(cfg.name)
    with mlflow.start_run(experiment_id=experiment, run_name=f"monitor-v{summary['version']}") as run:
        summary["run_id"] = run.info.run_id
        write_outputs(folder, summary, result, earlier)
        mlflow.set_tags(tags)
        mlflow.log_metrics(values)
        mlflow.log_artifact(str(folder / SUMMARY_FILE))
        mlflow.log_artifact(str(folder / REPORT_FILE))
    assert summary["version"] is not None  # a registered version's run: a --model folder logs none
    registry.set_tags(
        cfg.name,
        summary["version"],
        {"monitor_last_run": run.info.run_id, "monitor_breached": str(summary["breached"]).lower()},
    )


def mark_retrained(summary: Summary) -> None:
    """Tag a window's monitor run as the one whose alert retrained: the cool-down runs from its end."""
    if summary["run_id"]:
        from mlops import registry

        registry.client().set_tag(summary["run_id"], alerting.RETRAINED_TAG, "true")


def write_outputs(
    folder: Path, summary: Summary, result: Result, earlier: list[Summary] | None = None
) -> None:
    """Write ``summary.json`` and ``report.html`` (with the history of the ``earlier`` windows) into
    ``folder``, both or neither."""
    from mlops.core import atomic
    from mlops.monitoring import report

    page = report.render(summary, result.histograms, earlier)
    atomic.write_all(folder, {SUMMARY_FILE: json.dumps(summary, indent=2), REPORT_FILE: page})


def run(
    name: str,
    source: str | None = None,
    lookback: str | None = None,
    start: str | None = None,
    end: str | None = None,
    version: str | None = None,
    ground_truth: str | None = None,
    out: Path | None = None,
    overrides: Sequence[str] = (),
    echo: Echo = print,
    model: Path | None = None,
    stamp: str | None = None,
    every: str | None = None,
) -> list[Outcome]:
    """Monitor ``name``: compare its production data in the window with the baseline of ``version``
    (default the champion), or of the MLflow model folder ``model``, on every signal its config
    enables; rows without a timestamp column get the time ``stamp`` (``now`` or ISO 8601) when it is
    given. A registered version gets an MLflow run and tags; a folder gets the files only.

    With ``every`` (an ISO 8601 duration), backfill: split the window into consecutive windows of that
    length and monitor each, oldest first, from one pass over the production files (see
    ``mlops.monitoring.backfill``); a window without rows is reported as insufficient data. Returns
    one outcome per window."""
    import tempfile

    from mlops.core import project
    from mlops.models import catalog
    from mlops.models.features import feature_columns
    from mlops.monitoring import backfill, baseline, compute, noise
    from mlops.scoring.frames import Scorer

    cfg = catalog.load_config(name, list(overrides))
    settings = cfg.monitoring
    rules = alerting.Settings.of(cfg)  # a malformed alerting key stops the run before any reading
    window = production.window(lookback or (None if start else settings.window), start, end)
    windows = backfill.windows(window, every) if every else [window]
    if every and model is not None:
        raise MlopsError(
            "--backfill logs each window as a monitor run of a registered version, for --history and "
            "persistence; a --model folder has no history: drop --model or --backfill"
        )
    stamped = production.parse_stamp(stamp, window) if stamp else None
    where = source or str(project.collected(name))
    if source is None and not project.collected(name).is_dir():
        raise MlopsError(
            f"{name}: its endpoint has collected no data yet ({where}); deploy it (mlops deploy {name}) "
            "and send it requests, or pass --production with your own data"
        )
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="mlops-monitor-") as scratch:
        chosen = subject(name, version, model, scratch)
        base = baseline.load(chosen.folder, chosen.described, name)
        plan = signals.plan(settings, base, cfg.task, ground_truth is not None)
        quantile = rules.noise_quantile  # one set of noise thresholds for every window of the run
        noisy = None if quantile is None else noise.Noise(base, plan.types, quantile, rules.noise_draws)
        features = feature_columns(cfg)
        key = str(settings.key_column)
        reader = production.Reader(features, window, str(settings.timestamp_column), key, stamped)
        score = Scorer(cfg, chosen.folder, chosen.described, features)
        known = read_truth(ground_truth, key, cfg.schema.target) if ground_truth else {}
        truth = joiner(known, key) if ground_truth else None
        paths = production.files(where)
        checked = estimation_check(cfg, plan, base, score)
        estimate = score.probabilities if checked is not None and checked.enabled else None
        echo(f"{name}: monitoring {chosen.described} with production data from {window}")
        chunks = with_progress(reader, paths, f"{name}: reading")
        parts: Iterable[tuple[production.Window, Result, list[Any], production.Tally, int]]
        if not every:
            result, pairs = compute.compute(plan, base, chunks, score, truth, estimate)
            if not result.production_rows:
                raise empty_window(name, where, window, reader.tally)
            parts = [(window, result, pairs, reader.tally, score.scored)]
        else:
            folder = Path(scratch) / "windows"
            counts = backfill.partition(chunks, windows, str(settings.timestamp_column), folder)
            if not reader.tally.rows:
                raise empty_window(name, where, window, reader.tally)
            echo(f"{name}: {len(windows)} windows of {every}, {sum(map(bool, counts))} with production rows")
            parts = backfill.results(
                windows, counts, reader.tally.files, folder, plan, base, score, truth, estimate
            )
        for part, result, pairs, tally, scored in parts:
            if truth is not None:
                performance_rows(cfg, base, pairs, result, len(known))
            if checked is not None:
                estimated_rows(cfg, plan, checked, result)
            outcomes.append(
                conclude(cfg, chosen, base, part, tally, scored, result, where, rules, noisy, out, every)
            )
    return outcomes


def conclude(
    cfg: DictConfig,
    chosen: Subject,
    base: Baseline,
    window: production.Window,
    tally: production.Tally,
    scored: int,
    result: Result,
    source: str,
    rules: alerting.Settings,
    noisy: Noise | None,
    out: Path | None,
    backfilled: str | None,
) -> Outcome:
    """Decide the alert on one window's result (each drift distance beside its noise threshold from
    ``noisy``, unless alerting.noise is off), then write its summary and report (and, for a
    registered version, log its MLflow run)."""
    from mlops.core import project
    from mlops.monitoring import history, views

    kept = {key: base.profile[key] for key in ("training_rows", "sample_rows")}
    summary = summarize(cfg, chosen.version, source, window, tally, scored, result, kept)
    compared = views.described(base.kinds)
    if compared:
        summary["views"] = compared
    earlier: list[bool] = []
    last_retrain: datetime | None = None
    logged: list[Run] = []
    if chosen.registered is not None:
        logged = history.monitor_runs(cfg.name)  # read once: for persistence, and the report's history
        earlier, last_retrain = alerting.history(logged, summary["window"]["end"], rules.windows - 1)
    elif rules.windows > 1:  # a folder's runs are not logged: no history to hold a breach back with
        rules = dataclasses.replace(rules, breaches=1, windows=1)
        summary["notes"].append(
            "a --model folder keeps no monitor history, so monitoring.alerting.persistence is not applied: "
            "a breach that counts alerts on this window alone"
        )
    if noisy is not None:
        noisy.annotate(summary["rows"], result.histograms)
        summary["noise"] = {"quantile": noisy.quantile, "draws": noisy.draws}
    breaches = [row for row in summary["rows"] if row["breached"]]
    training = {("null_value_rate", column): info["null_rate"] for column, info in base.columns.items()}
    counted = rules.counted(summary["rows"], training)
    decision = alerting.decide(
        rules, result.production_rows, breaches, counted, earlier, last_retrain, window.end
    )
    summary["alert"] = {
        "state": decision.state,
        "raised": decision.raised,
        "reason": decision.reason,
        "retrain": decision.retrain,
        "counted": bool(counted),
    }
    if backfilled:
        summary["backfill"] = backfilled
    runs = project.state_dir() / "monitoring" / cfg.name
    named = (
        window.end.strftime("window-%Y%m%dT%H%M%SZ")
        if backfilled
        else datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    )
    folder = out / named if out is not None and backfilled else out or runs / named
    if chosen.registered is None:
        write_outputs(folder, summary, result)
    else:
        log_run(cfg, summary, result, folder, history.summaries_of(logged, history.LAST - 1, window.end))
    return Outcome(summary, folder, str(cfg.monitoring.on_breach))
