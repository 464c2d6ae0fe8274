"""The scoring script of every model batch deployment, run by Azure ML's batch runtime: each input file
is scored on its own with ``mlops batch``'s code (columns matched by name, values converted to the
training types, bad rows reported by file and line), streamed in chunks so no file sits whole in memory.

How Azure runs it (docs: how-to-batch-scoring-script.md, reference-yaml-job-parallel.md,
how-to-deploy-model-custom-output.md): the script's folder is on ``sys.path``, so the first lines make
the code folder (three levels up) importable; workers run in a temporary folder, so nothing here relies
on the working directory. ``init()`` runs once per worker process with ``AZUREML_MODEL_DIR`` (the
registered model), ``AZUREML_BI_OUTPUT_PATH`` (the job's output folder) and the deployment's
variables ``MLOPS_MODEL``, ``MLOPS_OUTPUT_ACTION`` and ``MLOPS_CHUNK_ROWS`` set; ``run(mini_batch)``
gets a list of absolute file paths. Each element ``run()`` returns counts as one input that succeeded;
the gap between the inputs and the returned elements counts as failed inputs against
``error_threshold``; a ``run()`` that raises fails every input of its mini-batch.

Under the output folder, for each input file ``<name>``:

- ``predictions/<name>.csv`` (``.csv`` kept, not doubled): when ``MLOPS_OUTPUT_ACTION`` is append_row,
  the columns of ``mlops batch``'s predictions.csv with a header row (source_file, row, the features,
  prediction, probability_<class> for classifiers), written whole or not at all;
- ``summaries/<name>.json``: always; ``mlops batch``'s summary fields for that file, and ``failed``,
  the reason when the file could not be scored at all (unreadable, empty, neither CSV nor Parquet, a
  feature column missing). Such a file is not returned, so Azure counts it as failed; bad rows never
  fail a file.

Outputs are named after the input's file name, so two inputs with one name (in different folders)
would share them: the first to claim the name (its summary is created exclusively) is scored, the
other is refused, and its summary, naming both, is ``summaries/<name>.<8 hex digits of its path>.json``.
"""

from __future__ import annotations

import sys
from pathlib import Path

CODE = Path(__file__).resolve().parents[3]  # <code>/mlops/azureml/runtime/score_batch.py
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

import hashlib  # noqa: E402  (after the code folder is importable)
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from contextlib import nullcontext  # noqa: E402
from dataclasses import asdict, dataclass, field  # noqa: E402
from typing import IO, Any  # noqa: E402

from mlops.batch import OUTPUT_ACTIONS, job  # noqa: E402
from mlops.core import atomic  # noqa: E402
from mlops.core.errors import MlopsError, first_line  # noqa: E402
from mlops.scoring import reading  # noqa: E402
from mlops.scoring.model import single_threaded  # noqa: E402

PREDICTIONS, SUMMARIES = "predictions", "summaries"  # folders under AZUREML_BI_OUTPUT_PATH
UNFINISHED = "not finished: its mini-batch timed out or its process stopped"
logger = logging.getLogger("mlops.azureml.runtime.score_batch")
state: dict[str, Any] = {}


@dataclass
class FileSummary:
    """What scoring one input file did; its ``summaries/<name>.json`` holds the same."""

    model: str
    version: str
    file: str
    rows: int = 0
    scored: int = 0
    errors: int = 0
    first_errors: list[dict[str, Any]] = field(default_factory=list)  # file, row, line (CSV only), reason
    predictions: str | None = None  # predictions/<name>.csv under the output folder, when written
    failed: str | None = UNFINISHED  # why the file was not scored; None once it was
    seconds: float = 0.0


def init() -> None:
    """Load the registered model Azure mounted (checked skops loader, single-threaded: Azure's
    concurrency is max_concurrency_per_instance processes), the training type of each feature, and
    the deployment's settings; create the output folders."""
    from mlops.models import catalog
    from mlops.models.features import feature_columns
    from mlops.registry import modelio
    from mlops.scoring.guard import Guard

    name = os.environ["MLOPS_MODEL"]
    action = os.environ["MLOPS_OUTPUT_ACTION"]
    if action not in OUTPUT_ACTIONS:
        raise MlopsError(f"MLOPS_OUTPUT_ACTION is {action!r}; use {' or '.join(OUTPUT_ACTIONS)}")
    mounted = Path(os.environ["AZUREML_MODEL_DIR"])  # Azure: azureml-models/<name>/<version>
    folder = modelio.find(mounted)
    cfg = catalog.load_config(name)
    pipeline = modelio.load(folder, catalog.trusted(cfg), name)
    single_threaded(pipeline)
    output = Path(os.environ["AZUREML_BI_OUTPUT_PATH"])
    for part in (PREDICTIONS, SUMMARIES):
        (output / part).mkdir(parents=True, exist_ok=True)
    state.update(
        model=name,
        version=mounted.name,
        pipeline=pipeline,
        guard=Guard.of(pipeline),  # once per process, not per mini-batch
        types=reading.input_types(str(folder), feature_columns(cfg), f"the model at {folder}"),
        names=job.output_names(pipeline),
        chunk_rows=int(os.environ["MLOPS_CHUNK_ROWS"]),
        predictions=action == "append_row",
        output=output,
    )


