"""Benchmark ``mlops batch`` against the floor: one ``pandas.read_csv`` of the whole file, then one
``pipeline.predict``, in one process. Both load the same registered taxi-fare model.

    python benchmarks/batch.py                        # 1M rows
    python benchmarks/batch.py --rows 1000000 4000000 --trees 10

Each measurement runs in its own subprocess (imports done before the clock starts) that reports its
seconds, CPU seconds and peak RSS; the runs of both sides alternate and the fastest of ``--repeat``
counts. Everything lives in a temporary folder.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

import harness  # benchmarks/harness.py: the script's own folder is on sys.path

BLOCK_ROWS = 100_000  # rows generated once and written again until the file holds --rows


def make_csv(path: Path, rows: int) -> None:
    """Write ``rows`` taxi-fare trips without the target, columns in another order than training."""
    import pyarrow as pa
    import pyarrow.csv

    from mlops.models import catalog

    catalog.load_config("taxi-fare")  # puts the model's code on sys.path
    from taxi_fare.data import load

    block = load(n_rows=min(rows, BLOCK_ROWS), seed=1).drop(columns="cost")
    block = block[sorted(block.columns, reverse=True)]
    table = pa.Table.from_pandas(block, preserve_index=False)
    with pyarrow.csv.CSVWriter(path, table.schema) as writer:
        for start in range(0, rows, BLOCK_ROWS):
            writer.write_table(table.slice(0, min(BLOCK_ROWS, rows - start)))


def measure(kind: str, file: str, output: str, *overrides: str) -> None:
    """Run one side in this process and print its seconds, CPU seconds, rows and peak RSS as JSON."""
    import mlflow  # noqa: F401  imported before the clock starts, as by both sides
    import pandas as pd
    import skops.io  # noqa: F401

    from mlops import registry
    from mlops.batch import job
    from mlops.models import catalog
    from mlops.models.features import feature_columns

    started, cpu = time.perf_counter(), time.process_time()
    if kind == "ours":
        rows = job.score("taxi-fare", file, Path(output), overrides=overrides, echo=lambda _: None).scored
    else:
        cfg = catalog.load_config("taxi-fare")
        pipeline = registry.load(registry.champion("taxi-fare"), catalog.trusted(cfg))
        rows = len(pipeline.predict(pd.read_csv(file)[feature_columns(cfg)]))
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = harness.peak_mb()
    print(json.dumps({"seconds": seconds, "cpu": cpu, "rows": rows, "peak_mb": peak}))


def report(rows: int, runs: dict[str, list[dict]]) -> None:
    """Print each side's best run and peak RSS, then the ratios ours/floor."""
    best = {kind: min(done, key=lambda run: run["seconds"]) for kind, done in runs.items()}
    peak = {kind: max(run["peak_mb"] for run in done) for kind, done in runs.items()}
    for kind, label in (("floor", "floor"), ("ours", "mlops batch")):
        seconds, cpu = best[kind]["seconds"], best[kind]["cpu"]
        print(f"{rows:>10}  {label:<12}{rows / seconds:>10.0f}{seconds:>9.2f}{cpu:>8.1f}{peak[kind]:>13.0f}")
    speed = best["floor"]["seconds"] / best["ours"]["seconds"]
    cpu = best["ours"]["cpu"] / best["floor"]["cpu"]
    memory = peak["ours"] / peak["floor"]
    print(f"{rows:>10}  {'ours/floor':<12}{speed:>10.2f}{'':>9}{cpu:>8.2f}{memory:>13.2f}")


def main() -> None:
    """Train a taxi-fare model in a temporary state folder, then compare both sides per file size."""
    parser = harness.arguments(__doc__, "rows of each file")
    parser.add_argument("--trees", type=int, default=100, help="trees of the random forest (default 100)")
    parser.add_argument("--mini-batch-size", type=int, help="rows per mini-batch (default: the config's)")
    args = parser.parse_args()
    if args.measure:
        measure(*args.measure)
        return
    with tempfile.TemporaryDirectory(prefix="mlops-batch-bench-") as folder:
        os.environ["MLOPS_STATE_DIR"] = str(Path(folder) / "state")
        os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
        os.environ.pop("MLFLOW_TRACKING_URI", None)
        from mlops.models import catalog
        from mlops.training.run import train_model

        train_model("taxi-fare", [f"estimator.n_estimators={args.trees}"], echo=lambda _: None)
        size = args.mini_batch_size or catalog.load_config("taxi-fare").deployment.batch.mini_batch_size
        overrides = [f"deployment.batch.mini_batch_size={size}"]
        print(f"taxi-fare forest of {args.trees} trees, mini-batches of {size} rows, {os.cpu_count()} cores")
        print(f"{'rows':>10}  {'side':<12}{'rows/s':>10}{'seconds':>9}{'CPU s':>8}{'peak RSS MB':>13}")
        for rows in args.rows:
            file = Path(folder) / f"trips-{rows}.csv"
            make_csv(file, rows)
            runs: dict[str, list[dict]] = {"floor": [], "ours": []}
            for _ in range(args.repeat):  # interleaved, so both sides meet the same machine load
                for kind, done in runs.items():
                    done.append(
                        harness.run_side(__file__, kind, str(file), str(Path(folder) / "out"), *overrides)
                    )
                    assert done[-1]["rows"] == rows, f"{kind} scored {done[-1]['rows']} of {rows} rows"
            report(rows, runs)
            file.unlink()


if __name__ == "__main__":
    main()
