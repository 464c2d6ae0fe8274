"""Which signals, columns and thresholds a monitor run covers, read from the model's ``monitoring``
config with Azure's names and defaults, and checked with errors that name the key."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from mlops.core.errors import MlopsError
from mlops.core.settings import value as setting
from mlops.monitoring import ON_BREACH, metrics, views
from mlops.monitoring.baseline import PREDICTION, Baseline

DATA_DRIFT = "data_drift"
PREDICTION_DRIFT = "prediction_drift"
DATA_QUALITY = "data_quality"
MODEL_PERFORMANCE = "model_performance"
ESTIMATED_PERFORMANCE = "estimated_performance"  # local only: see mlops.monitoring.estimation
# the metrics the estimated_performance signal estimates, and those given a threshold from its tolerance by
# default: precision, recall and f1 of a rare class move with each window's mix of rows even without a shift
ESTIMATED_METRICS = ("roc_auc", "accuracy", "precision", "recall", "f1")
ESTIMATED_GUARDED = ("roc_auc", "accuracy")
SIGNALS = (DATA_DRIFT, PREDICTION_DRIFT, DATA_QUALITY, MODEL_PERFORMANCE, ESTIMATED_PERFORMANCE)
PERFORMANCE_METRICS = {
    "regression": ("mae", "mse", "rmse"),
    "classification": ("accuracy", "precision", "recall"),
}
ALL_FEATURES = "all_features"
TOP_N = "top_n_feature_importance"


@dataclass
class Plan:
    """What one monitor run computes: the type of every column it reads, the features of each
    signal, and every threshold."""

    types: dict[str, str]
    features: dict[str, list[str]]
    thresholds: dict[str, dict[str, Any]] = field(default_factory=dict)
    estimate: dict[str, Any] | None = None  # a classifier's estimated_performance settings, when enabled

    def threshold(self, signal: str, column: str, metric: str) -> float | None:
        """Return the threshold of ``metric`` on ``column`` for ``signal``, or None when unset."""
        settings = self.thresholds.get(signal, {})
        own = settings.get("feature_thresholds", {}).get(column, {})
        found: float | None
        if metric in own:
            found = own[metric]
            return found
        found = settings.get("metric_thresholds", {}).get(self.types.get(column, ""), {}).get(metric)
        return found


def as_dict(node: Any) -> Any:
    """Return an OmegaConf node (or plain value) as plain Python containers."""
    from omegaconf import DictConfig, ListConfig, OmegaConf

    return OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig | ListConfig) else node


def select_features(settings: dict[str, Any], baseline: Baseline, key: str) -> list[str]:
    """Return the monitored features a signal's ``features`` setting names: all, a list (a date-time
    or text column standing for its monitored columns), or the ``top_n_feature_importance`` most
    important (by the version's permutation importance, which a monitored column takes from its raw
    column)."""
    known = [column for column in baseline.columns if column != PREDICTION]
    setting = settings.get("features", ALL_FEATURES)
    if setting == ALL_FEATURES:
        return known
    if isinstance(setting, list):
        parts = views.columns(baseline.kinds)
        named = list(dict.fromkeys(name for column in setting for name in parts.get(column, [str(column)])))
        unknown = [column for column in named if column not in known]
        if unknown:
            raise MlopsError(
                f"{key} names {', '.join(unknown)}, not features of the model ({', '.join(known)})"
            )
        return named
    if setting == TOP_N:
        count = settings.get(TOP_N, 10)
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
            raise MlopsError(f"{key.rsplit('.', 1)[0]}.{TOP_N} must be a positive integer, not {count!r}")
        importance = baseline.importance
        return sorted(known, key=lambda column: -importance.get(column, -math.inf))[:count]
    raise MlopsError(f"{key} is {setting!r}; use {ALL_FEATURES}, {TOP_N} or a list of columns")


def check_thresholds(signal: str, settings: dict[str, Any], allowed: dict[str, tuple[str, ...]]) -> None:
    """Refuse unknown types, metrics and non-numeric thresholds, naming the key."""
    key = f"monitoring.signals.{signal}"
    for kind, entries in (settings.get("metric_thresholds") or {}).items():
        if kind not in allowed:
            raise MlopsError(f"{key}.metric_thresholds.{kind} is unknown; use {' or '.join(allowed)}")
        check_metrics(f"{key}.metric_thresholds.{kind}", entries, allowed[kind])
    for column, entries in (settings.get("feature_thresholds") or {}).items():
        names = sorted({metric for metrics_of_kind in allowed.values() for metric in metrics_of_kind})
        check_metrics(f"{key}.feature_thresholds.{column}", entries, tuple(names))


def check_metrics(key: str, entries: Any, allowed: tuple[str, ...]) -> None:
    """Refuse a threshold mapping with unknown metrics or non-numeric values."""
    if not isinstance(entries, dict):
        raise MlopsError(f"{key} must map metric names to thresholds, not {entries!r}")
    for metric, value in entries.items():
        if metric not in allowed:
            raise MlopsError(f"{key}.{metric} is not a metric here; use one of {', '.join(allowed)}")
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MlopsError(f"{key}.{metric} must be a number, not {value!r}")


def column_types(overrides: dict[str, Any], baseline: Baseline) -> dict[str, str]:
    """Return each column's type: Azure's rule from the profile, or ``feature_type_override``."""
    types = {column: profile["type"] for column, profile in baseline.columns.items()}
    parts = views.columns(baseline.kinds)
    for column, kind in overrides.items():
        if column not in types and column in parts:
            raise MlopsError(
                f"monitoring.feature_type_override.{column}: mlops monitor compares {column} through "
                f"{', '.join(parts[column])}; override those"
            )
        if column not in types:
            raise MlopsError(f"monitoring.feature_type_override.{column}: the model has no such column")
        if kind not in (metrics.NUMERICAL, metrics.CATEGORICAL):
            raise MlopsError(
                f"monitoring.feature_type_override.{column} is '{kind}'; use numerical or categorical"
            )
        if kind == metrics.NUMERICAL and baseline.columns[column]["dtype"] not in ("float", "integer"):
            raise MlopsError(
                f"monitoring.feature_type_override.{column}: a non-numeric column cannot be numerical"
            )
        types[column] = kind
    return types


def plan(monitoring: Any, baseline: Baseline, task: str, with_ground_truth: bool) -> Plan:
    """Return the plan of a monitor run from the model's ``monitoring`` config."""
    config = as_dict(monitoring) or {}
    if config.get("on_breach", "none") not in ON_BREACH:
        raise MlopsError(f"monitoring.on_breach is '{config['on_breach']}'; use {' or '.join(ON_BREACH)}")
    signals = config.get("signals") or {}
    unknown = sorted(set(signals) - set(SIGNALS))
    if unknown:
        raise MlopsError(f"monitoring.signals.{unknown[0]} is not a signal; use {', '.join(SIGNALS)}")
    drift: dict[str, tuple[str, ...]] = {
        kind: metrics.DRIFT_METRICS[kind] for kind in (metrics.NUMERICAL, metrics.CATEGORICAL)
    }
    quality: dict[str, tuple[str, ...]] = {
        kind: metrics.QUALITY_METRICS for kind in (metrics.NUMERICAL, metrics.CATEGORICAL)
    }
    performance = {"metric": PERFORMANCE_METRICS[task]}
    result = Plan(column_types(config.get("feature_type_override") or {}, baseline), {})
    for signal, allowed in ((DATA_DRIFT, drift), (PREDICTION_DRIFT, drift), (DATA_QUALITY, quality)):
        settings = signals.get(signal) or {}
        if not settings.get("enabled", True):
            continue
        check_thresholds(signal, settings, allowed)
        if signal == PREDICTION_DRIFT:
            result.features[signal] = [PREDICTION]
        else:
            key = f"monitoring.signals.{signal}.features"
            result.features[signal] = select_features(settings, baseline, key)
        result.thresholds[signal] = settings
    settings = signals.get(MODEL_PERFORMANCE) or {}
    if with_ground_truth and settings.get("enabled", True):
        check_metrics(
            f"monitoring.signals.{MODEL_PERFORMANCE}.metric_thresholds",
            settings.get("metric_thresholds") or {},
            performance["metric"],
        )
        result.features[MODEL_PERFORMANCE] = [PREDICTION]
        result.thresholds[MODEL_PERFORMANCE] = settings
    settings = signals.get(ESTIMATED_PERFORMANCE) or {}
    if task == "classification" and settings.get("enabled", True):
        check_estimate(settings)
        result.estimate = settings
    if not result.features:
        raise MlopsError("every signal in monitoring.signals is disabled; enable at least one")
    return result


