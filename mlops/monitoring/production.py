"""Production rows for the monitor, read in chunks and filtered to a time window: the data-collector
JSON lines an endpoint wrote (``model_inputs`` joined with ``model_outputs``), or bring-your-own
files (JSON lines, CSV, Parquet) with a timestamp column, the local twin of Azure's
bring-your-own-data preprocessing contract (window start, window end, input folder → a table)."""

from __future__ import annotations

import glob
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".jsonl", ".json", ".csv", ".parquet")
CHUNK_ROWS = 65_536
TIMESTAMP = "timestamp"
CORRELATION_ID = "correlationid"
MODEL_VERSION = "modelversion"


@dataclass(frozen=True)
class Window:
    """The half-open time range [start, end) of production rows to read, in UTC."""

    start: datetime
    end: datetime

    def __str__(self) -> str:
        return f"{stamp(self.start)} to {stamp(self.end)}"


def stamp(moment: datetime) -> str:
    """Return a UTC time as ISO 8601 to the second."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str, option: str) -> datetime:
    """Parse an ISO 8601 time (naive times are UTC)."""
    import pandas as pd

    try:
        moment = pd.Timestamp(text)
    except ValueError:
        raise MlopsError(f"{option} '{text}' is not an ISO 8601 time such as 2026-11-16T00:00:00Z") from None
    parsed: datetime = (
        moment.tz_localize(UTC) if moment.tzinfo is None else moment.tz_convert(UTC)
    ).to_pydatetime()
    return parsed


def parse_duration(text: str, option: str) -> timedelta:
    """Parse an ISO 8601 duration in days, hours, minutes or seconds (P7D, PT12H, P1DT6H)."""
    import pandas as pd

    try:
        duration = pd.Timedelta(text) if text.upper().startswith("P") else None
    except ValueError:
        duration = None
    if duration is None or duration <= pd.Timedelta(0):
        raise MlopsError(
            f"{option} '{text}' is not a positive ISO 8601 duration in days or hours, such as P7D or PT12H"
        )
    parsed: timedelta = duration.to_pytimedelta()
    return parsed


def parse_stamp(text: str, window: Window) -> datetime:
    """Parse ``--stamp``: an ISO 8601 time, or ``now``, the last instant of ``window`` (which ends now
    unless --end moved it), so rows stamped now are always inside it."""
    if text.strip().lower() == "now":
        return window.end - timedelta(microseconds=1)
    return parse_time(text, "--stamp")


def window(lookback: str | None, start: str | None, end: str | None, now: datetime | None = None) -> Window:
    """Return the window ending at ``end`` (default now) that starts at ``start`` or ``lookback`` before."""
    if start and lookback:
        raise MlopsError("give either --window or --start, not both")
    finish = parse_time(end, "--end") if end else (now or datetime.now(UTC))
    begin = parse_time(start, "--start") if start else finish - parse_duration(lookback or "P7D", "--window")
    if begin >= finish:
        raise MlopsError(f"the window is empty: it starts at {stamp(begin)} and ends at {stamp(finish)}")
    return Window(begin, finish)


@dataclass
class Tally:
    """What reading production data met: rows used and skipped, unreadable lines, unknown fields."""

    files: int = 0
    rows: int = 0
    outside_window: int = 0
    without_timestamp: int = 0
    unreadable_lines: int = 0
    without_prediction: int = 0
    unknown_fields: dict[str, int] = field(default_factory=dict)
    model_versions: dict[str, int] = field(default_factory=dict)
    newest: datetime | None = None

    def seen(self, moment: datetime) -> None:
        """Remember the newest timestamp met, inside the window or not."""
        if self.newest is None or moment > self.newest:
            self.newest = moment


def files(source: Path | str) -> list[Path]:
    """Return the data files a path, folder (searched recursively) or glob names, or explain why none."""
    text = str(source)
    if any(char in text for char in "*?["):
        found = [Path(path) for path in sorted(glob.glob(text, recursive=True))]
    elif Path(text).is_dir():
        found = sorted(path for path in Path(text).rglob("*") if path.is_file())
    elif Path(text).is_file():
        found = [Path(text)]
    else:
        raise MlopsError(f"production data '{text}' does not exist; give a file, a folder or a glob")
    data = [path for path in found if path.suffix.lower() in SUFFIXES]
    if not data:
        raise MlopsError(f"production data '{text}' holds no {', '.join(SUFFIXES)} files")
    return data


@contextmanager
def reading(path: Path, what: str) -> Iterator[None]:
    """Turn a file that does not parse (a truncated Parquet file, a broken CSV) into one line naming it."""
    from mlops.core.errors import first_line

    try:
        yield
    except (ValueError, OSError) as error:  # pandas' and pyarrow's parse errors are ValueErrors
        raise MlopsError(f"cannot read {what} {path}: {first_line(error)}; fix it or leave it out") from None


def is_record(item: Any) -> bool:
    """Return whether a JSON object is a data-collector record rather than a plain row."""
    return isinstance(item, dict) and "specversion" in item and isinstance(item.get("data"), list)


class JsonLines:
    """Iterate the JSON objects of a JSON-lines file, counting (and skipping) lines that do not parse,
    such as a last line cut short by a crash; ``position`` is the bytes read so far."""

    def __init__(self, path: Path, tally: Tally):
        self.path = path
        self.tally = tally
        self.position = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with open(self.path, "rb") as lines:
            for line in lines:
                self.position += len(line)
                try:
                    item = json.loads(line) if line.strip() else None
                except ValueError:
                    item = []
                if isinstance(item, dict):
                    yield item
                elif item is not None:
                    self.tally.unreadable_lines += 1


def outputs_of(inputs: Path, tally: Tally) -> dict[str, list[Any]]:
    """Return the predictions of the ``model_outputs`` file paired with a ``model_inputs`` file,
    keyed by correlation id."""
    parts = list(inputs.parts)
    if "model_inputs" not in parts:
        return {}
    parts[len(parts) - 1 - parts[::-1].index("model_inputs")] = "model_outputs"
    paired = Path(*parts)
    if not paired.is_file():
        return {}
    return {
        str(record.get(CORRELATION_ID)): [
            row.get("prediction") if isinstance(row, dict) else None for row in record["data"]
        ]
        for record in JsonLines(paired, tally)
        if is_record(record)
    }


class Reader:
    """Read production files into chunks of rows inside a window, with the columns the monitor
    needs (features, the prediction when present, a timestamp, a correlation id)."""

    def __init__(
        self,
        columns: list[str],
        window: Window,
        timestamp_column: str = TIMESTAMP,
        key_column: str = CORRELATION_ID,
        stamp: datetime | None = None,
    ):
        self.columns = columns
        self.stamp = stamp  # the time of rows without a timestamp column (else they are refused)
        self.window = window
        self.timestamp_column = timestamp_column
        self.key_column = key_column
        self.tally = Tally()
        self.known = {*columns, timestamp_column, key_column, CORRELATION_ID, "prediction"}
        self.position = 0  # bytes of the files read so far

    def chunks(self, paths: list[Path]) -> Iterator[pd.DataFrame]:
        """Yield chunks of at most ``CHUNK_ROWS`` rows from ``paths``, filtered to the window."""
        done = 0
        for path in paths:
            if path.suffix.lower() in (".jsonl", ".json") and "model_outputs" in path.parts:
                continue
            self.tally.files += 1
            if path.suffix.lower() == ".parquet":
                batches = self.in_window(parquet_batches(path), path)
            elif path.suffix.lower() == ".csv":
                batches = self.in_window(csv_batches(path), path)
            else:
                batches = self.json_file(path)
            with reading(path, "production file"):
                for frame, position in batches:
                    self.position = done + position
                    yield frame
            done += path.stat().st_size
            self.position = done

    def json_file(self, path: Path) -> Iterator[tuple[pd.DataFrame, int]]:
        """Yield the rows inside the window of a JSON-lines file of collector records or of plain rows,
        with the bytes read so far."""

        outputs: dict[str, list[Any]] | None = None
        plain: list[dict[str, Any]] = []
        records: list[dict[str, Any]] = []
        lines = JsonLines(path, self.tally)
        for item in lines:
            if not is_record(item):
                plain.append(item)
            elif str(item.get("type", "")).endswith("model_inputs"):
                if outputs is None:
                    outputs = outputs_of(path, self.tally)
                records.extend(self.record_rows(item, outputs))
            if len(plain) >= CHUNK_ROWS or len(records) >= CHUNK_ROWS:
                yield from self.json_frames(plain, records, lines.position, path)
                plain, records = [], []
        yield from self.json_frames(plain, records, lines.position, path)

    def json_frames(
        self, plain: list[dict[str, Any]], records: list[dict[str, Any]], position: int, path: Path
    ) -> Iterator[tuple[pd.DataFrame, int]]:
        """Yield plain rows restricted to the window, and record rows (``record_rows`` kept only those
        inside it), as frames with a position."""
        import pandas as pd

        if plain:
            yield from self.in_window([(pd.DataFrame(plain), position)], path)
        if records:
            yield pd.DataFrame(records), position

    def record_rows(self, record: dict[str, Any], outputs: dict[str, list[Any]]) -> list[dict[str, Any]]:
        """Return the rows of one ``model_inputs`` record inside the window, each with its prediction,
        time, model version and Azure's row id ``<correlationid>_<row>``."""
        try:
            moment = parse_time(str(record.get("time")), "time")
        except MlopsError:
            self.tally.without_timestamp += len(record["data"])
            return []
        self.tally.seen(moment)
        if not self.window.start <= moment < self.window.end:
            self.tally.outside_window += len(record["data"])
            return []
        correlation = str(record.get(CORRELATION_ID))
        predictions = outputs.get(correlation) or []
        version = str(record.get(MODEL_VERSION, ""))
        self.tally.model_versions[version] = self.tally.model_versions.get(version, 0) + len(record["data"])
        rows = []
        own_key = self.key_column != CORRELATION_ID
        for index, row in enumerate(record["data"]):
            if not isinstance(row, dict):
                self.tally.unreadable_lines += 1
                continue
            self.count_unknown(row)
            prediction = predictions[index] if index < len(predictions) else None
            if prediction is None:
                self.tally.without_prediction += 1
            rows.append(
                {
                    **{column: row.get(column) for column in self.columns},
                    "prediction": prediction,
                    self.timestamp_column: moment,
                    self.key_column: row.get(self.key_column) if own_key else f"{correlation}_{index}",
                }
            )
        self.tally.rows += len(rows)
        return rows

    def count_unknown(self, row: dict[str, Any]) -> None:
        """Count fields a row holds that the monitor does not use."""
        for name in row.keys() - self.known:
            self.tally.unknown_fields[name] = self.tally.unknown_fields.get(name, 0) + 1

    def in_window(
        self, batches: Iterable[tuple[pd.DataFrame, int]], path: Path
    ) -> Iterator[tuple[pd.DataFrame, int]]:
        """Yield plain-row batches of the file ``path`` restricted to the window by their timestamp
        column, each with the position it was read at. Rows without a feature column are an input
        error, never a column of nulls: a broken export must not read as drift or start a retrain."""
        for batch, position in batches:
            missing = [column for column in self.columns if column not in batch]
            if missing:
                raise MlopsError(
                    f"production file {path} has no {', '.join(missing)} column"
                    f"{'s' if len(missing) > 1 else ''}, which the model needs; fix the export or "
                    "leave the file out of --production"
                )
            if self.timestamp_column not in batch and self.stamp is not None:
                batch = batch.assign(**{self.timestamp_column: self.stamp})
            if self.timestamp_column not in batch:
                raise MlopsError(
                    f"production rows have no '{self.timestamp_column}' column; add one (an ISO 8601 time "
                    "per row), name yours with monitoring.timestamp_column, or give every row one time "
                    "with --stamp (now, or an ISO 8601 time)"
                )
            for name in set(batch.columns) - self.known:
                self.tally.unknown_fields[name] = self.tally.unknown_fields.get(name, 0) + len(batch)
            moments = timestamps(batch[self.timestamp_column])
            valid = moments.notna()
            self.tally.without_timestamp += int((~valid).sum())
            if valid.any():
                self.tally.seen(moments[valid].max().floor("us").to_pydatetime())  # no ns warning
            inside = valid & (moments >= self.window.start) & (moments < self.window.end)
            self.tally.outside_window += int((valid & ~inside).sum())
            if inside.any():
                kept = (batch if inside.all() else batch.loc[inside]).reindex(
                    columns=[*self.columns, "prediction", self.key_column]
                )
                kept[self.timestamp_column] = moments[inside]
                self.tally.rows += len(kept)
                yield kept, position


def timestamps(values: pd.Series) -> pd.Series:
    """Return a column of times as UTC timestamps (naive times are UTC; unreadable ones null)."""
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(values):
        return values.dt.tz_localize(UTC) if values.dt.tz is None else values.dt.tz_convert(UTC)
    return pd.to_datetime(values, utc=True, errors="coerce", format="mixed")


def parquet_batches(path: Path) -> Iterator[tuple[pd.DataFrame, int]]:
    """Yield a Parquet file's rows in batches, with the (estimated) bytes read so far."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path, pre_buffer=False)  # pre-buffering keeps every read chunk alive
    size, rows, done = path.stat().st_size, max(1, parquet.metadata.num_rows), 0
    for batch in parquet.iter_batches(batch_size=CHUNK_ROWS):
        done += batch.num_rows
        yield batch.to_pandas(), size * done // rows


def csv_batches(path: Path) -> Iterator[tuple[pd.DataFrame, int]]:
    """Yield a CSV file's rows in batches, with the bytes read so far."""
    import pandas as pd

    with open(path, "rb") as handle, pd.read_csv(handle, chunksize=CHUNK_ROWS) as reader:
        for frame in reader:
            yield frame, handle.tell()
