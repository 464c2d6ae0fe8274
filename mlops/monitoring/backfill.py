"""``mlops monitor --backfill``: monitor consecutive past windows from one pass over the production
files. The pass writes each window's rows to its own scratch partition; each window is then computed
alone from its partition, so memory holds one chunk and one window's accumulators however many
windows there are, and the production files are read once."""

from __future__ import annotations

import pickle
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.monitoring import production

if TYPE_CHECKING:
    import pandas as pd

    from mlops.monitoring.baseline import Baseline
    from mlops.monitoring.compute import Result
    from mlops.monitoring.signals import Plan

EVERY = "P1D"  # each window's length unless --every says otherwise (mlops monitor's --help says it too)
MOST_WINDOWS = 1000  # more windows than this in one backfill is a mistake in --every or the dates


def windows(span: production.Window, every: str) -> list[production.Window]:
    """Return ``span`` cut into consecutive windows of the ISO 8601 duration ``every``, oldest first;
    the last one ends at the span's end, so it may be shorter."""
    step = production.parse_duration(every, "--every")
    count = -(-(span.end - span.start) // step)
    if count > MOST_WINDOWS:
        raise MlopsError(
            f"--every {every} cuts {span} into {count:,} windows, more than {MOST_WINDOWS:,}; use a longer "
            "--every or a shorter range"
        )
    return [
        production.Window(span.start + i * step, min(span.start + (i + 1) * step, span.end))
        for i in range(count)
    ]


def partition(
    chunks: Iterable[pd.DataFrame], cuts: list[production.Window], column: str, folder: Path
) -> list[int]:
    """Write each chunk's rows into the scratch partition of the window they fall in (``folder``/<i>/),
    in reading order; return each window's row count."""
    import numpy as np

    starts = np.array([np.datetime64(cut.start.replace(tzinfo=None), "us") for cut in cuts])
    counts = [0] * len(cuts)
    for number, chunk in enumerate(chunks):
        moments = production.timestamps(chunk[column]).dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
        index = np.searchsorted(starts, moments, side="right") - 1
        for i in np.unique(index):
            rows = chunk[index == i]
            part = folder / str(i)
            part.mkdir(parents=True, exist_ok=True)
            with (part / f"{number:08d}.pickle").open("wb") as out:
                pickle.dump(rows, out, protocol=pickle.HIGHEST_PROTOCOL)
            counts[i] += len(rows)
    return counts


def read(folder: Path) -> Iterator[pd.DataFrame]:
    """Yield a window's partition in the order it was written (scratch written by this process only)."""
    for path in sorted(folder.glob("*.pickle")):
        with path.open("rb") as part:
            yield pickle.load(part)


def results(
    cuts: list[production.Window],
    counts: list[int],
    files: int,
    folder: Path,
    plan: Plan,
    base: Baseline,
    score: Any,
    truth: Callable[[pd.DataFrame], tuple[Any, Any]] | None,
    estimate: Callable[[pd.DataFrame], Any] | None = None,
) -> Iterator[tuple[production.Window, Result, list[Any], production.Tally, int]]:
    """Yield each window's (window, result, ground truth pairs, tally, rows scored), oldest first,
    from the partitions ``partition`` wrote (each removed once read); a window without rows gets an
    empty result noting it."""
    import shutil

    from mlops.monitoring import compute

    for i, (cut, rows) in enumerate(zip(cuts, counts, strict=True)):
        before = score.scored
        if rows:
            window = compute.Window(plan, base, folder / f"spill-{i}", score, truth, estimate)
            for chunk in read(folder / str(i)):
                window.add(chunk)
            result, pairs = window.finish()
            shutil.rmtree(folder / str(i))
        else:
            result, pairs = compute.Result([], {}, 0, [f"no production rows from {cut}"]), []
        yield cut, result, pairs, production.Tally(files=files, rows=rows), score.scored - before
