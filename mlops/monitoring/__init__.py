"""Model monitoring: data drift, prediction drift, data quality and model performance of production
data against each registered version's training baseline, computed as Azure ML computes them."""

__all__ = [
    "ON_BREACH",
    "SUMMARY_FILE",
    "alerting",
    "backfill",
    "baseline",
    "compute",
    "estimation",
    "history",
    "metrics",
    "monitor",
    "noise",
    "production",
    "reference",
    "report",
    "signals",
    "summary",
    "views",
]

# what ``mlops monitor`` does when a threshold is breached (config: monitoring.on_breach)
ON_BREACH = ("none", "retrain")
# the monitor run's summary (JSON, written beside its report and logged with its MLflow run)
SUMMARY_FILE = "summary.json"
