"""The README's "Try it in two minutes" section, run as a new user runs it: every command of its code
block, read from README.md (not a copy), in order, in a fresh copy of the checkout with no local
state, each exiting 0; then what the section says they leave behind is there."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[1]
SECTION = "## Try it in two minutes"
# what a fresh clone does not have: local state, caches, virtual environments
LEFT_OUT = shutil.ignore_patterns(".git", ".nox", ".mlops", ".venv", "__pycache__", "*.egg-info", "out")


def try_it_commands() -> list[str]:
    """Return the commands of the section's first bash block, in order (comments and blanks left out)."""
    text = (REPO / "README.md").read_text()
    assert SECTION in text, f"README.md has no '{SECTION}' section"
    block = re.search(r"```bash\n(.*?)```", text.split(SECTION, 1)[1], re.DOTALL)
    assert block, f"the '{SECTION}' section has no bash block"
    lines = (line.split(" #", 1)[0].strip() for line in block.group(1).splitlines())
    return [line for line in lines if line and not line.startswith("#")]


@pytest.fixture
def clone(tmp_path) -> Path:
    """A copy of the checkout as a fresh clone has it."""
    target = tmp_path / "clone"
    shutil.copytree(REPO, target, ignore=LEFT_OUT)
    return target


def test_the_try_it_section_runs_as_written(clone):
    commands = try_it_commands()
    assert commands[0].startswith("mlops train --all") and commands[-1].startswith("mlops stop")
    # the user's environment: mlops on PATH (this interpreter's), no state or tracking server of ours
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("MLOPS_", "MLFLOW_"))
    }
    environment["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environment.get('PATH', '')}"
    environment["MLFLOW_DISABLE_TELEMETRY"] = "true"
    outputs = []
    try:
        for command in commands:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=clone,
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
            outputs.append(done.stdout)
    finally:
        subprocess.run(
            ["bash", "-c", "mlops stop taxi-fare"], cwd=clone, env=environment, capture_output=True
        )
    answer = json.loads(outputs[commands.index("mlops invoke taxi-fare --example")])
    assert len(answer["predictions"]) == 5 and all(value > 0 for value in answer["predictions"])
    predictions = pd.read_csv(clone / "out" / "batch" / "predictions.csv")
    assert len(predictions) == 1465 and predictions["prediction"].gt(0).all()
    summary = json.loads((clone / "out" / "monitor" / "summary.json").read_text())
    assert summary["production"]["rows"] == 1465
    assert summary["breached"] is False  # real trips against real training trips: nothing to flag
    assert (clone / "out" / "monitor" / "report.html").read_text().lower().startswith("<!doctype html>")
    card = json.loads((clone / "out" / "card" / "card.json").read_text())
    assert card["model"] == "taxi-fare" and card["monitoring"]["last_run"]["production_rows"] == "1465"
    assert (clone / "out" / "card" / "card.html").read_text().startswith("<!doctype html>")
    assert len(list((clone / ".mlops" / "reports" / "taxi-fare").glob("version-*-comparison.html"))) == 1
    assert (clone / ".mlops" / "mlflow.db").is_file()  # the state lives in the clone, as the README says
    # the registry, keys, the server log and collected production inputs are the owner's alone
    state = [clone / ".mlops", *(clone / ".mlops").rglob("*")]
    assert len(state) > 20 and (clone / ".mlops" / "collected" / "taxi-fare").is_dir()
    shared = [f"{oct(path.stat().st_mode & 0o777)} {path}" for path in state if path.stat().st_mode & 0o077]
    assert not shared, "\n".join(shared)
