"""Reduce production chunks to every metric a plan asks for, in one pass over the rows (plus a pass
over spilled numbers when a window holds more values than are kept), with memory bounded by the
baseline and the chunk size, not by the production rows."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from mlops.monitoring import metrics, signals, views
from mlops.monitoring.baseline import PREDICTION, Baseline, category_counts, labels

if TYPE_CHECKING:
    import pandas as pd

    from mlops.monitoring.summary import MetricRow

# values read back at a time from a spill file
SPILL_CHUNK = 1 << 20
# p-value tests flag negligible differences from this many values on (Azure refuses them there)
P_VALUE_ROWS = 10_000


@dataclass
class Result:
    """Every metric row (Azure's signal output: feature, metric, value, threshold, breached), the
    histograms behind the drift metrics, and what the reader should know."""

    rows: list[MetricRow]
    histograms: dict[str, metrics.Histogram]
    production_rows: int
    notes: list[str] = field(default_factory=list)
    ground_truth: dict[str, int] | None = None  # --ground-truth rows, and production rows matched
    probabilities: np.ndarray | None = None  # a classifier's class probabilities per row it could score
    estimation: dict[str, Any] | None = None  # whether estimated_performance ran, and why (not)

    @property
    def breaches(self) -> dict[str, list[str]]:
        """Return the breached features of each signal."""
        found: dict[str, list[str]] = {}
        for row in self.rows:
            if row["breached"] and row["feature"] not in found.setdefault(row["signal"], []):
                found[row["signal"]].append(row["feature"])
        return {signal: columns for signal, columns in found.items() if columns}


def coerce(values: pd.Series, kind: str) -> tuple[pd.Series, int]:
    """Return a production column read as its baseline kind (values that cannot be become null)
    and how many non-null values could not be read that way."""
    import pandas as pd

    present = values.notna()
    if kind in ("float", "integer"):
        if values.dtype == object:
            values = values.where(~values.map(lambda value: isinstance(value, bool)), np.nan)
        numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float, na_value=np.nan, copy=True)
        numbers[np.isinf(numbers)] = np.nan
        if kind == "integer":
            numbers[numbers != np.round(numbers)] = np.nan
        read = pd.Series(numbers, index=values.index)
        return read, int((present & read.isna()).sum())
    if kind == "boolean":
        truth = {True: True, False: False, "true": True, "false": False, "True": True, "False": False}
        read = values.map(lambda value: truth.get(value) if isinstance(value, bool | str) else None)
        return read, int((present & read.isna()).sum())
    if kind == "datetime":
        moments = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
        text = moments.dt.strftime("%Y-%m-%dT%H:%M:%S").astype(object).where(moments.notna(), None)
        return text, int((present & moments.isna()).sum())
    return values.astype("string").astype(object).where(present, None), 0


class Column:
    """The quality counts and drift accumulator of one production column."""

    def __init__(self, name: str, kind: str, baseline: Baseline, column_type: str, spill: Path):
        profile = baseline.columns[name]
        self.name = name
        self.kind = kind
        self.type = column_type
        self.rows = self.nulls = self.type_errors = self.valid = self.out_of_bounds = 0
        sample = baseline.view[name]
        if column_type == metrics.NUMERICAL:
            self.low = profile.get("min", -np.inf)
            self.high = profile.get("max", np.inf)
            self.drift: metrics.Numerical | metrics.Categorical = metrics.Numerical(
                sample.dropna().to_numpy(dtype=float)
            )
            self.spill = spill  # values past what the accumulator keeps are appended here
        else:
            counts = category_counts(baseline, name)
            self.categories = set(counts)
            self.drift = metrics.Categorical(counts)

    def add(self, values: pd.Series) -> None:
        """Count and accumulate one chunk of this column's production values."""
        self.rows += len(values)
        self.nulls += int(values.isna().sum())
        if self.type == metrics.NUMERICAL:
            read, errors = coerce(values, self.kind)
            numbers = read.dropna().to_numpy(dtype=float)
            self.type_errors += errors
            self.valid += len(numbers)
            self.out_of_bounds += int(np.count_nonzero((numbers < self.low) | (numbers > self.high)))
            assert isinstance(self.drift, metrics.Numerical)  # a numerical column's accumulator
            self.drift.add(numbers)
            with self.spill.open("ab") as out:  # opened per chunk: a backfill holds many windows
                out.write(numbers.tobytes())
            return
        counts = self.label_counts(values)
        self.valid += sum(counts.values())
        self.out_of_bounds += sum(count for label, count in counts.items() if label not in self.categories)
        assert isinstance(self.drift, metrics.Categorical)  # a categorical column's accumulator
        self.drift.add(counts)

    def label_counts(self, values: pd.Series) -> dict[str, int]:
        """Return the count of each label in a chunk, reading each distinct value once; values that
        cannot be read as the column's kind are counted as type errors."""
        import pandas as pd

        distinct = values.value_counts(dropna=True)
        read, _ = coerce(pd.Series(distinct.index, dtype=object), self.kind)
        named = labels(read, self.kind if self.kind in ("integer", "boolean") else "string")
        counts: dict[str, int] = {}
        for label, count in zip(named.tolist(), distinct.tolist(), strict=True):
            if label is None:
                self.type_errors += count
            else:
                counts[label] = counts.get(label, 0) + count
        return counts

    def finish(self) -> None:
        """Build the histogram, reading spilled values back when too many were seen to keep them."""
        if self.type != metrics.NUMERICAL:
            return
        path = self.spill
        drift = self.drift
        assert isinstance(drift, metrics.Numerical)  # a numerical column's accumulator
        if drift.count and len(drift.baseline):
            drift.start_histogram()
            if drift.needs_second_pass:
                with path.open("rb") as spilled:
                    while len(chunk := np.fromfile(spilled, dtype=np.float64, count=SPILL_CHUNK)):
                        drift.add_to_histogram(chunk)
        path.unlink(missing_ok=True)

    def quality(self) -> dict[str, float]:
        """Return the three data-quality rates."""
        non_null = self.rows - self.nulls
        return {
            "null_value_rate": self.nulls / self.rows if self.rows else 0.0,
            "data_type_error_rate": self.type_errors / non_null if non_null else 0.0,
            "out_of_bounds_rate": self.out_of_bounds / self.valid if self.valid else 0.0,
        }


def row(
    signal: str, feature: str, data_type: str, metric: str, value: float | None, threshold: float | None
) -> MetricRow:
    """Return one metric row in Azure's signal-output shape."""
    return {
        "signal": signal,
        "feature": feature,
        "data_type": data_type,
        "metric": metric,
        "value": value,
        "threshold": threshold,
        "breached": metrics.breached(metric, value, threshold),
    }


class Window:
    """The accumulators of one production window: every monitored column the plan reads, the ground
    truth pairs and the rows seen. Feed it chunks of raw rows with ``add``; ``finish`` returns the
    metric rows."""

    def __init__(
        self,
        plan: signals.Plan,
        baseline: Baseline,
        spill: Path,
        score: Callable[[pd.DataFrame], Any] | None = None,
        truth: Callable[[pd.DataFrame], tuple[Any, Any]] | None = None,
        estimate: Callable[[pd.DataFrame], np.ndarray] | None = None,
    ):
        names = list(dict.fromkeys(name for signal in plan.features.values() for name in signal))
        spill.mkdir(parents=True, exist_ok=True)
        self.plan = plan
        self.kinds = baseline.kinds
        self.score = score
        self.truth = truth
        self.estimate = estimate
        self.probabilities: list[np.ndarray] = []
        self.pairs: list[tuple[Any, Any]] = []
        self.total = 0
        self.columns = {
            name: Column(name, baseline.columns[name]["dtype"], baseline, plan.types[name], spill / str(i))
            for i, name in enumerate(names)
        }

    def add(self, chunk: pd.DataFrame) -> None:
        """Accumulate one chunk of raw rows, through their monitored columns (``views``); rows
        without a prediction are scored first."""
        self.total += len(chunk)
        if PREDICTION in self.columns and self.score is not None:
            missing = chunk[PREDICTION].isna()
            if missing.any():
                scored = np.asarray(self.score(chunk.loc[missing]))
                # class labels as text: a column of nulls, read as floats, cannot hold them
                if scored.dtype.kind not in "biuf":
                    chunk[PREDICTION] = chunk[PREDICTION].astype(object)
                chunk.loc[missing, PREDICTION] = scored
        monitored = views.monitored(self.kinds, chunk)
        for name, column in self.columns.items():
            column.add(monitored[name])
        if self.truth is not None:
            self.pairs.append(self.truth(chunk))
        if self.estimate is not None:
            self.probabilities.append(self.estimate(chunk))

    def finish(self) -> tuple[Result, list[tuple[Any, Any]]]:
        """Return the window's metric rows and its (ground truth, prediction) pairs."""
        for column in self.columns.values():
            column.finish()
        result = rows_of(self.plan, self.columns, self.total)
        if self.probabilities:
            result.probabilities = np.concatenate(self.probabilities)
        return result, self.pairs


def compute(
    plan: signals.Plan,
    baseline: Baseline,
    chunks: Iterable[pd.DataFrame],
    score: Callable[[pd.DataFrame], Any] | None = None,
    truth: Callable[[pd.DataFrame], tuple[Any, Any]] | None = None,
    estimate: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> tuple[Result, list[tuple[Any, Any]]]:
    """Stream ``chunks`` through every column the plan reads. Rows without a prediction are scored
    with ``score``; ``truth`` pairs a chunk's ground truth with its predictions; ``estimate`` gives
    a chunk's class probabilities."""
    with tempfile.TemporaryDirectory(prefix="mlops-monitor-") as folder:
        window = Window(plan, baseline, Path(folder), score, truth, estimate)
        for chunk in chunks:
            window.add(chunk)
        return window.finish()


def rows_of(plan: signals.Plan, columns: dict[str, Column], total: int) -> Result:
    """Return the metric rows of every signal in the plan, with its thresholds and verdicts."""
    result = Result([], {}, total)
    large: list[str] = []
    for signal in (signals.DATA_DRIFT, signals.PREDICTION_DRIFT):
        for name in plan.features.get(signal, []):
            column = columns[name]
            if not column.drift.count or not (
                len(column.drift.baseline) if column.type == metrics.NUMERICAL else column.drift.baseline
            ):
                side = "production" if not column.drift.count else "training"
                result.notes.append(
                    f"{signal}: '{name}' has no non-null {side} values; its drift is not computed"
                )
                continue
            values, histogram = column.drift.drift()
            result.histograms[name] = histogram
            for metric, value in values.items():
                result.rows.append(
                    row(signal, name, column.type, metric, value, plan.threshold(signal, name, metric))
                )
            if column.drift.count >= P_VALUE_ROWS:
                large.append(name)
    if large:
        result.notes.append(
            f"{len(large)} columns hold {P_VALUE_ROWS:,} or more production values; at that size the p-value "
            "tests (two_sample_kolmogorov_smirnov_test, pearsons_chi_squared_test) flag even negligible "
            "differences, which is why Azure refuses them there"
        )
    for name in plan.features.get(signals.DATA_QUALITY, []):
        column = columns[name]
        for metric, value in column.quality().items():
            threshold = plan.threshold(signals.DATA_QUALITY, name, metric)
            result.rows.append(row(signals.DATA_QUALITY, name, column.type, metric, value, threshold))
    return result
