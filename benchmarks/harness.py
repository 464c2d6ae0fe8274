"""What the benchmarks share: their command line, one side per fresh subprocess, peak RSS, and a fresh
MLflow state for those that run ``mlops`` commands."""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager


def arguments(doc: str, rows_help: str) -> argparse.ArgumentParser:
    """Return a parser with ``--rows`` (one or more sizes), ``--repeat`` and the hidden ``--measure``
    that a side's subprocess is started with."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000], help=rows_help)
    parser.add_argument("--repeat", type=int, default=2, help="runs per side; the fastest counts")
    parser.add_argument("--measure", nargs="+", help=argparse.SUPPRESS)
    return parser


def run_side(script: str, kind: str, *args: str) -> dict:
    """Run ``script --measure kind ARGS`` in a fresh interpreter and return the JSON it printed last."""
    command = [sys.executable, script, "--measure", kind, *args]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"{kind} failed:\n{done.stderr}")
    return json.loads(done.stdout.splitlines()[-1])


def peak_mb() -> float:
    """Return this process's peak resident memory in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def repeat_argument(doc: str, default: int) -> int:
    """Return ``--repeat`` (runs of each measured command; the fastest counts) from the command line."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--repeat", type=int, default=default, help="runs of each command; the fastest counts"
    )
    return int(parser.parse_args().repeat)


@contextmanager
def fresh_state(prefix: str) -> Iterator[tuple[str, dict[str, str]]]:
    """Yield a new MLflow state folder and the environment that points ``mlops`` at it (deleted after)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as state:
        env = dict(os.environ, MLOPS_STATE_DIR=state, MLFLOW_DISABLE_TELEMETRY="true")
        env.pop("MLFLOW_TRACKING_URI", None)
        yield state, env
