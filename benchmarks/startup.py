"""Benchmark how fast the ``mlops`` command starts, as a multiple of a bare ``python -c pass``.

    python benchmarks/startup.py                  # this tree, 15 runs of each, the fastest counts
    python benchmarks/startup.py --base 0123abc   # and the same commands at another commit, side by side

Each command runs as a subprocess with this Python, as a user runs it. ``mlops --help`` lists every
command (so it imports every module of ``mlops.cli``); ``mlops train --help`` imports one. Neither may
load pandas, scikit-learn, MLflow or azure-ai-ml: their cost shows here as a ratio far above 1. With
``--base``, the other commit is checked out into a temporary git worktree and run from there, so the
figures of the two trees stand side by side on the same machine at the same moment.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
COMMANDS = {
    "python -c pass": ["-c", "pass"],
    "mlops --help": ["-m", "mlops", "--help"],
    "mlops train --help": ["-m", "mlops", "train", "--help"],
    "mlops list --help": ["-m", "mlops", "list", "--help"],
}


def run(args: list[str], tree: Path) -> float:
    """Return the seconds one ``python ARGS`` takes from ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree), MLOPS_ROOT=str(tree))
    started = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=tree, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def measure(trees: dict[str, Path], repeat: int) -> dict[str, dict[str, float]]:
    """Return the fastest seconds of every command from every tree, the trees' runs interleaved so a
    change in the machine's load falls on both alike."""
    best = {name: dict.fromkeys(COMMANDS, float("inf")) for name in trees}
    for _ in range(repeat):
        for command, args in COMMANDS.items():
            for name, tree in trees.items():
                best[name][command] = min(best[name][command], run(args, tree))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15, help="runs per command; the fastest counts")
    parser.add_argument("--base", help="a commit to measure beside this tree")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlops-startup-") as scratch:
        trees = {"this tree": REPO}
        if options.base:
            other = Path(scratch) / "base"
            add = ["git", "-C", str(REPO), "worktree", "add", "-q", "--detach", str(other), options.base]
            subprocess.run(add, check=True)
            trees[options.base[:12]] = other
        try:
            found = measure(trees, options.repeat)
        finally:
            if options.base:
                subprocess.run(
                    ["git", "-C", str(REPO), "worktree", "remove", "--force", str(other)], check=True
                )
    print(f"{'command':<22}" + "".join(f"{name:>26}" for name in found))
    for command in COMMANDS:
        cells = [
            f"{seconds[command] * 1000:8.0f} ms {seconds[command] / seconds['python -c pass']:6.1f}x"
            for seconds in found.values()
        ]
        print(f"{command:<22}" + "".join(f"{cell:>26}" for cell in cells))
    print("(fastest of each; x: a multiple of 'python -c pass' in the same tree)")


if __name__ == "__main__":
    main()
