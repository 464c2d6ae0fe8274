"""Benchmark ``mlops upgrade`` over many model folders in a temporary git repository.

    python benchmarks/upgrade.py              # 50 folders
    python benchmarks/upgrade.py --folders 200

It copies this checkout into a new git repository, makes ``--folders`` model folders with ``mlops new``'s
code, commits, changes the template (a new test file, a bumped pin), then times ``mlops upgrade --check``
and ``mlops upgrade --all`` as subprocesses, as a user runs them. The peer is one plain ``cookiecutter``
bake per folder, what re-rendering every folder by hand would cost at least. Figures are seconds, with
the time per folder.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = Path("templates") / "model" / "{{cookiecutter.model_name}}"
IDENTITY = {"GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.com"}
IDENTITY |= {"GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.com"}


def timed(command: list[str], root: Path, env: dict[str, str], expected: int) -> float:
    """Return the seconds ``command`` takes in ``root``; stop when it exits other than ``expected``."""
    started = time.perf_counter()
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != expected:
        sys.exit(
            f"{' '.join(command[2:])} exited {done.returncode}, not {expected}:\n{done.stdout}{done.stderr}"
        )
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folders", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        root = Path(temporary) / "repo"
        ignore = shutil.ignore_patterns(".git", ".nox", ".mlops", "__pycache__", "*.egg-info", "out")
        shutil.copytree(REPO, root, ignore=ignore)
        env = {
            **os.environ,
            **IDENTITY,
            "MLOPS_ROOT": str(root),
            "MLOPS_STATE_DIR": str(Path(temporary) / "state"),
        }
        git = ["git", "-C", str(root)]
        subprocess.run([*git, "init", "--quiet"], check=True)
        subprocess.run([*git, "add", "--all"], check=True)
        subprocess.run([*git, "commit", "--quiet", "-m", "T1"], env=env, check=True)
        os.environ.update(MLOPS_ROOT=str(root))
        from mlops.templating import scaffold

        started = time.perf_counter()
        for number in range(args.folders):
            scaffold.create(f"model-{number:03d}", "regression", "A benchmark model.", "bench")
        bake = (time.perf_counter() - started) / args.folders
        subprocess.run([*git, "add", "--all"], check=True)
        subprocess.run([*git, "commit", "--quiet", "-m", "folders"], env=env, check=True)
        template = root / TEMPLATE
        (template / "tests" / "test_common.py").write_text("def test_it():\n    assert True\n")
        pins = template / "environment" / "requirements.txt"
        pins.write_text(pins.read_text().replace("scikit-learn>=1.5", "scikit-learn>=1.6"))
        subprocess.run([*git, "add", "--all"], check=True)
        subprocess.run([*git, "commit", "--quiet", "-m", "T2"], env=env, check=True)
        mlops = [sys.executable, "-m", "mlops", "upgrade"]
        count = args.folders + 3  # and the example models
        check = timed([*mlops, "--check"], root, env, expected=1)  # every folder behind
        upgrade = timed([*mlops, "--all"], root, env, expected=0)  # untouched folders: no conflict
        again = timed([*mlops, "--check"], root, env, expected=0)
        print(f"{count} model folders (template change: one new file, one pin)")
        print(f"{'':<32} {'seconds':>8} {'per folder':>11}")
        for label, seconds in (
            ("mlops upgrade --check (behind)", check),
            ("mlops upgrade --all", upgrade),
            ("mlops upgrade --check (current)", again),
            ("peer: one cookiecutter bake", bake * count),
        ):
            print(f"{label:<32} {seconds:8.2f} {seconds / count * 1000:9.1f} ms")
        print(f"upgrade / bake every folder once: {upgrade / (bake * count):.2f}x")


if __name__ == "__main__":
    main()
