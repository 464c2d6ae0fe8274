"""The bring-your-own-data preprocessing of a model's Azure ML monitor, the entry of its Spark component
(preprocess-component.yml), which follows Azure's contract (azureml-examples
cli/monitoring/components/custom_preprocessing): the rows of the production files under
``--input_data`` (CSV with a header, JSON lines, Parquet; searched recursively; formats may mix) whose
``--timestamp_column`` falls in [``--data_window_start``, ``--data_window_end``) are written to
``--preprocessed_input_data`` as Parquet with an MLTable file, each row keeping its timestamp. Times are
ISO 8601; naive ones are UTC. A window without rows is an error, as in Azure's sample.

It runs on Azure's serverless Spark runtime 3.4 (Python 3.10), which installs nothing of this
framework: it imports only pyspark and the standard library. Paths may be abfss:// URIs (Azure's
direct mode) or local folders; files are listed and the MLTable file written through Spark's Hadoop
FileSystem, which serves both. ``python -m mlops.steps.monitor_preprocess`` is the local twin.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from datetime import datetime, timezone
from functools import reduce
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

UTC = timezone.utc  # noqa: UP017 (datetime.UTC is Python 3.11; Azure's Spark runtime 3.4 runs 3.10)

# the readers of the file types the local twin reads (mlops.monitoring.production.SUFFIXES)
FORMATS = {".csv": "csv", ".jsonl": "json", ".json": "json", ".parquet": "parquet"}
MLTABLE = (
    "$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json\n"
    "type: mltable\n"
    "paths:\n"
    "  - pattern: ./*.parquet\n"
    "transformations:\n"
    "  - read_parquet\n"
    "traits:\n"
    "  timestamp_column: {column}\n"
)
FRACTION = re.compile(r"^(.*[T ]\d\d:\d\d:\d\d)\.(\d+)(.*)$")


class PreprocessError(Exception):
    """A mistake in the input or the window, told in one line."""


def parse_time(text: str, option: str) -> datetime:
    """Return an ISO 8601 time as UTC (naive times are UTC). Python 3.10's ``fromisoformat`` reads
    neither a ``Z`` nor other than 3 or 6 fraction digits, so both are normalised first."""
    value = text.strip()
    if value[-1:] in ("Z", "z"):
        value = value[:-1] + "+00:00"
    found = FRACTION.match(value)
    if found:
        value = f"{found.group(1)}.{found.group(2)[:6].ljust(6, '0')}{found.group(3)}"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise PreprocessError(
            f"{option} '{text}' is not an ISO 8601 time such as 2026-11-16T00:00:00Z"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def stamp(moment: datetime) -> str:
    """Return a UTC time as ISO 8601 to the second."""
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def hadoop_path(spark: SparkSession, location: str) -> tuple[Any, Any]:
    """Return a Hadoop Path and the FileSystem serving it (abfss://, file:// or a plain local path)."""
    path = spark._jvm.org.apache.hadoop.fs.Path(location)
    return path, path.getFileSystem(spark._jsc.hadoopConfiguration())


def data_files(spark: SparkSession, folder: str) -> dict[str, list[str]]:
    """Return the data files under ``folder`` (recursively, hidden ones left out as Spark does) by the
    reader that reads them."""
    path, filesystem = hadoop_path(spark, folder)
    if not filesystem.exists(path):
        raise PreprocessError(f"--input_data {folder} does not exist")
    found: dict[str, list[str]] = {}
    listing = filesystem.listFiles(path, True)
    while listing.hasNext():
        file = listing.next().getPath()
        name = file.getName()
        suffix = name[name.rfind(".") :].lower() if "." in name else ""
        if suffix in FORMATS and not name.startswith(("_", ".")):
            found.setdefault(FORMATS[suffix], []).append(file.toString())
    if not found:
        raise PreprocessError(f"--input_data {folder} holds no {', '.join(FORMATS)} files")
    return found


def read(spark: SparkSession, files: dict[str, list[str]], column: str) -> DataFrame:
    """Return the rows of every file as one frame (columns matched by name, a column a file lacks is
    null there), with ``column`` read as a UTC timestamp (null where it is not a time)."""
    readers = {
        "csv": lambda paths: spark.read.csv(paths, header=True, inferSchema=True, enforceSchema=False),
        "json": lambda paths: spark.read.json(paths, mode="DROPMALFORMED"),
        "parquet": lambda paths: spark.read.option("mergeSchema", "true").parquet(*paths),
    }
    frames = []
    for kind, paths in sorted(files.items()):
        frame = readers[kind](paths)
        if column not in frame.columns:
            raise PreprocessError(
                f"the {kind} files under --input_data have no '{column}' column; add one (an ISO 8601 "
                "time per row) or name yours with monitoring.timestamp_column"
            )
        frames.append(frame.withColumn(column, timestamps(frame, column)))
    return reduce(lambda left, right: left.unionByName(right, allowMissingColumns=True), frames)


def timestamps(frame: DataFrame, column: str) -> Column:
    """Return ``column`` of ``frame`` as a UTC timestamp: a time as it is, text as ISO 8601 (naive is UTC
    in this session), an integer as nanoseconds since 1970. Spark 3.4 reads the nanosecond Parquet times
    pandas writes only as such integers (``spark.sql.legacy.parquet.nanosAsLong``); the local twin reads
    integers the same way."""
    from pyspark.sql import functions
    from pyspark.sql.types import IntegralType

    if isinstance(frame.schema[column].dataType, IntegralType):
        return functions.expr(f"timestamp_micros(`{column}` div 1000)")
    return functions.col(column).cast("timestamp")


def write_text(spark: SparkSession, folder: str, name: str, text: str) -> None:
    """Write a text file into ``folder`` through Hadoop's FileSystem."""
    path, filesystem = hadoop_path(spark, folder.rstrip("/") + "/" + name)
    stream = filesystem.create(path, True)
    try:
        stream.write(bytearray(text.encode("utf-8")))
    finally:
        stream.close()


def preprocess(
    spark: SparkSession, input_data: str, output: str, start: datetime, end: datetime, column: str
) -> int:
    """Write the rows under ``input_data`` whose ``column`` falls in [start, end) to ``output`` as
    Parquet with an MLTable file; return how many. Raise when the window holds none."""
    from pyspark.sql import functions

    if start >= end:
        raise PreprocessError(f"the window is empty: it starts at {stamp(start)} and ends at {stamp(end)}")
    rows = read(spark, data_files(spark, input_data), column)
    moment = functions.col(column)
    inside = (moment >= functions.lit(start)) & (moment < functions.lit(end))
    totals = rows.agg(
        functions.count(functions.lit(1)).alias("rows"),
        functions.count(moment).alias("timed"),
        functions.date_format(functions.max(moment), "yyyy-MM-dd'T'HH:mm:ss'Z'").alias("newest"),
        functions.count(functions.when(inside, 1)).alias("inside"),
    ).first()
    if not totals["inside"]:
        newest = f", the newest at {totals['newest']}" if totals["newest"] else ""
        raise PreprocessError(
            f"the window {stamp(start)} to {stamp(end)} holds no rows of {input_data} "
            f"({totals['rows']} rows read, {totals['timed']} with a '{column}' time{newest})"
        )
    rows.where(inside).write.mode("overwrite").parquet(output)
    write_text(spark, output, "MLTable", MLTABLE.format(column=json.dumps(column)))
    return int(totals["inside"])


def arguments(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the arguments the component's ``args`` binds."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data_window_start", required=True)
    parser.add_argument("--data_window_end", required=True)
    parser.add_argument("--input_data", required=True)
    parser.add_argument("--preprocessed_input_data", required=True)
    parser.add_argument("--timestamp_column", default="timestamp")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Run the preprocessing in the Spark session the job provides (or a new local one)."""
    from pyspark.sql import SparkSession

    args = arguments(argv)
    try:
        start = parse_time(args.data_window_start, "--data_window_start")
        end = parse_time(args.data_window_end, "--data_window_end")
        spark = SparkSession.builder.appName("monitor_preprocess").getOrCreate()
        spark.conf.set("spark.sql.session.timeZone", "UTC")  # naive times are UTC, as read and written
        spark.conf.set("spark.sql.parquet.outputTimestampType", "TIMESTAMP_MICROS")  # not legacy INT96
        spark.conf.set("spark.sql.legacy.parquet.nanosAsLong", "true")  # pandas' times; else unreadable
        rows = preprocess(
            spark, args.input_data, args.preprocessed_input_data, start, end, args.timestamp_column
        )
    except PreprocessError as error:
        sys.exit(f"monitor_preprocess: {error}")
    print(f"monitor_preprocess: {rows} rows from {args.data_window_start} to {args.data_window_end}")


if __name__ == "__main__":
    main()
