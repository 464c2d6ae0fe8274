"""Reading batch input: the CSV and Parquet files an input names, their columns, their rows in
chunks numbered by position in the file, and each row converted to the type the model was trained
on, or reported by file and line."""

from __future__ import annotations

import glob
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError, first_line

if TYPE_CHECKING:
    import pandas as pd

SUFFIXES = (".csv", ".parquet")
NUMBER_TYPES = ("double", "float", "long", "integer")  # MLflow signature types read as numbers


@dataclass
class MiniBatch:
    """Rows of one file as read, indexed by their row number in the file."""

    file: str
    csv: bool
    frame: pd.DataFrame


def error_entry(file: str, row: int | None, is_csv: bool, reason: str) -> dict[str, Any]:
    """Return one error entry: the file, the 0-based row, the CSV line (header is line 1), the reason."""
    line = row + 2 if is_csv and row is not None else None
    return {"file": file, "row": row, "line": line, "reason": reason}


def where(entry: dict[str, Any]) -> str:
    """Return where an error is: ``file:line`` for CSV, ``file row N`` for Parquet, else the file."""
    if entry["line"] is not None:
        return f"{entry['file']}:{entry['line']}"
    if entry["row"] is not None:
        return f"{entry['file']} row {entry['row']}"
    file: str = entry["file"]
    return file


def find_inputs(inputs: str, skip: Path) -> list[Path]:
    """Return the files ``inputs`` names: one CSV or Parquet file, those in a folder, or a glob's
    matches, sorted; ``skip`` (the predictions file a folder may hold) is left out."""
    path = Path(inputs).expanduser()
    if path.is_file() and path.suffix.lower() not in SUFFIXES:
        raise MlopsError(f"input {inputs} is neither CSV nor Parquet; pass a .csv or .parquet file")
    if path.is_file():
        found = [path]
    else:
        candidates = path.iterdir() if path.is_dir() else map(Path, glob.glob(str(path), recursive=True))
        found = sorted(file for file in candidates if file.suffix.lower() in SUFFIXES and file.is_file())
    found = [file for file in found if file.resolve() != skip.resolve()]
    if not found:
        raise MlopsError(
            f"no CSV or Parquet file matches '{inputs}'; pass a .csv or .parquet file, a folder holding "
            "some, or a glob such as 'data/*.csv'"
        )
    return found


def input_types(source: str, features: list[str], described: str) -> dict[str, str]:
    """Return each feature's training type (double, long, string, ...) from the signature of the model
    at ``source`` (a registered version's source or a model folder), in ``features`` order; raise when
    the model, ``described`` as "version N of 'name'", was trained on other features."""
    from mlflow.models import Model

    signature = Model.load(source).signature
    trained = {spec.name: spec.type.name for spec in signature.inputs.inputs} if signature else {}
    differing = sorted(set(trained) ^ set(features))
    if differing:
        raise MlopsError(
            f"{described} was trained on other features than the config "
            f"lists (differing: {', '.join(differing)}); pass --version of one trained with this config"
        )
    return {column: trained[column] for column in features}


def read_columns(file: Path) -> list[str]:
    """Return the column names of a CSV or Parquet file without reading its rows."""
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        if file.suffix.lower() == ".csv":
            return list(pd.read_csv(file, nrows=0).columns)
        names: list[str] = pq.ParquetFile(file).schema_arrow.names
        return names
    except (ValueError, OSError) as problem:
        raise MlopsError(
            f"cannot read {file}: {first_line(problem)}; fix it or leave it out of --input"
        ) from None


def read_chunks(
    file: Path, columns: list[str], strings: list[str], size: int
) -> Iterator[tuple[pd.DataFrame, int]]:
    """Yield ``columns`` of a CSV or Parquet file ``size`` rows at a time, indexed by row number,
    each with the bytes of the file read so far; ``strings`` are read as text. Every CSV column is
    parsed, so a row with more fields than the header fails instead of shifting its values."""
    import pandas as pd
    import pyarrow.parquet as pq

    try:
        if file.suffix.lower() == ".csv":
            dtype = dict.fromkeys(strings, "str")
            with (
                open(file, "rb") as handle,
                pd.read_csv(handle, dtype=dtype, chunksize=size) as reader,
            ):
                for frame in reader:
                    yield frame[columns], handle.tell()
            return
        parquet = pq.ParquetFile(file)
        total, start = file.stat().st_size, 0
        for batch in parquet.iter_batches(batch_size=size, columns=columns):
            frame = batch.to_pandas()
            frame.index += start
            start += len(frame)
            yield frame, total * start // parquet.metadata.num_rows
    except (ValueError, OSError) as problem:
        raise MlopsError(
            f"cannot read {file}: {first_line(problem)}; fix it or leave it out of --input"
        ) from None


def clean(
    frame: pd.DataFrame, types: dict[str, str], file: str, is_csv: bool
) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Convert each feature to its training type; return the rows that convert, in feature order, and
    one error per row that does not (a numeric feature whose value is not a finite number, a date-time
    or boolean feature whose value does not read as one)."""
    import numpy as np
    import pandas as pd

    from mlops.models.columns import READERS

    reasons: dict[int, str] = {}
    converted = {}
    wanted = {"datetime": "an ISO 8601 date-time", "boolean": "true or false"}
    for column, kind in types.items():
        values = frame[column]
        if kind == "string":  # text, a missing value as NaN whatever pandas read (see missing_as_nan)
            text = values if pd.api.types.is_string_dtype(values) else values.astype("str")
            converted[column] = text.where(values.notna())
        if kind in READERS:  # Parquet's own datetime and boolean types, or text from CSV
            converted[column] = parsed = READERS[kind](values)
            for row, value in values[(parsed.isna() & values.notna()).to_numpy()].items():
                reasons.setdefault(int(row), f"column '{column}' holds {value!r}, not {wanted[kind]}")
        if kind not in NUMBER_TYPES or values.dtype.kind in "iub":
            continue
        if values.dtype.kind == "f":
            bad = np.isinf(values.to_numpy())
        else:
            converted[column] = numbers = pd.to_numeric(values, errors="coerce")
            bad = (np.isinf(numbers) | (numbers.isna() & values.notna())).to_numpy()
        if bad.any():
            for row, value in values[bad].items():
                reasons.setdefault(int(row), f"column '{column}' holds {value!r}, not a finite number")
    good = frame[list(types)].assign(**converted)
    if reasons:
        good = good.drop(index=list(reasons))
    return good, [error_entry(file, row, is_csv, reason) for row, reason in sorted(reasons.items())]
