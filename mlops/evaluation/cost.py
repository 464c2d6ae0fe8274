"""What a version costs to serve: single-row predict latency, batch throughput, the size of its model
file and the memory its load takes; and how many times the champion's cost a candidate's is.

Latency and throughput are measured in the same process for candidate and champion, their calls
interleaved (the order swapped each round), so what slows the machine meanwhile slows both alike and
their ratio stays near 1 for models of the same size. Every figure is logged on the version.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from mlflow.entities import Metric
    from sklearn.pipeline import Pipeline

BUDGET_SECONDS = 2.0  # time the single-row calls of every model measured together aim at
MIN_CALLS, MAX_CALLS = 50, 200  # single-row calls per model, whatever the budget
BATCH_ROWS = 10_000  # rows of the batch call (the compared test rows, repeated up to this many)
BATCH_REPEATS = 3  # batch calls per model; the median is kept
# bound (evaluation.cost.<key>): the figure it bounds, and whether a larger figure costs more
BOUNDS = {
    "latency_p50": ("latency_p50_ms", True),
    "latency_p95": ("latency_p95_ms", True),
    "throughput": ("rows_per_second", False),
    "size": ("size_bytes", True),
    "memory": ("load_memory_bytes", True),
}
LABELS = {  # figure: how a card or report names it
    "latency_p50_ms": "single-row latency, median",
    "latency_p95_ms": "single-row latency, 95th percentile",
    "rows_per_second": "batch throughput",
    "size_bytes": "model file size",
    "load_memory_bytes": "memory its load takes",
}
TAG_PREFIX = "cost."  # a version's figures are tagged cost.<figure>


def serving(models: Sequence[tuple[Pipeline, pd.DataFrame]]) -> list[dict[str, float]]:
    """Return each pipeline's single-row latency (median and 95th percentile of warm calls, in ms)
    and batch throughput (rows/s) on its features (the same rows for each, in the columns each
    takes), measured with the calls interleaved."""
    import numpy as np
    import pandas as pd

    count = len(models[0][1])
    rows = [[features.iloc[[at]] for at in range(min(count, MAX_CALLS))] for _, features in models]
    for (pipeline, _), own in zip(models, rows, strict=True):  # warm: lazy imports and caches
        pipeline.predict(own[0])
    warm = [timed(pipeline.predict, own[-1]) for (pipeline, _), own in zip(models, rows, strict=True)]
    calls = int(min(MAX_CALLS, max(MIN_CALLS, BUDGET_SECONDS / max(sum(warm), 1e-6))))
    latencies: list[list[float]] = [[] for _ in models]
    for call in range(calls):
        order = range(len(models)) if call % 2 == 0 else reversed(range(len(models)))
        for index in order:
            own = rows[index]
            latencies[index].append(timed(models[index][0].predict, own[call % len(own)]))
    repeats = max(1, math.ceil(BATCH_ROWS / count))
    batches = [pd.concat([features] * repeats, ignore_index=True).head(BATCH_ROWS) for _, features in models]
    spent: list[list[float]] = [[] for _ in models]
    for _ in range(BATCH_REPEATS):
        for index, (pipeline, _) in enumerate(models):
            spent[index].append(timed(pipeline.predict, batches[index]))
    return [
        {
            "latency_p50_ms": float(np.median(taken) * 1000),
            "latency_p95_ms": float(np.quantile(taken, 0.95) * 1000),
            "rows_per_second": float(len(batch) / max(np.median(seconds), 1e-9)),
        }
        for taken, seconds, batch in zip(latencies, spent, batches, strict=True)
    ]


def timed(call: Callable[[Any], object], argument: Any) -> float:
    """Return the seconds ``call(argument)`` takes."""
    started = time.perf_counter()
    call(argument)
    return time.perf_counter() - started


def loaded(folder: Path, trusted_extra: Iterable[str], model: str) -> tuple[Pipeline, dict[str, float]]:
    """Load the pipeline of an MLflow model folder; return it with the size of its model file and
    the peak memory its load allocated (Python's and NumPy's allocations, traced)."""
    import tracemalloc

    from mlops.registry import modelio

    imported(folder, trusted_extra, model)  # the peak counts the model's data, not the code its load imports
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    before = tracemalloc.get_traced_memory()[0]
    try:
        pipeline = modelio.load(folder, trusted_extra, model)
        peak = tracemalloc.get_traced_memory()[1] - before
    finally:
        if not tracing:
            tracemalloc.stop()
    size = modelio.model_size(folder)
    return pipeline, {"size_bytes": float(size), "load_memory_bytes": float(peak)}


def imported(folder: Path, trusted_extra: Iterable[str], model: str) -> None:
    """Import what loading the MLflow model folder runs: the loader's modules and the module of each
    type its pickled pipeline holds; a model of the trainer route, whose own load imports its library,
    is loaded once."""
    import importlib

    import skops.io  # noqa: F401 - the loader's own import
    from mlflow.models import Model

    from mlops.registry import modelio

    flavors = Model.load(str(Path(folder) / "MLmodel")).flavors
    if "sklearn" not in flavors:
        modelio.load(folder, trusted_extra, model)
        return
    flavor = flavors["sklearn"]
    for name in flavor.get("skops_trusted_types") or []:
        try:
            importlib.import_module(name.rpartition(".")[0])
        except ImportError:  # not a module path: the load itself reports what it cannot find
            continue


def ratios(candidate: Mapping[str, float], champion: Mapping[str, float]) -> dict[str, float]:
    """Return, per bound key, how many times the champion's cost the candidate's is (above 1:
    costlier), for the figures both have."""
    found = {}
    for key, (figure, larger_costs_more) in BOUNDS.items():
        ours, theirs = candidate.get(figure), champion.get(figure)
        if ours and theirs and math.isfinite(ours) and math.isfinite(theirs):
            found[key] = ours / theirs if larger_costs_more else theirs / ours
    return found


def tags(figures: Mapping[str, float]) -> dict[str, str]:
    """Return a version's cost figures as its ``cost.<figure>`` tags."""
    return {f"{TAG_PREFIX}{key}": repr(float(value)) for key, value in figures.items()}


def logged(figures: Mapping[str, float]) -> list[Metric]:
    """Return a version's cost figures as the MLflow metrics ``cost_<figure>`` of its run."""
    from mlflow.entities import Metric

    stamp = int(time.time() * 1000)
    return [Metric(f"cost_{key}", float(value), stamp, 0) for key, value in figures.items()]


def shown(key: str, figures: Mapping[str, float]) -> str:
    """Return the figure a bound key bounds as a reason prints it: ``27.1 ms``, ``3.2 MB``."""
    figure = BOUNDS[key][0]
    return formatted(figure, figures.get(figure, float("nan")))


def formatted(figure: str, value: float | None) -> str:
    """Return one cost figure with its unit: ``27.1 ms``, ``3.2 MB``, ``65,391 rows/s``."""
    if value is None:
        return ""
    if figure.endswith("_ms"):
        return f"{value:.3g} ms"
    if figure.endswith("_bytes"):
        return f"{value / 1e6:.3g} MB"
    return f"{value:,.0f} rows/s"
