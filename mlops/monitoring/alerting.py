"""When a monitor's breach becomes an alert. Azure's verdict (a value past its threshold) is kept as it
is, the raw breach; on top of it ``monitoring.alerting`` decides whether to alert: a window with too
few production rows is "insufficient data", never an alert; a breach whose value is below its
metric's floor (a rate of one row in a million) does not count, nor does a drift distance within the
sampling noise of the window's row count (``mlops.monitoring.noise``); a breach alerts only when it held in
enough of the model's recent windows (persistence, read from the monitor's own MLflow runs); and
after an alert retrains, ``--on-breach retrain`` holds for a cool-down. The exit status and the retrain
follow the alert."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.core.settings import value as setting

if TYPE_CHECKING:
    from mlflow.entities import Run
    from omegaconf import DictConfig

    from mlops.monitoring.summary import MetricRow

ALERT_TAG = "mlops.alert"  # "true" on a monitor run that alerted
RETRAINED_TAG = "mlops.retrained"  # "true" on a monitor run whose alert retrained the model
COUNTED_TAG = "mlops.breach_counted"  # "true" on a monitor run with a breach that counts toward an alert
# a p-value test flags negligible differences on large windows: its floor applies to the effect size
# of the same feature and signal, this distance
EFFECT_SIZE = {
    "two_sample_kolmogorov_smirnov_test": "normalized_wasserstein_distance",
    "pearsons_chi_squared_test": "jensen_shannon_distance",
}


@dataclass(frozen=True)
class Alert:
    """The alert decision on one monitor window: its state ("alert", "breach held back",
    "insufficient data" or "no breach"), whether it alerts,
    why, and whether ``--on-breach retrain`` may fire (not during a cool-down)."""

    state: str
    raised: bool
    reason: str
    retrain: bool = False


@dataclass(frozen=True)
class Settings:
    """``monitoring.alerting``, checked."""

    min_rows: int
    breaches: int
    windows: int
    cooldown: timedelta
    floors: dict[str, float]  # metric: the smallest value a breach of it must reach to count
    noise_quantile: float | None  # None: a distance's breach counts whatever its noise
    noise_draws: int

    @classmethod
    def of(cls, cfg: DictConfig) -> Settings:
        """Return the model's alerting settings, raising naming the key when one is malformed."""
        from mlops.monitoring import production

        found = cfg.monitoring.get("alerting") or {}
        persistence = found.get("persistence") or {}
        min_rows = setting(found, "monitoring.alerting.min_rows")
        breaches = setting(persistence, "monitoring.alerting.persistence.breaches")
        windows = setting(persistence, "monitoring.alerting.persistence.windows")
        if breaches > windows:
            raise MlopsError(
                f"monitoring.alerting.persistence.breaches ({breaches}) is above persistence.windows "
                f"({windows}); an alert needs breaches in at most every one of the last windows"
            )
        text = found.get("cooldown")
        cooldown = (
            production.parse_duration(str(text), "monitoring.alerting.cooldown") if text else timedelta(0)
        )
        from mlops.monitoring.metrics import LOWER_IS_BREACH

        floors = dict(found.get("floors") or {})
        for metric, floor in floors.items():
            if metric in LOWER_IS_BREACH and metric not in EFFECT_SIZE:
                raise MlopsError(
                    f"monitoring.alerting.floors.{metric}: {metric} breaches below its threshold, so a floor "
                    "cannot make a breach too small to count; remove it"
                )
            if isinstance(floor, bool) or not isinstance(floor, int | float) or floor < 0:
                raise MlopsError(
                    f"monitoring.alerting.floors.{metric} is {floor!r}; it must be a number of at least 0"
                )
        quantile, draws = noise_settings(found.get("noise", {}))
        floors = {key: float(value) for key, value in floors.items()}
        return cls(min_rows, breaches, windows, cooldown, floors, quantile, draws)

    def counted(
        self,
        rows: list[MetricRow],
        training: dict[tuple[str, str], float] | None = None,
    ) -> list[MetricRow]:
        """Return the breached metric ``rows`` (all of a window's rows) that count toward an alert:
        those that reach their metric's floor, above the training rows' own value of it
        (``training``, by (metric, feature): a column with 3% nulls in training counts a null rate
        from 3% plus the floor), and, for a drift distance, beyond its ``noise_threshold`` (set by
        ``mlops.monitoring.noise``); a p-value test's breach is judged by the effect size of the same
        feature (``EFFECT_SIZE``), which must reach the test's floor and its own noise threshold."""
        training = training or {}
        by_key = {(row["signal"], row["feature"], row["metric"]): row for row in rows}
        found = []
        for row in rows:
            if not row["breached"] or row["value"] is None:
                continue
            floor = self.floors.get(row["metric"], 0.0)
            if row["metric"] in EFFECT_SIZE:
                size = by_key.get((row["signal"], row["feature"], EFFECT_SIZE[row["metric"]]))
                reached = (
                    size is None or size["value"] is None or (size["value"] >= floor and beyond_noise(size))
                )
            else:
                reached = row["value"] >= training.get((row["metric"], row["feature"]), 0.0) + floor
                reached = reached and beyond_noise(row)
            if reached:
                found.append(row)
        return found


