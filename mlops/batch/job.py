"""A batch job, as an Azure ML batch deployment runs one: settings, the scoring loop and the summary.

Files are streamed in mini-batches of ``mini_batch_size`` rows. Up to ``max_concurrency_per_instance``
mini-batches are predicted at once in threads (scikit-learn releases the GIL for most of predict)
while the next one is read, and their rows are written in input order, so memory is bounded by the
mini-batches in flight, never by the size of a file. The settings come from the model's
``deployment.batch`` config, which the command's options override.
"""

from __future__ import annotations

import csv
import io
import json
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import click

from mlops.batch import OUTPUT_ACTIONS
from mlops.core import atomic
from mlops.core.console import plural
from mlops.core.errors import MlopsError, first_line
from mlops.scoring.model import single_threaded
from mlops.scoring.reading import (
    MiniBatch,
    clean,
    error_entry,
    find_inputs,
    input_types,
    read_chunks,
    read_columns,
    where,
)

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig
    from sklearn.pipeline import Pipeline

    from mlops.scoring.guard import Guard, Refusal

KEPT_ERRORS = 100  # errors listed in summary.json
SHOWN_ERRORS = 5  # errors named in the message of a failed job

Echo = Callable[[str], None]


@dataclass(frozen=True)
class Settings:
    """The settings of a batch job, with the names of Azure ML batch deployments."""

    mini_batch_size: int
    max_concurrency_per_instance: int
    error_threshold: int
    output_action: str
    output_file_name: str
    max_retries: int
    timeout: float


@dataclass
class BatchSummary:
    """What one batch job scored; ``summary.json`` holds the same."""

    model: str
    version: str
    files: list[str]
    rows: int
    scored: int
    errors: int
    first_errors: list[dict[str, Any]]  # the first KEPT_ERRORS: file, row, line (CSV only), reason
    predictions: str | None  # the predictions file; None with summary_only
    settings: dict[str, Any]
    seconds: float


@dataclass
class Tally:
    """Rows read, rows scored and errors of a job; raises once the errors pass the threshold."""

    name: str
    error_threshold: int
    rows: int = 0
    scored: int = 0
    errors: int = 0
    first_errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, count: int, errors: list[dict[str, Any]]) -> None:
        """Count ``count`` rows as errors, keep the first few reasons, and raise past the threshold."""
        self.errors += count
        self.first_errors += errors[: KEPT_ERRORS - len(self.first_errors)]
        if 0 <= self.error_threshold < self.errors:
            shown = "; ".join(
                f"{where(entry)} {entry['reason']}" for entry in self.first_errors[:SHOWN_ERRORS]
            )
            raise MlopsError(
                f"{self.name}: {self.errors} errors after {self.rows} rows exceed error_threshold "
                f"{self.error_threshold} (first: {shown}); nothing was written; fix those rows or "
                "raise --error-threshold (-1 tolerates any number)"
            )


def read_settings(name: str, cfg: DictConfig) -> Settings:
    """Return the composed ``deployment.batch`` config as Settings; raise naming a bad key and its fix."""
    from omegaconf import OmegaConf

    def get(key: str, valid: Callable[[Any], bool], fix: str) -> Any:
        value = OmegaConf.select(cfg, f"deployment.batch.{key}")
        if not valid(value):
            raise MlopsError(f"{name}: deployment.batch.{key} is {value!r}; {fix}")
        return value

    def at_least(low: int) -> Callable[[Any], bool]:
        return lambda value: type(value) is int and value >= low

    return Settings(
        mini_batch_size=get("mini_batch_size", at_least(1), "use a positive number of rows"),
        max_concurrency_per_instance=get("max_concurrency_per_instance", at_least(1), "use 1 or more"),
        error_threshold=get("error_threshold", at_least(-1), "use a number of rows, or -1 to tolerate any"),
        output_action=get("output_action", OUTPUT_ACTIONS.__contains__, f"use {' or '.join(OUTPUT_ACTIONS)}"),
        output_file_name=get(
            "output_file_name",
            lambda value: (
                isinstance(value, str) and value not in ("", ".", "..") and not {"/", "\\"} & set(value)
            ),
            "use a file name without a folder",
        ),
        max_retries=get("retry_settings.max_retries", at_least(0), "use 0 or more"),
        timeout=get(
            "retry_settings.timeout",
            lambda value: type(value) in (int, float) and value > 0,
            "use a positive number of seconds",
        ),
    )


def output_names(pipeline: Pipeline) -> list[str]:
    """Return the prediction columns: ``prediction``, then ``probability_<class>`` for a classifier."""
    if not hasattr(pipeline, "predict_proba"):
        return ["prediction"]
    return ["prediction", *(f"probability_{label}" for label in pipeline.classes_)]


