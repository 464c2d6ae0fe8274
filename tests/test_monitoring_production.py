"""Reading production data: collected data-collector records and bring-your-own files in a window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from mlops.core.errors import MlopsError
from mlops.monitoring import production
from mlops.serving.collector import Collector, Scored

END = datetime(2026, 11, 23, tzinfo=UTC)
COLUMNS = ["distance", "vendor"]


def read(paths: list[Path], window: production.Window, **options) -> tuple[pd.DataFrame, production.Tally]:
    """Return every row a reader yields, and its tally."""
    reader = production.Reader(COLUMNS, window, **options)
    chunks = list(reader.chunks(paths))
    return (pd.concat(chunks, ignore_index=True) if chunks else pd.DataFrame()), reader.tally


def collect(folder: Path, requests: list[tuple[datetime, list[list], list]]) -> None:
    """Write requests through the endpoint's real collector."""
    collector = Collector(folder, "taxi-fare")
    for number, (moment, values, predictions) in enumerate(requests):
        collector.collect(
            Scored(
                "blue",
                "3",
                ["distance", "vendor", "extra"],
                values,
                predictions,
                None,
                f"req{number}",
                moment,
            )
        )
    collector.close()


def test_window_from_a_lookback_or_a_start():
    assert production.window("P7D", None, "2026-11-23T00:00:00Z") == production.Window(
        END - timedelta(days=7), END
    )
    assert production.window(None, "2026-11-20", "2026-11-23T00:00:00+00:00").start == END - timedelta(days=3)
    assert production.window("PT12H", None, None, now=END).start == END - timedelta(hours=12)


@pytest.mark.parametrize(
    ("lookback", "start", "end", "message"),
    [
        ("7 days", None, None, "--window '7 days' is not a positive ISO 8601 duration"),
        ("P0D", None, None, "is not a positive ISO 8601 duration"),
        ("P7D", "2026-11-01", None, "either --window or --start"),
        (None, "yesterday", None, "--start 'yesterday' is not an ISO 8601 time"),
        (None, "2026-11-24", "2026-11-23", "the window is empty"),
    ],
)
def test_bad_windows_are_refused(lookback, start, end, message):
    with pytest.raises(MlopsError, match=message):
        production.window(lookback, start, end)


def test_collected_records_are_joined_with_their_outputs(tmp_path):
    collect(
        tmp_path,
        [
            (END - timedelta(days=1), [[1.5, 2.5], [1, 2], ["x", "y"]], [10.0, 20.0]),
            (END - timedelta(days=9), [[3.0], [1], ["z"]], [30.0]),
            (END - timedelta(hours=1), [[4.0], [2], ["w"]], [40.0]),
        ],
    )
    inputs = next(tmp_path.rglob("model_inputs/**/*.jsonl"))
    with inputs.open("ab") as file:
        file.write(b'{"specversion": "1.0", "data": [{"distance": 9')  # a crash cut the last line short
    window = production.window("P7D", None, None, now=END)
    rows, tally = read(production.files(tmp_path), window)
    assert rows["distance"].tolist() == [1.5, 2.5, 4.0]
    assert rows["prediction"].tolist() == [10.0, 20.0, 40.0]
    assert rows["correlationid"].tolist() == ["req0_0", "req0_1", "req2_0"]
    assert tally.rows == 3 and tally.outside_window == 1 and tally.unreadable_lines == 1
    assert tally.unknown_fields == {"extra": 3}
    assert tally.model_versions == {"3": 3}


def byo_frame(rows: int) -> pd.DataFrame:
    """Return rows with a timestamp column spread evenly over the 14 days before END."""
    times = [END - timedelta(days=14) + timedelta(days=14) * (i + 0.5) / rows for i in range(rows)]
    return pd.DataFrame(
        {
            "distance": range(rows),
            "vendor": [1, 2] * (rows // 2),
            "timestamp": [moment.strftime("%Y-%m-%dT%H:%M:%SZ") for moment in times],
            "note": "kept out",
        }
    )


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_bring_your_own_files_are_filtered_to_the_window(tmp_path, suffix):
    frame = byo_frame(140)
    path = tmp_path / f"part{suffix}"
    if suffix == ".csv":
        frame.to_csv(path, index=False)
    elif suffix == ".parquet":
        frame.to_parquet(path)
    else:
        frame.to_json(path, orient="records", lines=True)
    rows, tally = read([path], production.window("P7D", None, None, now=END))
    assert len(rows) == 70 and tally.outside_window == 70
    assert rows["distance"].min() == 70
    assert tally.unknown_fields == {"note": 140}
    assert tally.newest is not None and tally.newest < END


def test_a_missing_timestamp_column_names_the_config_key(tmp_path):
    path = tmp_path / "rows.csv"
    byo_frame(4).drop(columns="timestamp").to_csv(path, index=False)
    with pytest.raises(MlopsError, match=r"no 'timestamp' column.*monitoring.timestamp_column"):
        read([path], production.window("P7D", None, None, now=END))


def test_unparseable_timestamps_are_counted(tmp_path):
    path = tmp_path / "rows.csv"
    frame = byo_frame(4)
    frame.loc[0, "timestamp"] = "soon"
    frame.to_csv(path, index=False)
    _, tally = read([path], production.window("P30D", None, None, now=END))
    assert tally.without_timestamp == 1 and tally.rows == 3


def test_files_explain_what_is_missing(tmp_path):
    with pytest.raises(MlopsError, match="does not exist"):
        production.files(tmp_path / "nowhere")
    (tmp_path / "readme.txt").write_text("no data")
    with pytest.raises(MlopsError, match=r"holds no \.jsonl, \.json, \.csv, \.parquet files"):
        production.files(tmp_path)
    byo_frame(2).to_csv(tmp_path / "a.csv", index=False)
    assert production.files(str(tmp_path / "*.csv")) == [tmp_path / "a.csv"]


def test_a_file_that_does_not_parse_is_named_not_a_traceback(tmp_path):
    (tmp_path / "broken.parquet").write_text("not parquet")
    with pytest.raises(
        MlopsError, match=r"cannot read production file .*broken.parquet: .*fix it or leave it out"
    ):
        read([tmp_path / "broken.parquet"], production.window("P7D", None, None, now=END))


def test_broken_ground_truth_is_named(tmp_path):
    from mlops.monitoring.monitor import read_truth

    (tmp_path / "truth.csv").write_text('correlationid,cost\n"unterminated\n')
    with pytest.raises(MlopsError, match=r"cannot read ground truth file .*truth.csv: .*EOF inside string"):
        read_truth(str(tmp_path / "truth.csv"), "correlationid", "cost")
