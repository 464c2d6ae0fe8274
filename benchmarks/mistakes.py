"""Benchmark how fast ``mlops`` answers a user's mistake, beside ``mlops --help``.

    python benchmarks/mistakes.py              # 5 runs of each command, the fastest counts
    python benchmarks/mistakes.py --repeat 10

It trains taxi-fare once on 300 trips into a temporary state folder, deploys and stops it, then times
each mistake below as a subprocess, as a user runs it: each must exit 2 with one ``error:`` line. The
peer is ``mlops --help``, which imports no heavy library; a ratio near 1 means the mistake was answered
before MLflow, pandas or scikit-learn loaded (before this was measured, a mistyped name took 12 s and
a stopped endpoint 24 s on 2 busy cores).
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import harness  # benchmarks/harness.py: the script's own folder is on sys.path

REPO = Path(__file__).resolve().parents[1]
BATCH = "data-science/models/taxi-fare/data/taxi-batch.csv"
MISTAKES = {
    "mistyped model name": ["train", "taxi-far"],
    "deploy an untrained model": ["deploy", "credit-default", "--online"],
    "deploy a version that is not registered": ["deploy", "taxi-fare", "--online", "--version", "9"],
    "invoke a stopped endpoint": ["invoke", "taxi-fare", "--example"],
    "monitor a missing file": ["monitor", "taxi-fare", "--production", "missing.csv"],
    "batch a missing file": ["batch", "taxi-fare", "--input", "missing.csv", "--output", "out.csv"],
    "card of a model without champion": ["card", "credit-default"],
}


def mlops(args: list[str], env: dict[str, str], expected: int) -> float:
    """Return the seconds ``mlops ARGS`` takes; stop when it exits other than ``expected``."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "mlops", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode != expected:
        sys.exit(f"mlops {' '.join(args)} exited {done.returncode}, not {expected}:\n{done.stderr}")
    return seconds


def main() -> None:
    repeat = harness.repeat_argument(__doc__, 5)
    with harness.fresh_state("mlops-mistakes-") as (_state, env):
        print("training taxi-fare on 300 trips, deploying and stopping it ...", file=sys.stderr)
        for args in (["train", "taxi-fare", "--sample", "300"], ["deploy", "taxi-fare", "--online"]):
            mlops(args, env, 0)
        mlops(["stop", "taxi-fare"], env, 0)
        help_seconds = min(mlops(["--help"], env, 0) for _ in range(repeat))
        print(f"{'command':<42} {'seconds':>8} {'x mlops --help':>15}")
        print(f"{'mlops --help':<42} {help_seconds:>8.2f} {1:>15.1f}")
        for label, args in MISTAKES.items():
            seconds = min(mlops(args, env, 2) for _ in range(repeat))
            print(f"{label:<42} {seconds:>8.2f} {seconds / help_seconds:>15.1f}")
        listed = min(mlops(["list"], env, 0) for _ in range(repeat))
        print(f"{'mlops list (composes every config)':<42} {listed:>8.2f} {listed / help_seconds:>15.1f}")


if __name__ == "__main__":
    main()
