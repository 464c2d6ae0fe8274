"""The summary of one monitor run: what ``summary.json`` holds and every room that builds or reads it
shares (the monitor, its report, the history, the ``mlops monitor`` command). It is a plain dict typed
here, so the type checker knows each key, and it turns into JSON only where it leaves the process:
``summary.json`` and the MLflow run."""

from __future__ import annotations

from typing import Any, NotRequired, TypedDict

__all__ = ["Alert", "MetricRow", "Noise", "Production", "Span", "Summary", "View"]


class Span(TypedDict):
    """The window's bounds as ISO 8601 UTC text: [start, end)."""

    start: str
    end: str


class Production(TypedDict):
    """Where the production rows came from and what reading them met (``production.Tally``), with the
    rows the model scored."""

    source: str
    files: int
    rows: int
    outside_window: int
    without_timestamp: int
    unreadable_lines: int
    without_prediction: int
    unknown_fields: dict[str, int]
    model_versions: dict[str, int]
    scored: int


class MetricRow(TypedDict):
    """One metric of one feature in Azure's signal-output shape, with what the monitor adds: the noise
    threshold of a drift distance and the threshold in force, and an estimate's interval."""

    signal: str
    feature: str
    data_type: str
    metric: str
    value: float | None
    threshold: float | None
    breached: bool
    noise_threshold: NotRequired[float | None]
    effective_threshold: NotRequired[float | None]
    low: NotRequired[float]
    high: NotRequired[float]
    confidence: NotRequired[float]


class Alert(TypedDict):
    """The alerting decision on the window (``alerting.Alert``) and whether its breach counted."""

    state: str
    raised: bool
    reason: str
    retrain: bool
    counted: bool


class Noise(TypedDict):
    """The noise thresholds' settings the run used."""

    quantile: float
    draws: int


class View(TypedDict):
    """How a raw column the monitor does not compare as itself is compared (``mlops.monitoring.views``):
    its kind, what each of its monitored columns holds, and why, in one sentence."""

    kind: str
    columns: dict[str, str]
    reason: str


class Summary(TypedDict):
    """One monitor run: the model and version, the window, the production rows, the training
    baseline's counts, the metric rows and their breaches, notes for the reader, the MLflow run, and
    once alerting has decided, the alert (``noise`` when noise thresholds applied, ``backfill`` when
    the run was one window of a backfill, ``views`` when a date-time or text column is compared
    through its parts)."""

    model: str
    version: str | None
    breached: bool
    window: Span
    production: Production
    baseline: dict[str, Any]
    breaches: dict[str, list[str]]
    ground_truth: dict[str, int] | None
    estimated_performance: dict[str, Any] | None
    rows: list[MetricRow]
    notes: list[str]
    run_id: str | None
    created: str
    alert: NotRequired[Alert]
    noise: NotRequired[Noise]
    backfill: NotRequired[str]
    views: NotRequired[dict[str, View]]
