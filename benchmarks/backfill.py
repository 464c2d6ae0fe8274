"""Benchmark ``mlops monitor --backfill``: a month of daily windows from one pass, against one window
alone and against Evidently, and what the alert rules make of it.

    python benchmarks/backfill.py                          # 30 daily windows of 200,000 rows
    python benchmarks/backfill.py --rows 50000 --days 10 --evidently-windows 1
    python benchmarks/backfill.py --noise                  # the noise-aware threshold on small windows

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

``--noise`` measures what the noise-aware threshold (``monitoring.alerting.noise``) does, on two
models: the 20 generated features above, and taxi-fare trained on its shipped real trips (prediction
drift included, production scored by the model), its windows drawn with replacement from the
shipped real rows (taxi-data.csv and taxi-batch.csv, the same month). For windows of 100, 1,000 and
10,000 rows drawn like training, 30 consecutive windows per size, decided with the default alerting
rules (persistence from the windows before), with the noise threshold and without it (Azure's
threshold and the floors alone); then ``SHIFT_TRIALS`` times two quiet windows followed by two
windows of 100 rows with one feature multiplied by 4, and in which shifted window it alerted, naming
which features. The noise thresholds' cost is timed for a window's first row-count bucket and for a
window whose bucket is already drawn.
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
SIZES = (100, 1_000, 10_000)  # --noise: rows per window
NOISE_WINDOWS = 30  # --noise: consecutive windows per size
SHIFT_TRIALS = 10  # --noise: shifted pairs of windows of 100 rows


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

        from mlops.monitoring import alerting, backfill, baseline, compute, noise, production, signals

        base = baseline.from_frame(reference, features, rows=common.REFERENCE_ROWS, seed=0)
        plan = signals.plan(common.CONFIG, base, task="regression", with_ground_truth=False)
        span = production.Window(common.START, common.START + timedelta(days=days))
        rules = defaults()
        noisy = noise.Noise(base, plan.types, rules.noise_quantile, rules.noise_draws)
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
                noisy.annotate(result.rows, result.histograms)
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
    """Return the shared config's default ``monitoring.alerting`` rules (those of the generated model)."""
    from omegaconf import OmegaConf

    from mlops.monitoring import alerting

    path = Path(alerting.__file__).parents[1] / "conf" / "monitoring" / "default.yaml"
    return alerting.Settings.of(OmegaConf.create({"monitoring": OmegaConf.load(path)}))


class Model:
    """One model of the noise figures: its baseline, plan, alerting rules, scorer (None: no
    prediction column), the rows windows are drawn from, and the feature the shift multiplies."""

    def __init__(self, name, base, plan, rules, score, pool, shifted):
        from mlops.monitoring import noise

        self.name, self.base, self.plan, self.rules, self.score = name, base, plan, rules, score
        self.pool, self.shifted = pool, shifted
        self.noise = noise.Noise(base, plan.types, rules.noise_quantile, rules.noise_draws)
        self.seconds: dict[str, list[float]] = {"cold": [], "warm": [], "window": []}

    def window(self, rng: np.random.Generator, rows: int, factor: float = 1.0):
        """Return one window's result: ``rows`` rows drawn with replacement, the shifted feature
        multiplied by ``factor``, the noise thresholds set (and timed)."""
        from mlops.monitoring import compute, noise

        frame = self.pool.iloc[rng.integers(0, len(self.pool), rows)].reset_index(drop=True)
        frame[self.shifted] = frame[self.shifted] * factor
        if self.score is not None:
            frame["prediction"] = np.nan
        started = time.perf_counter()
        result, _ = compute.compute(self.plan, self.base, [frame], self.score)
        self.seconds["window"].append(time.perf_counter() - started)
        cold = any(
            (name, noise.bucket(sum(h.production))) not in self.noise.found
            for name, h in result.histograms.items()
        )
        started = time.perf_counter()
        self.noise.annotate(result.rows, result.histograms)
        self.seconds["cold" if cold else "warm"].append(time.perf_counter() - started)
        return result

    def decide(self, result, earlier: list[bool], with_noise: bool = True):
        """Return the alert on a window and the rows that counted, given the earlier windows' verdicts."""
        from mlops.monitoring import alerting

        rows = (
            result.rows
            if with_noise
            else [
                {key: value for key, value in row.items() if key != "noise_threshold"} for row in result.rows
            ]
        )
        counted = self.rules.counted(rows)
        breaches = [row for row in rows if row["breached"]]
        alert = alerting.decide(
            self.rules, result.production_rows, breaches, counted, earlier, None, common.END
        )
        return alert, counted


