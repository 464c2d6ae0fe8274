"""Benchmark what a model's own environment costs: a model served (and trained) in the environment uv
builds from its requirements, the first time (the build) and cached, against the same model in the
current environment.

    python benchmarks/environments.py              # 3 runs of each cached side, the fastest counts
    python benchmarks/environments.py --repeat 5

It trains breast-cancer once into a temporary state folder, then times, each as a subprocess as a user
runs it: ``mlops train breast-cancer --sample 200`` and ``mlops deploy breast-cancer --online`` followed
by the first prediction (``mlops invoke breast-cancer --example``), with ``--env-manager local`` (this
environment), ``--env-manager uv`` with the environment folder removed first (it is built: uv's cache is
warm after the first build, as on a developer's machine) and ``--env-manager uv`` again (cached). The
endpoint is stopped after each. Figures, not pass/fail: the ratios are to the local side.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import harness  # benchmarks/harness.py: the script's own folder is on sys.path

REPO = Path(__file__).resolve().parents[1]
MODEL = "breast-cancer"
WORK = {
    "train": [["train", MODEL, "--sample", "200"]],
    "first prediction": [["deploy", MODEL, "--online"], ["invoke", MODEL, "--example"]],
}
SIDES = {"current environment": "local", "own, first (build)": "uv", "own, cached": "uv"}


def mlops(args: list[str], env: dict[str, str]) -> None:
    """Run ``mlops ARGS``; stop the benchmark when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "mlops", *args], cwd=REPO, env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        sys.exit(f"mlops {' '.join(args)} exited {done.returncode}:\n{done.stderr}")


def timed(work: str, manager: str, env: dict[str, str]) -> float:
    """Return the seconds ``work`` takes with ``--env-manager manager`` (the endpoint stopped after)."""
    started = time.perf_counter()
    for args in WORK[work]:
        mlops([*args, *(["--env-manager", manager] if args[0] != "invoke" else [])], env)
    seconds = time.perf_counter() - started
    if work == "first prediction":
        mlops(["stop", MODEL], env)
    return seconds


def main() -> None:
    repeat = harness.repeat_argument(__doc__, 3)
    with harness.fresh_state("mlops-environments-") as (state, env):
        print(f"training {MODEL} once ...", file=sys.stderr)
        mlops(["train", MODEL, "--sample", "200", "--env-manager", "local"], env)
        environments = Path(state) / "environments"
        found: dict[str, dict[str, float]] = {work: {} for work in WORK}
        for work in WORK:
            for side, manager in SIDES.items():
                if side == "own, first (build)":
                    shutil.rmtree(environments, ignore_errors=True)
                runs = 1 if side == "own, first (build)" else repeat
                print(f"{work}: {side} ...", file=sys.stderr)
                found[work][side] = min(timed(work, manager, env) for _ in range(runs))
    print(f"{'':<18}" + "".join(f"{side:>26}" for side in SIDES))
    for work, seconds in found.items():
        local = seconds["current environment"]
        cells = [f"{seconds[side]:7.1f} s {seconds[side] / local:6.2f}x" for side in SIDES]
        print(f"{work:<18}" + "".join(f"{cell:>26}" for cell in cells))
    print("(fastest of each cached side, one build; x: a multiple of the current environment's time)")


if __name__ == "__main__":
    main()