def predict(
    pipeline: Pipeline, guard: Guard | None, frame: pd.DataFrame
) -> tuple[list[Any], dict[int, Refusal]]:
    """Return the prediction columns of the rows of ``frame`` the model can take, in ``output_names``
    order, and why each other row (by position) is refused by the pipeline's ``guard`` (built once per
    job with ``Guard.of``; see ``mlops.scoring.guard``)."""
    from mlops.scoring.guard import score

    scored = score(pipeline, guard, frame, hasattr(pipeline, "predict_proba"))
    columns = [scored.predictions]
    if scored.probabilities is not None:
        columns += list(scored.probabilities.T)
    return columns, scored.refused


def csv_lines(file: str, frame: pd.DataFrame, names: list[str], predictions: list[Any]) -> bytes:
    """Return predictions CSV lines, without header: source_file, row, the features (a date-time as ISO
    8601 text, as a request sends it), the predictions."""
    import pandas as pd
    import pyarrow as pa
    import pyarrow.csv

    times = [column for column in frame if pd.api.types.is_datetime64_any_dtype(frame[column])]
    if times:
        frame = frame.assign(**{column: frame[column].dt.strftime("%Y-%m-%dT%H:%M:%S") for column in times})
    table = pa.Table.from_pandas(frame, preserve_index=False, nthreads=1)
    for name, values in zip(names, predictions, strict=True):
        table = table.append_column(name, pa.array(values))
    table = table.add_column(0, "row", pa.array(frame.index.to_numpy()))
    table = table.add_column(0, "source_file", pa.repeat(file, len(frame)))
    sink = pa.BufferOutputStream()
    pyarrow.csv.write_csv(table, sink, pyarrow.csv.WriteOptions(include_header=False))
    written: bytes = sink.getvalue().to_pybytes()
    return written


@dataclass
class Scored:
    """One scored mini-batch: its bad rows, how many rows were predicted, and their CSV lines."""

    errors: list[dict[str, Any]]
    scored: int
    lines: bytes


def score_batch(
    pipeline: Pipeline,
    guard: Guard | None,
    batch: MiniBatch,
    types: dict[str, str],
    names: list[str] | None,
) -> Scored:
    """Clean a mini-batch, predict its good rows (``guard``: the pipeline's, see ``predict``) and, given
    the output ``names``, format them as CSV."""
    good, errors = clean(batch.frame, types, batch.file, batch.csv)
    if good.empty:
        return Scored(errors, 0, b"")
    predictions, refused = predict(pipeline, guard, good)
    if refused:  # values the model cannot take once preprocessed: bad rows, by file and line
        rows = good.index.to_numpy()
        for position, refusal in refused.items():
            shown = (
                repr(good[refusal.column].iloc[[position]].tolist()[0]) if refusal.column in good else "it"
            )
            reason = f"column '{refusal.column}' {refusal.reason(shown)}"
            errors.append(error_entry(batch.file, int(rows[position]), batch.csv, reason))
        errors.sort(key=lambda entry: entry["row"])
        good = good.drop(index=rows[list(refused)])
    return Scored(errors, len(good), csv_lines(batch.file, good, names, predictions) if names else b"")


def with_retries(
    first: Future[Any], again: Callable[[], Future[Any]], max_retries: int, timeout: float
) -> tuple[Any, str | None]:
    """Wait up to ``timeout`` seconds for ``first``; after an error or a timeout wait for ``again()``,
    up to ``max_retries`` times. Return the result and None, or None and the last failure. A thread
    cannot be stopped: an attempt that timed out still finishes in the background."""
    future = first
    for attempt in range(max_retries + 1):
        if attempt:
            future = again()
        try:
            return future.result(timeout=timeout), None
        except TimeoutError:
            failure = f"timed out after {timeout:g} s"
        except Exception as problem:
            failure = f"{type(problem).__name__}: {first_line(problem)}"
    return None, f"{failure} ({plural(max_retries + 1, 'attempt')})"


def csv_line(values: list[str]) -> bytes:
    """Return one CSV line."""
    text = io.StringIO()
    csv.writer(text, lineterminator="\n").writerow(values)
    return text.getvalue().encode()