def generated_model() -> Model:
    """Return the 20 generated features of ``benchmarks/monitor.py``: no model, data drift and quality."""
    import pandas as pd

    from mlops.monitoring import baseline, signals

    reference = pd.DataFrame(common.draw(np.random.default_rng(0), common.REFERENCE_ROWS, production=False))
    base = baseline.from_frame(reference, list(reference.columns), rows=common.REFERENCE_ROWS, seed=0)
    plan = signals.plan(common.CONFIG, base, task="regression", with_ground_truth=False)
    pool = pd.DataFrame(common.draw(np.random.default_rng(7), 200_000, production=False))
    return Model("generated (20 features)", base, plan, defaults(), None, pool, "lognormal_0")


def taxi_model(scratch: str) -> Model:
    """Return taxi-fare trained on its shipped real trips in a scratch store, scored by its model."""
    import pandas as pd

    from mlops.models import catalog
    from mlops.models.features import feature_columns
    from mlops.monitoring import alerting, baseline, monitor, signals
    from mlops.scoring.frames import Scorer
    from mlops.training.run import train_model

    os.environ["MLOPS_STATE_DIR"] = str(Path(scratch) / "state")
    train_model("taxi-fare", [], echo=lambda _line: None)
    cfg = catalog.load_config("taxi-fare")
    chosen = monitor.subject("taxi-fare", None, None, scratch)
    base = baseline.load(chosen.folder, chosen.described, "taxi-fare")
    plan = signals.plan(cfg.monitoring, base, cfg.task, False)
    features = feature_columns(cfg)
    data = Path(catalog.model_dir("taxi-fare")) / "data"
    pool = pd.concat(
        [pd.read_csv(data / "taxi-data.csv")[features], pd.read_csv(data / "taxi-batch.csv")[features]],
        ignore_index=True,
    )
    score = Scorer(cfg, chosen.folder, chosen.described, features)
    return Model("taxi-fare (real trips)", base, plan, alerting.Settings.of(cfg), score, pool, "distance")


def noise_figures(model: Model) -> None:
    """Print the quiet windows' alerts with and without the noise threshold, the shift trials and the cost."""
    rng = np.random.default_rng([3, len(model.name)])
    print(f"{model.name}: {len(model.base.sample):,} baseline rows")
    print(f"  {'rows':>7}{'windows':>9}{'raw':>6}{'counted':>9}{'alerts':>8}{'alerts without noise':>22}")
    for size in SIZES:
        earlier: list[bool] = []
        before: list[bool] = []
        raw = counted_windows = alerts = alerts_before = 0
        for _ in range(NOISE_WINDOWS):
            result = model.window(rng, size)
            alert, counted = model.decide(result, earlier)
            old, old_counted = model.decide(result, before, with_noise=False)
            earlier.insert(0, bool(counted))
            before.insert(0, bool(old_counted))
            raw += any(row["breached"] for row in result.rows)
            counted_windows += bool(counted)
            alerts += alert.raised
            alerts_before += old.raised
        print(f"  {size:>7,}{NOISE_WINDOWS:>9}{raw:>6}{counted_windows:>9}{alerts:>8}{alerts_before:>22}")
    second = named = 0
    for _ in range(SHIFT_TRIALS):
        earlier = []
        for factor in (1, 1, 4, 4):
            alert, counted = model.decide(model.window(rng, 100, factor), earlier)
            earlier.insert(0, bool(counted))
        second += alert.raised
        named += alert.raised and model.shifted in {row["feature"] for row in counted}
    print(
        f"  {model.shifted} x4 in windows of 100 rows: alerted by the 2nd shifted window in {second} of "
        f"{SHIFT_TRIALS} trials, naming {model.shifted} in {named} (last reason: {alert.reason})"
    )
    cold, warm, window = (np.mean(model.seconds[key]) for key in ("cold", "warm", "window"))
    print(
        f"  noise thresholds: {cold:.2f} s for a window whose row-count bucket is new "
        f"({len(model.seconds['cold'])} such windows), {warm * 1000:.1f} ms once drawn; computing a window "
        f"takes {window:.2f} s (noise/window: {cold / window:.1f}x new, {warm / window:.3f}x drawn)"
    )


def main() -> None:
    """Write the month, measure each side and print the table and the alert findings."""
    parser = harness.arguments(__doc__, "production rows per daily window")
    parser.set_defaults(rows=[200_000], repeat=1)
    parser.add_argument("--days", type=int, default=30, help="daily windows in the backfill")
    parser.add_argument("--evidently-windows", type=int, default=3, help="windows Evidently is timed on")
    parser.add_argument("--noise", action="store_true", help="measure the noise-aware threshold instead")
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    if args.noise:
        print(f"{os.cpu_count()} cores; default monitoring.alerting (noise quantile 0.99, 500 draws)")
        with tempfile.TemporaryDirectory(prefix="mlops-noise-bench-") as scratch:
            for model in (generated_model(), taxi_model(scratch)):
                noise_figures(model)
        return
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
