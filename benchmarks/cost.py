"""Benchmark how steady the gate's cost ratios are: what ``evaluate`` measures for a candidate against a
champion of the same size (only the forest's seed differs) and against one with ten times the trees.

    python benchmarks/cost.py                  # taxi-fare, 20 against 20 and 200 trees, 10 repeats
    python benchmarks/cost.py --repeats 30 --trees 100

Each repeat is one ``mlops.evaluation.cost.serving`` call, as one train makes it (single-row calls of
both models interleaved, then batch calls). It prints, per figure, the lowest, median and highest ratio of the
candidate's cost to the champion's over the repeats: a bound of 1.5 flips a same-size verdict only if
the highest same-size ratio reaches it, and catches the bigger model only if its lowest ratio does.
The peer is ``timeit``'s way, the best of several plain loops of the candidate alone then the champion
alone, measured the same number of times.
"""

from __future__ import annotations

import argparse
import statistics
import time


def fitted(trees: int, seed: int, rows: int):
    """Return a taxi-fare pipeline of ``trees`` trees (one core) fitted on generated trips, and test rows."""
    from mlops.models import catalog, features

    trees_and_seed = [f"estimator.n_estimators={trees}", f"estimator.random_state={seed}"]
    cfg = catalog.load_config("taxi-fare", ["data=generated", "estimator.n_jobs=1", *trees_and_seed])
    from taxi_fare.data import load  # the model's code is importable once its config is composed

    frame = load(n_rows=rows, seed=0)
    train, test = frame.iloc[: rows * 4 // 5], frame.iloc[rows * 4 // 5 :]
    return features.fit(cfg, train), test[features.feature_columns(cfg)]


def plain(candidate, champion, features, calls: int = 50, loops: int = 3) -> dict[str, float]:
    """Return the peer's ratio: the best of ``loops`` loops of single-row calls of each model alone."""

    def best(pipeline) -> float:
        rows = [features.iloc[[at]] for at in range(calls)]
        laps = []
        for _ in range(loops):
            started = time.perf_counter()
            for row in rows:
                pipeline.predict(row)
            laps.append(time.perf_counter() - started)
        return min(laps)

    return {"latency_p50": best(candidate) / best(champion)}


def main() -> None:
    from mlops.evaluation import cost

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--trees", type=int, default=20)
    parser.add_argument("--rows", type=int, default=5000)
    args = parser.parse_args()
    champion, features = fitted(args.trees, 0, args.rows)
    print(f"taxi-fare, {len(features):,} test rows, champion {args.trees} trees, {args.repeats} repeats")
    print(f"{'candidate':<22} {'figure':<12} {'lowest':>8} {'median':>8} {'highest':>8} {'peer':>8}")
    for label, trees, seed in (
        ("same size (seed 1)", args.trees, 1),
        ("ten times the trees", args.trees * 10, 0),
    ):
        candidate, _ = fitted(trees, seed, args.rows)
        ratios: dict[str, list[float]] = {}
        peers = []
        for _ in range(args.repeats):
            ours, theirs = cost.serving([(candidate, features), (champion, features)])
            for key, value in cost.ratios(ours, theirs).items():
                ratios.setdefault(key, []).append(value)
            peers.append(plain(candidate, champion, features)["latency_p50"])
        for key, values in ratios.items():
            peer = f"{statistics.median(peers):8.3f}" if key == "latency_p50" else f"{'':>8}"
            print(
                f"{label:<22} {key:<12} {min(values):8.3f} {statistics.median(values):8.3f} "
                f"{max(values):8.3f} {peer}"
            )


if __name__ == "__main__":
    main()