def mini_batches(
    files: list[Path], types: dict[str, str], size: int, tally: Tally, advance: Callable[[int], None]
) -> Iterator[MiniBatch]:
    """Yield the rows of ``files`` mini-batch by mini-batch, calling ``advance`` with the bytes read;
    count the rows of a file that lacks a feature column as errors."""
    strings = [column for column, kind in types.items() if kind == "string"]
    for file in files:
        is_csv = file.suffix.lower() == ".csv"
        columns = read_columns(file)
        missing = [column for column in types if column not in columns]
        if missing:
            rows = sum(len(frame) for frame, _ in read_chunks(file, columns[:1], [], 100_000))
            tally.rows += rows
            reason = f"lacks the feature column{'s' if len(missing) > 1 else ''} {', '.join(missing)}"
            tally.fail(rows, [error_entry(str(file), None, is_csv, reason)])
            advance(file.stat().st_size)
            continue
        done = 0
        for frame, read in read_chunks(file, list(types), strings, size):
            advance(read - done)
            done = read
            tally.rows += len(frame)
            yield MiniBatch(str(file), is_csv, frame)


def run(
    name: str,
    pipeline: Pipeline,
    files: list[Path],
    types: dict[str, str],
    settings: Settings,
    handle: IO[bytes] | None,
) -> Tally:
    """Score ``files`` with ``max_concurrency_per_instance`` worker threads while reading ahead, and
    append the predictions to ``handle`` (when given) in input order; return the counts."""
    tally = Tally(name, settings.error_threshold)
    if settings.max_concurrency_per_instance > 1:  # the worker threads already use the cores
        single_threaded(pipeline)
    names = output_names(pipeline)
    if handle:
        handle.write(csv_line(["source_file", "row", *types, *names]))
    from mlops.scoring.guard import Guard

    guard = Guard.of(pipeline)  # once per job: feature names and a walk of the trees
    work = partial(score_batch, pipeline, guard, types=types, names=names if handle else None)
    pending: deque[tuple[MiniBatch, Future[Scored]]] = deque()
    total = sum(file.stat().st_size for file in files)
    with (
        ThreadPoolExecutor(settings.max_concurrency_per_instance) as pool,
        click.progressbar(length=total, label=f"{name}: scoring", file=sys.stderr) as bar,
    ):

        def finish() -> None:
            batch, future = pending.popleft()
            again = partial(pool.submit, work, batch)
            scored, failure = with_retries(future, again, settings.max_retries, settings.timeout)
            if failure:
                reason = f"the mini-batch of {len(batch.frame)} rows starting here failed: {failure}"
                tally.fail(
                    len(batch.frame), [error_entry(batch.file, int(batch.frame.index[0]), batch.csv, reason)]
                )
                return
            tally.scored += scored.scored
            if scored.errors:
                tally.fail(len(scored.errors), scored.errors)
            if handle:
                handle.write(scored.lines)

        for batch in mini_batches(files, types, settings.mini_batch_size, tally, bar.update):
            pending.append((batch, pool.submit(work, batch)))
            if len(pending) > settings.max_concurrency_per_instance:
                finish()
        while pending:
            finish()
    return tally


def score(
    name: str,
    inputs: str,
    output: Path,
    *,
    version: str | None = None,
    alias: str = "champion",
    overrides: Sequence[str] = (),
    echo: Echo = print,
) -> BatchSummary:
    """Score every row of the CSV and Parquet files ``inputs`` names with a registered version of
    ``name`` (``version``, else the one holding ``alias``); write ``summary.json`` and, with
    append_row, the predictions to the ``output`` folder. A failed job writes neither."""
    from mlops import registry
    from mlops.models import catalog
    from mlops.models.features import feature_columns

    started = time.perf_counter()
    cfg = catalog.load_config(name, overrides)
    settings = read_settings(name, cfg)
    output = Path(output)
    files = find_inputs(inputs, output / settings.output_file_name)
    target = output / settings.output_file_name if settings.output_action == "append_row" else None
    model_version = registry.find_version(name, version, alias)
    described = registry.described(name, model_version.version)
    # a version this framework registers has a source (``runs:/<run_id>/model``)
    types = input_types(cast(str, model_version.source), feature_columns(cfg), described)
    pipeline = registry.load(model_version, catalog.trusted(cfg))
    # the predictions go with summary.json or not at all, and a folder made for them goes with them
    with atomic.made(output), atomic.replacing(target) if target else nullcontext() as handle:
        tally = run(name, pipeline, files, types, settings, handle)
        summary = BatchSummary(
            model=name,
            version=str(model_version.version),
            files=[str(file) for file in files],
            rows=tally.rows,
            scored=tally.scored,
            errors=tally.errors,
            first_errors=tally.first_errors,
            predictions=str(target) if target else None,
            settings=asdict(settings),
            seconds=round(time.perf_counter() - started, 3),
        )
        atomic.write(output / "summary.json", json.dumps(asdict(summary), indent=2))
    echo(
        f"{name}: scored {plural(summary.scored, 'row')} from {plural(len(files), 'file')} with version "
        f"{summary.version} -> {target or output / 'summary.json'} ({plural(summary.errors, 'error')})"
    )
    return summary