def check_estimate(settings: dict[str, Any]) -> None:
    """Refuse malformed ``estimated_performance`` settings, naming the key."""
    key = f"monitoring.signals.{ESTIMATED_PERFORMANCE}"
    check_metrics(f"{key}.metric_thresholds", settings.get("metric_thresholds") or {}, ESTIMATED_METRICS)
    guarded = settings.get("guarded", list(ESTIMATED_GUARDED))
    unknown = (
        [name for name in guarded if name not in ESTIMATED_METRICS]
        if isinstance(guarded, list)
        else [guarded]
    )
    if unknown:
        raise MlopsError(
            f"{key}.guarded names {', '.join(map(str, unknown))}; use a list of "
            + ", ".join(ESTIMATED_METRICS)
        )
    for name in ("confidence", "max_calibration_error", "tolerance"):
        setting(settings, f"{key}.{name}")


def performance_thresholds(
    settings: dict[str, Any], task: str, tested: dict[str, float]
) -> dict[str, float | None]:
    """Return the threshold of each performance metric: the configured one, else the version's test
    value widened by ``tolerance`` in the metric's bad direction (mse from the test rmse)."""
    tolerance = float(setting(settings, f"monitoring.signals.{MODEL_PERFORMANCE}.tolerance"))
    given = settings.get("metric_thresholds") or {}
    tested = dict(tested)
    if "rmse" in tested:
        tested["mse"] = tested["rmse"] ** 2
    thresholds: dict[str, float | None] = {}
    for metric in PERFORMANCE_METRICS[task]:
        if metric in given:
            thresholds[metric] = float(given[metric])
        elif metric in tested:
            lower = metric in metrics.LOWER_IS_BREACH
            thresholds[metric] = tested[metric] * (1 - tolerance if lower else 1 + tolerance)
        else:
            thresholds[metric] = None
    return thresholds