def run(mini_batch: list[str]) -> list[str]:
    """Score each file of the mini-batch on its own; return the paths of the files scored. A file that
    cannot be scored at all is left out (Azure counts it as a failed item) and the others are scored
    all the same. Paths, not rows: with summary_only Azure only counts them, and under append_row they
    would read as one line per scored file."""
    return [file for file in mini_batch if score_file(Path(file)).failed is None]


def score_file(file: Path) -> FileSummary:
    """Score one input file into the output folder unless another input claimed its name; write and
    log its summary and return it."""
    started = time.perf_counter()
    summary = FileSummary(state["model"], state["version"], str(file))
    place = state["output"] / SUMMARIES / f"{file.name}.json"
    owner = claim(place, summary)
    if owner == summary.file:
        score_into(file, summary)
    else:
        summary.failed = (
            f"another input file named {file.name} ({owner or 'its summary unreadable'}) is scored into "
            "the same outputs; give input files unique names"
        )
        digest = hashlib.sha1(summary.file.encode()).hexdigest()[:8]
        place = place.with_name(f"{file.name}.{digest}.json")
    summary.seconds = round(time.perf_counter() - started, 3)
    atomic.write(place, json.dumps(asdict(summary), indent=2))
    log(summary)
    return summary


def claim(place: Path, summary: FileSummary) -> str | None:
    """Create the summary file ``place`` holding ``summary`` (unfinished) unless it exists: exclusively,
    so of two inputs with one name only one gets it. Return the input file it belongs to: this one
    (also when a retried mini-batch finds its own), another, or None when it cannot be read."""
    try:
        descriptor = os.open(place, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        try:
            owner: str = json.loads(place.read_text())["file"]
            return owner
        except (OSError, ValueError, KeyError):
            return None
    with open(descriptor, "wb") as handle:
        handle.write(json.dumps(asdict(summary), indent=2).encode())
    return summary.file


def score_into(file: Path, summary: FileSummary) -> None:
    """Score ``file`` and fill ``summary``: its counts and first errors, the predictions file written
    (append_row), or why the file could not be scored at all, in which case no predictions file is
    left. Whatever goes wrong with one file stays with that file."""
    tally = job.Tally(summary.file, -1)  # -1: bad rows never fail the file
    name = file.name if file.suffix.lower() == ".csv" else f"{file.name}.csv"
    target = state["output"] / PREDICTIONS / name if state["predictions"] else None
    try:
        if file.suffix.lower() not in reading.SUFFIXES:
            raise MlopsError(f"{file.name} is neither CSV nor Parquet")
        with atomic.replacing(target) if target else nullcontext() as handle:
            stream(file, tally, handle)
    except MlopsError as problem:
        summary.failed = str(problem)
    except Exception as problem:
        summary.failed = f"{type(problem).__name__}: {first_line(problem)}"
    else:
        summary.failed = None
        summary.predictions = target.relative_to(state["output"]).as_posix() if target else None
    summary.rows, summary.scored, summary.errors = tally.rows, tally.scored, tally.errors
    summary.first_errors = tally.first_errors


def stream(file: Path, tally: job.Tally, handle: IO[bytes] | None) -> None:
    """Read ``file`` in chunks of ``MLOPS_CHUNK_ROWS`` rows as ``mlops batch`` does, predict each
    chunk's good rows and write them to ``handle`` (when given) after a header; count rows and errors
    in ``tally``. Raise when the file lacks a feature column (``mlops batch`` records that as one error
    without a row, counting all the file's rows)."""
    types, names = state["types"], state["names"]
    if handle:
        handle.write(job.csv_line(["source_file", "row", *types, *names]))
    for batch in job.mini_batches([file], types, state["chunk_rows"], tally, lambda _read: None):
        scored = job.score_batch(state["pipeline"], state["guard"], batch, types, names if handle else None)
        tally.scored += scored.scored
        tally.fail(len(scored.errors), scored.errors)
        if handle:
            handle.write(scored.lines)
    whole = [entry["reason"] for entry in tally.first_errors if entry["row"] is None]
    if whole:
        raise MlopsError(whole[0])


def log(summary: FileSummary) -> None:
    """Log what became of one file, its first bad rows as ``file:line``, to the job's logs."""
    if summary.failed:
        logger.warning("%s: not scored: %s", summary.file, summary.failed)
        return
    shown = "; ".join(
        f"{reading.where(entry)} {entry['reason']}" for entry in summary.first_errors[: job.SHOWN_ERRORS]
    )
    logger.info(
        "%s: scored %d of %d rows%s",
        summary.file,
        summary.scored,
        summary.rows,
        f" ({summary.errors} errors, first: {shown})" if summary.errors else "",
    )