def beyond_noise(row: MetricRow) -> bool:
    """Return whether a metric row's value is beyond its sampling noise (True when it has none)."""
    noise = row.get("noise_threshold")
    return noise is None or (row["value"] is not None and row["value"] > noise)


def noise_settings(found: Any) -> tuple[float | None, int]:
    """Return ``monitoring.alerting.noise``'s quantile (None: off) and draws, raising naming the key
    when one is malformed; ``noise: null`` turns the noise threshold off."""
    if found is None:
        return None, 0
    quantile = setting(found, "monitoring.alerting.noise.quantile")
    draws = setting(found, "monitoring.alerting.noise.draws")
    if quantile is not None and draws * (1 - quantile) < 1 - 1e-9:
        least = math.ceil(1 / (1 - quantile) - 1e-9)
        raise MlopsError(
            f"monitoring.alerting.noise.draws is {draws}, too few for quantile {quantile}: use at least "
            f"{least}"
        )
    return (None if quantile is None else float(quantile)), draws


def decide(
    settings: Settings,
    rows: int,
    breaches: list[MetricRow],
    counted: list[MetricRow],
    earlier: list[bool],
    last_retrain: datetime | None,
    now: datetime,
) -> Alert:
    """Return the alert decision on a window of ``rows`` production rows ending at ``now`` with the
    raw ``breaches`` (breached metric rows; ``counted``: those that reach their floors), given
    whether each of the model's ``earlier`` windows (newest first) had a breach that counted, and
    the end of the last window whose alert retrained (None: never)."""
    if rows < settings.min_rows:
        return Alert(
            "insufficient data",
            False,
            f"{rows:,} production rows, fewer than monitoring.alerting.min_rows {settings.min_rows:,}: "
            "reported, never an alert",
        )
    if not breaches:
        return Alert("no breach", False, "no threshold breached")
    if not counted:
        noisy = sorted({row["metric"] for row in breaches if not beyond_noise(row)})
        below = sorted({row["metric"] for row in breaches} - set(noisy))
        parts = [f"below its monitoring.alerting.floors value ({', '.join(below)})"] if below else []
        if noisy:
            parts.insert(0, f"within the sampling noise of {rows:,} rows ({', '.join(noisy)})")
        return Alert(
            "breach held back",
            False,
            f"every breach is {' or '.join(parts)}: too small to act on",
        )
    held = 1 + sum(earlier[: settings.windows - 1])
    named = named_breaches(counted)
    if held < settings.breaches:
        return Alert(
            "breach held back",
            False,
            f"breached in {held} of the last {settings.windows} windows ({named}); "
            f"monitoring.alerting.persistence alerts at {settings.breaches}",
        )
    from mlops.monitoring import production

    reason = f"breached in {held} of the last {settings.windows} windows ({named})"
    if last_retrain is not None and now - last_retrain <= settings.cooldown:
        return Alert(
            "alert",
            True,
            f"{reason}; retraining held: the window of the last retrain on an alert ended "
            f"{production.stamp(last_retrain)}, within monitoring.alerting.cooldown of this one",
        )
    return Alert("alert", True, reason, retrain=True)


def named_breaches(counted: list[MetricRow]) -> str:
    """Return the signals and features of the breaches that count: "data_drift: distance, vendor"."""
    found: dict[str, list[str]] = {}
    for row in counted:
        if row["feature"] not in found.setdefault(row["signal"], []):
            found[row["signal"]].append(row["feature"])
    return "; ".join(f"{signal}: {', '.join(features)}" for signal, features in found.items())


def history(runs: list[Run], window_end: str, windows: int) -> tuple[list[bool], datetime | None]:
    """Return whether each of the model's monitor ``runs`` (one per window, oldest first, as
    ``history.monitor_runs`` gives them) that ended before ``window_end`` had a breach that counted
    (newest first, at most ``windows``), and the end of the last window whose alert retrained (the
    cool-down runs from there, in window time, so a backfill and a daily schedule decide alike)."""
    from mlops.monitoring import production

    earlier = [run for run in runs if run.data.tags["window_end"] < window_end][::-1]
    verdicts = [run.data.tags.get(COUNTED_TAG) == "true" for run in earlier[:windows]]
    retrained = [
        run.data.tags["window_end"]
        for run in runs
        if run.data.tags.get(RETRAINED_TAG) == "true" and run.data.tags["window_end"] <= window_end
    ]
    last = production.parse_time(max(retrained), "window_end") if retrained else None
    return verdicts, last
