"""monitor_preprocess: the rows of bring-your-own production data inside a window, as one table.

The local twin of Azure ML's monitoring preprocessing contract: inputs ``data_window_start``,
``data_window_end`` (ISO 8601) and ``input_data`` (a folder of JSON lines, CSV or Parquet files
with a timestamp column, or collected data); output a table (Parquet with an MLTable file).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse
    from pathlib import Path

    from omegaconf import DictConfig

TABLE = "production.parquet"


def run(cfg: DictConfig, input_data: Path, start: str, end: str, output: Path) -> int:
    """Write the production rows of ``input_data`` inside [start, end) to ``output``; return how many."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from mlops.core.errors import MlopsError
    from mlops.models.features import feature_columns
    from mlops.monitoring import production

    monitoring = cfg.monitoring
    window = production.window(None, start, end)
    reader = production.Reader(
        feature_columns(cfg), window, str(monitoring.timestamp_column), str(monitoring.key_column)
    )
    output.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for chunk in reader.chunks(production.files(input_data)):
            table = pa.Table.from_pandas(chunk.astype({"prediction": object}), preserve_index=False)
            writer = writer or pq.ParquetWriter(output / TABLE, table.schema)
            writer.write_table(table.cast(writer.schema))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise MlopsError(f"{cfg.name}: no production rows from {window} in {input_data}")
    from mlops.monitoring.reference import mltable

    (output / "MLTable").write_text(mltable(TABLE))
    return reader.tally.rows


def _main(cfg: DictConfig, args: argparse.Namespace) -> None:
    rows = run(
        cfg, args.input_data, args.data_window_start, args.data_window_end, args.preprocessed_input_data
    )
    print(f"{cfg.name}: {rows} production rows from {args.data_window_start} to {args.data_window_end}")


if __name__ == "__main__":
    from mlops.steps import entry

    entry(
        __doc__,
        ["input-data", "preprocessed-input-data"],
        _main,
        options=["data-window-start", "data-window-end"],
    )
