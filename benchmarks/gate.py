"""Benchmark the gate's paired bootstrap against the training it judges and against SciPy's bootstrap.

    python benchmarks/gate.py                    # 10,000 test rows, 1,000 resamples
    python benchmarks/gate.py --rows 40000 --resamples 2000

For each example task it trains a candidate and a champion (random forests of 100 and 30 trees,
n_jobs=-1) on four times ``--rows`` generated rows, times that training, then times the gate's
interval of the improvement of the primary metric (taxi-fare: rmse; credit-default: roc_auc) on
``--rows`` test rows, and ``scipy.stats.bootstrap`` computing the same paired percentile interval
with scikit-learn's metric. Figures are seconds, side by side, with the ratios.
"""

from __future__ import annotations

import argparse
import os
import time

TASKS = {"taxi-fare": "rmse", "credit-default": "roc_auc"}


def fitted(name: str, rows: int):
    """Return (candidate, champion, test features, test target, training seconds) for ``name``."""
    from mlops.models import catalog
    from mlops.models.features import feature_columns, fit

    overrides = ["data=generated", f"data.n_rows={rows * 5}", "estimator.n_jobs=-1"]
    cfg = catalog.load_config(name, [*overrides, "estimator.n_estimators=100"])
    module = __import__(f"{name.replace('-', '_')}.data", fromlist=["load"])
    frame = module.load(n_rows=rows * 5, seed=0)
    train, test = frame.iloc[: rows * 4], frame.iloc[rows * 4 :]
    features, target = feature_columns(cfg), cfg.schema.target
    started = time.perf_counter()
    candidate = fit(cfg, train)
    seconds = time.perf_counter() - started
    champion = fit(catalog.load_config(name, [*overrides, "estimator.n_estimators=30"]), train)
    return cfg, candidate, champion, test[features], test[target].to_numpy(), seconds


def ours(cfg, candidate, champion, features, target, resamples: int) -> tuple[float, object]:
    from mlops.evaluation import metrics
    from mlops.evaluation.uncertainty import improvement

    a, b = (metrics.outputs(cfg.task, pipeline, features) for pipeline in (candidate, champion))
    started = time.perf_counter()
    interval = improvement(cfg.task, TASKS[cfg.name], target, a, b, level=0.95, resamples=resamples, seed=0)
    return time.perf_counter() - started, interval


def scipy_side(cfg, candidate, champion, features, target, resamples: int) -> tuple[float, tuple]:
    from scipy import stats
    from sklearn import metrics

    if cfg.task == "regression":
        a, b = candidate.predict(features), champion.predict(features)

        def statistic(truth, x, y):
            return metrics.root_mean_squared_error(truth, y) - metrics.root_mean_squared_error(truth, x)
    else:
        a, b = candidate.predict_proba(features)[:, 1], champion.predict_proba(features)[:, 1]
        positive = target == candidate.classes_[1]

        def statistic(truth, x, y):
            return metrics.roc_auc_score(truth, x) - metrics.roc_auc_score(truth, y)

        target = positive
    started = time.perf_counter()
    found = stats.bootstrap(
        (target, a, b),
        statistic,
        paired=True,
        vectorized=False,
        n_resamples=resamples,
        method="percentile",
        confidence_level=0.95,
        random_state=0,
    )
    interval = found.confidence_interval
    return time.perf_counter() - started, (interval.low, interval.high)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=10_000, help="test rows (default 10,000)")
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples (default 1,000)")
    args = parser.parse_args()
    print(f"{args.rows:,} test rows, {args.resamples:,} resamples, {os.cpu_count()} cores")
    print()
    columns = ["training s", "gate's interval s", "scipy.stats.bootstrap s", "gate ÷ training"]
    columns += ["gate ÷ scipy", "gate's interval", "scipy's"]
    print(f"| model | metric | {' | '.join(columns)} |")
    print("|---|---|---:|---:|---:|---:|---:|---|---|")
    for name, metric in TASKS.items():
        cfg, candidate, champion, features, target, trained = fitted(name, args.rows)
        mine, interval = ours(cfg, candidate, champion, features, target, args.resamples)
        theirs, (low, high) = scipy_side(cfg, candidate, champion, features, target, args.resamples)
        print(
            f"| {name} | {metric} | {trained:.1f} | {mine:.2f} | {theirs:.2f} | {mine / trained:.2f}x "
            f"| {mine / theirs:.2f}x | [{interval.low:+.4g}, {interval.high:+.4g}] "
            f"| [{low:+.4g}, {high:+.4g}] |"
        )


if __name__ == "__main__":
    main()
