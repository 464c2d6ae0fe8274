"""Benchmark ``mlops monitor --backfill``: a month of daily windows from one pass, against one window
alone and against Evidently, and what the alert rules make of it.

    python benchmarks/backfill.py                          # 30 daily windows of 200,000 rows
    python benchmarks/backfill.py --rows 50000 --days 10 --evidently-windows 1

The reference and the 20 features are those of ``benchmarks/monitor.py``. Production is one Parquet
file per day of ``--rows`` rows drawn like the reference, except that from day 20 on ``normal_0`` moves
up by half its standard deviation. Ours reads every file once through ``production.Reader`` into
``backfill.partition``, computes each window alone (``backfill.results``: data drift and data quality
on every feature, Azure's default thresholds) and decides each window's alert with the default
``monitoring.alerting`` rules, persistence read from the windows before it. MLflow logging and the
report pages are left out (they cost the same per window on any data size). One window is the
same computation on day 1 alone. Evidently runs ``DataDriftPreset`` on ``--evidently-windows``
windows, one at a time, as a backfill with it would; its month is that figure times the days.

Each side runs in its own subprocess and reports seconds, CPU seconds and peak RSS.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import harness
import monitor as common  # benchmarks/monitor.py: the reference, the features, the thresholds
import numpy as np

SHIFT_DAY = 20  # 1-based: normal_0 moves up by half its standard deviation from this day on


def make_days(folder: Path, rows: int, days: int) -> list[Path]:
    """Write one Parquet file of ``rows`` rows per day, timestamps spread over the day."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = []
    for day in range(days):
        columns = common.draw(np.random.default_rng([2, day]), rows, production=False)
        if day + 1 >= SHIFT_DAY:
            columns["normal_0"] = columns["normal_0"] + 0.5 * 1.0
        start = np.datetime64(common.START.replace(tzinfo=None), "us") + np.timedelta64(day, "D")
        moments = start + (np.arange(rows) * (86_400_000_000 // rows)).astype("timedelta64[us]")
        table = pa.table(columns).append_column("timestamp", pa.array(moments, pa.timestamp("us", tz="UTC")))
        path = folder / f"day-{day + 1:02d}.parquet"
        pq.write_table(table, path, row_group_size=common.ROW_GROUP)
        paths.append(path)
    return paths


def measure(kind: str, reference_file: str, files_json: str, types_json: str, days_text: str) -> None:
    """Run one side in this process and print its seconds, CPU seconds, peak RSS and findings as JSON."""
    import pandas as pd
    import pyarrow.parquet  # noqa: F401  imported before the clock starts, as by every side

    reference = pd.read_parquet(reference_file)
    types: dict[str, str] = json.loads(types_json)
    features, files, days = list(types), [Path(p) for p in json.loads(files_json)], int(days_text)
    if kind == "evidently":
        from evidently import DataDefinition, Dataset, Report
        from evidently.presets import DataDriftPreset

        definition = DataDefinition(
            numerical_columns=[name for name in features if types[name] == "numerical"],
            categorical_columns=[name for name in features if types[name] == "categorical"],
        )
        before = Dataset.from_pandas(reference[features], data_definition=definition)
    else:
        import scipy.spatial.distance
        import scipy.stats  # noqa: F401

        from mlops.monitoring import alerting, backfill, baseline, compute, production, signals

        base = baseline.from_frame(reference, features, rows=common.REFERENCE_ROWS, seed=0)
        plan = signals.plan(common.CONFIG, base, task="regression", with_ground_truth=False)
        span = production.Window(common.START, common.START + timedelta(days=days))
        rules = defaults()
    ready = harness.peak_mb()
    started, cpu = time.perf_counter(), time.process_time()
    found: dict = {}
    if kind == "evidently":
        for path in files[:days]:
            current = Dataset.from_pandas(pd.read_parquet(path, columns=features), data_definition=definition)
            Report([DataDriftPreset()], include_tests=True).run(current, reference_data=before)
        found["windows"] = days
    elif kind == "window":
        reader = production.Reader(features, production.Window(span.start, span.start + timedelta(days=1)))
        result, _ = compute.compute(plan, base, reader.chunks(files[:1]))
        found["windows"] = 1 if result.production_rows else 0
    else:
        cuts = backfill.windows(span, "P1D")
        with tempfile.TemporaryDirectory(prefix="mlops-backfill-bench-") as scratch:
            reader = production.Reader(features, span)
            counts = backfill.partition(reader.chunks(files), cuts, "timestamp", Path(scratch))
            earlier: list[bool] = []
            states, raw = [], []
            for cut, result, _, _, _ in backfill.results(
                cuts, counts, len(files), Path(scratch), plan, base, Scored(), None
            ):
                breaches = [row for row in result.rows if row["breached"]]
                counted = rules.counted(result.rows)
                alert = alerting.decide(
                    rules, result.production_rows, breaches, counted, earlier, None, cut.end
                )
                earlier.insert(0, bool(counted))
                states.append(alert.state)
                raw.append(len(breaches))
        found |= {"windows": len(states), "states": states, "raw": raw}
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(
        json.dumps({"seconds": seconds, "cpu": cpu, "ready_mb": ready, "peak_mb": harness.peak_mb(), **found})
    )


class Scored:
    """Stands for the model scorer: the benchmark's windows carry no prediction column to score."""

    scored = 0


def defaults():
    """Return the shared config's default ``monitoring.alerting`` rules."""
    from omegaconf import OmegaConf

    from mlops.monitoring import alerting

    path = Path(alerting.__file__).parents[1] / "conf" / "monitoring" / "default.yaml"
    return alerting.Settings.of(OmegaConf.create({"monitoring": OmegaConf.load(path)}))


def main() -> None:
    """Write the month, measure each side and print the table and the alert findings."""
    parser = harness.arguments(__doc__, "production rows per daily window")
    parser.set_defaults(rows=[200_000], repeat=1)
    parser.add_argument("--days", type=int, default=30, help="daily windows in the backfill")
    parser.add_argument("--evidently-windows", type=int, default=3, help="windows Evidently is timed on")
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    import pandas as pd

    from mlops.monitoring import baseline

    rows = args.rows[0]
    with tempfile.TemporaryDirectory(prefix="mlops-backfill-bench-") as name:
        folder = Path(name)
        reference = common.make_reference(folder)
        frame = pd.read_parquet(reference)
        profile = baseline.from_frame(frame, list(frame.columns), rows=common.REFERENCE_ROWS, seed=0).profile
        types = json.dumps({column: described["type"] for column, described in profile["columns"].items()})
        files = json.dumps([str(path) for path in make_days(folder, rows, args.days)])
        print(
            f"{args.days} daily windows of {rows:,} rows x 20 features, reference "
            f"{common.REFERENCE_ROWS:,} rows, {os.cpu_count()} cores"
        )
        sides = {
            "backfill": ("backfill", args.days),
            "one window": ("window", 1),
            "evidently": ("evidently", min(args.evidently_windows, args.days)),
        }
        runs = {
            label: min(
                (
                    harness.run_side(__file__, kind, str(reference), files, types, str(days))
                    for _ in range(args.repeat)
                ),
                key=lambda run: run["seconds"],
            )
            for label, (kind, days) in sides.items()
        }
    per_window = {label: run["seconds"] / run["windows"] for label, run in runs.items()}
    print(
        f"{'side':<12}{'windows':>8}{'seconds':>10}{'s/window':>10}{'rows/s':>12}{'CPU s':>8}"
        f"{'peak RSS MB':>13}"
    )
    for label, run in runs.items():
        rate = rows * run["windows"] / run["seconds"]
        print(
            f"{label:<12}{run['windows']:>8}{run['seconds']:>10.1f}{per_window[label]:>10.2f}{rate:>12,.0f}"
            f"{run['cpu']:>8.1f}{run['peak_mb']:>13.0f}"
        )
    month = per_window["evidently"] * args.days
    print(
        f"the month: ours {runs['backfill']['seconds']:.0f} s; Evidently {month:.0f} s "
        f"(its {runs['evidently']['windows']} "
        f"timed windows x {args.days}): evidently/ours {month / runs['backfill']['seconds']:.1f}x; "
        f"backfill/one window per window {per_window['backfill'] / per_window['one window']:.2f}x; "
        f"peak RSS backfill/one window {runs['backfill']['peak_mb'] / runs['one window']['peak_mb']:.2f}x"
    )
    states, raw = runs["backfill"]["states"], runs["backfill"]["raw"]
    before = slice(0, min(SHIFT_DAY - 1, len(states)))
    alerts = [day + 1 for day, state in enumerate(states) if state == "alert"]
    print(
        f"days 1-{before.stop} (drawn like the reference): {sum(raw[before])} raw threshold breaches in "
        f"{sum(map(bool, raw[before]))} windows (Azure's verdict alone), "
        f"{sum(state == 'alert' for state in states[before])} alerts with the default rules"
    )
    if len(states) >= SHIFT_DAY:
        print(
            f"normal_0 +0.5 std from day {SHIFT_DAY}: first alert on day "
            f"{alerts[0] if alerts else 'none'}; alerts on days {alerts}"
        )


if __name__ == "__main__":
    main()
