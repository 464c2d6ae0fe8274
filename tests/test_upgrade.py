"""``mlops upgrade`` on real temporary git repositories holding a copy of this checkout: records
written by ``mlops new``, ``--check``, the three-way merge with a conflict, ``--dry-run``, ``--adopt``
and every bad input ending in one line with nothing written."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.template

REPO = Path(__file__).resolve().parents[1]
MODELS = Path("data-science") / "models"
TEMPLATE = Path("templates") / "model" / "{{cookiecutter.model_name}}"
COPIED = shutil.ignore_patterns(
    ".git", ".nox", ".mlops", "__pycache__", "*.egg-info", "out", ".mlops-template.json"
)
IDENTITY = {
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


class Project:
    """A git repository holding a copy of the checkout, where ``mlops`` and ``git`` run."""

    def __init__(self, root: Path, state: Path):
        self.root = root
        self.env = {
            key: value for key, value in os.environ.items() if not key.startswith(("MLOPS_", "MLFLOW_"))
        }
        self.env |= IDENTITY | {"MLOPS_ROOT": str(root), "MLOPS_STATE_DIR": str(state)}

    def mlops(self, *args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "mlops", *args]
        return subprocess.run(
            command, cwd=self.root, env=self.env, capture_output=True, text=True, timeout=600
        )

    def git(self, *args: str) -> str:
        done = subprocess.run(["git", *args], cwd=self.root, env=self.env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def commit(self, message: str) -> None:
        self.git("add", "--all")
        self.git("commit", "--quiet", "--message", message)

    def folder(self, name: str) -> Path:
        return self.root / MODELS / name


def copy_of_checkout(target: Path, models: bool = True) -> Path:
    shutil.copytree(REPO, target, ignore=COPIED)
    if not models:
        for folder in (target / MODELS).iterdir():
            shutil.rmtree(folder)
    return target


@pytest.fixture
def project(tmp_path) -> Project:
    """A fresh repository with no model folders, at template version T1."""
    found = Project(copy_of_checkout(tmp_path / "repo", models=False), tmp_path / "state")
    found.git("init", "--quiet", "--initial-branch", "main")
    found.commit("T1")
    return found


def change_template(project: Project) -> None:
    """Template version T2: a new test every model carries, a bumped pin, a rewritten README line and
    a changed config comment."""
    template = project.root / TEMPLATE
    (template / "tests" / "test_common.py").write_text("def test_every_model_has_it():\n    assert True\n")
    pins = template / "environment" / "requirements.txt"
    assert "scikit-learn>=1.5\n" in pins.read_text()
    pins.write_text(pins.read_text().replace("scikit-learn>=1.5\n", "scikit-learn>=1.6  # bumped in T2\n"))
    readme = template / "README.md"
    lines = readme.read_text().splitlines()
    assert lines[2] == "{{ cookiecutter.description }}"
    readme.write_text(
        "\n".join([*lines[:2], "{{ cookiecutter.description }}, as the template says in T2.", *lines[3:]])
        + "\n"
    )
    config = template / "config" / "model.yaml"
    config.write_text(
        config.read_text().replace("# team that owns the model", "# the team that owns it (T2)")
    )
    project.commit("T2")


def test_new_records_where_a_folder_came_from_and_upgrade_merges_the_template_change(project):
    for name in ("a", "b", "c"):
        assert project.mlops("new", name).returncode == 0
    record = json.loads((project.folder("a") / ".mlops-template.json").read_text())
    assert record["template"] == "templates/model"
    assert record["version"] == project.git("rev-parse", "HEAD:templates/model").strip()
    assert record["answers"] == {
        "model_name": "a",
        "task": "regression",
        "description": "A model trained and served by the mlops framework.",
        "owner": "data-science",
    }
    project.commit("a b c at T1")
    assert project.mlops("upgrade", "--check").stdout.split("\n")[:3] == [
        "a: current",
        "b: current",
        "c: current",
    ]
    data_code = project.folder("a") / "code" / "a" / "data.py"
    data_code.write_text(data_code.read_text() + "\n# a's own change\n")
    readme = project.folder("a") / "README.md"
    lines = readme.read_text().splitlines()
    readme.write_text("\n".join([*lines[:2], "A's team wrote this line.", *lines[3:]]) + "\n")
    project.commit("a's edits")
    owned_before = data_code.read_bytes()
    change_template(project)

    checked = project.mlops("upgrade", "--check")
    assert checked.returncode == 1
    for name in ("a", "b", "c"):
        assert f"{name}: behind (template {record['version'][:12]} -> " in checked.stdout

    planned = project.mlops("upgrade", "b", "--dry-run")
    assert planned.returncode == 0, planned.stderr
    assert (
        "+scikit-learn>=1.6  # bumped in T2" in planned.stdout and "b/tests/test_common.py" in planned.stdout
    )
    assert project.git("status", "--porcelain") == ""  # a dry run writes nothing

    upgraded = project.mlops("upgrade", "--all")
    assert upgraded.returncode == 1
    assert "a: upgraded" in upgraded.stdout and "1 conflict: a/README.md" in upgraded.stdout
    assert (
        "b: upgraded" in upgraded.stdout and "conflict" not in upgraded.stdout.split("b: ")[1].split("\n")[0]
    )
    for name in ("a", "b", "c"):
        folder = project.folder(name)
        assert (folder / "tests" / "test_common.py").is_file()
        assert (
            "scikit-learn>=1.6  # bumped in T2\n" in (folder / "environment" / "requirements.txt").read_text()
        )
        assert "# the team that owns it (T2)" in (folder / "config" / "model.yaml").read_text()
    assert "as the template says in T2." in (project.folder("b") / "README.md").read_text()
    assert data_code.read_bytes() == owned_before  # model-owned: never written
    text = readme.read_text()
    assert "<<<<<<< a/README.md\nA's team wrote this line.\n=======\n" in text
    assert ">>>>>>> template (current version)" in text
    changed = {line[3:] for line in project.git("status", "--porcelain").splitlines()}
    assert not any(path.startswith("data-science/models/a/code") for path in changed)

    still = project.mlops("upgrade", "--check")
    assert still.returncode == 1 and "a: 1 unresolved conflict: README.md" in still.stdout
    readme.write_text(
        text.split("<<<<<<< a/README.md\n")[0]
        + "A's team wrote this line.\n"
        + text.split(">>>>>>> template (current version)\n")[1]
    )
    project.commit("T2 in every folder")
    assert project.mlops("upgrade", "--check").returncode == 0
    again = project.mlops("upgrade", "--all")
    assert again.returncode == 0 and again.stdout.split() == [
        "a:",
        "current",
        "b:",
        "current",
        "c:",
        "current",
    ]
    assert project.git("status", "--porcelain") == ""


def test_every_bad_input_is_one_line_and_nothing_is_written(project, tmp_path):
    assert project.mlops("new", "a").returncode == 0
    project.commit("a")
    change_template(project)
    record_file = project.folder("a") / ".mlops-template.json"
    record = json.loads(record_file.read_text())

    def refused(*args: str) -> str:
        result = project.mlops("upgrade", *args)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1
        return result.stderr

    (project.folder("a") / "README.md").write_text("edited, not committed\n")
    assert "uncommitted changes under the folders to upgrade (data-science/models/a/README.md)" in refused(
        "a"
    )
    project.git("checkout", "--", ".")

    record_file.unlink()
    project.commit("a without a record")
    assert "a has no .mlops-template.json" in refused("a") and "mlops upgrade --adopt a" in refused("a")

    record_file.write_text(json.dumps({**record, "version": "0" * 40}))
    project.commit("a record naming an unknown version")
    message = refused("a")  # a full clone: the version was never committed here
    assert "its template version 000000000000 is in no commit of this repository" in message
    assert "mlops upgrade --adopt a" in message

    record_file.write_text(json.dumps({**record, "answers": {**record["answers"], "owner": "bad owner!"}}))
    project.commit("answers the template refuses")
    message = refused("a")
    assert "the answers recorded for 'a' no longer satisfy the template: owner 'bad owner!'" in message
    assert project.git("status", "--porcelain") == ""

    config = project.folder("a") / "config" / "model.yaml"
    config.write_text(config.read_text() + "broken: [\n")
    message = project.mlops("upgrade", "--adopt", "a")
    assert message.returncode == 2 and "Traceback" not in message.stderr
    assert (
        "a: cannot read its answers: data-science/models/a/config/model.yaml is not valid YAML: line"
        in message.stderr
    )
    project.git("checkout", "--", ".")

    outside = Project(copy_of_checkout(tmp_path / "no-git"), tmp_path / "state2")
    outside.env["GIT_CEILING_DIRECTORIES"] = str(tmp_path)  # no repository above it either
    result = outside.mlops("upgrade", "--check")
    assert result.returncode == 2 and "is not a git repository" in result.stderr
    assert "Traceback" not in result.stderr


def test_adopt_records_the_newest_version_that_matches_and_the_examples_are_current(project, tmp_path):
    assert project.mlops("new", "a").returncode == 0
    project.commit("a at T1")
    first = json.loads((project.folder("a") / ".mlops-template.json").read_text())["version"]
    (project.folder("a") / ".mlops-template.json").unlink()
    project.commit("a from before records")
    change_template(project)
    adopted = project.mlops("upgrade", "--adopt", "a")
    assert adopted.returncode == 0, adopted.stderr
    assert adopted.stdout.startswith(f"a: recorded template {first[:12]} (100% of its files match)")
    assert json.loads((project.folder("a") / ".mlops-template.json").read_text())["version"] == first

    # this checkout: its example models are adopted and current
    result = subprocess.run(
        [sys.executable, "-m", "mlops", "upgrade", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_plain_cookiecutter_bake_says_how_to_record_its_version(project, tmp_path):
    template = project.root / "templates" / "model"
    config = tmp_path / "cookiecutter.yaml"
    config.write_text(f"cookiecutters_dir: {tmp_path / 'templates'}\nreplay_dir: {tmp_path / 'replay'}\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(template),
            "--no-input",
            "--output-dir",
            str(project.root / MODELS),
            "model_name=d",
        ],
        cwd=project.root,
        env=project.env | {"COOKIECUTTER_CONFIG": str(config)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    assert "mlops upgrade --adopt d" in result.stdout
    project.commit("d baked by hand")
    assert project.mlops("upgrade", "--adopt", "d").returncode == 0
    assert project.mlops("upgrade", "--check").stdout.strip() == "d: current"


def test_a_file_the_template_removes_goes_unless_the_model_changed_it(project):
    notes = project.root / TEMPLATE / "NOTES.md"
    notes.write_text("Notes on {{ cookiecutter.model_name }}.\n")
    project.commit("T1 with notes")
    for name in ("a", "b"):
        assert project.mlops("new", name).returncode == 0
    (project.folder("a") / "NOTES.md").write_text("a keeps its own notes here.\n")
    project.commit("a and b")
    notes.unlink()
    project.commit("T2 without notes")
    upgraded = project.mlops("upgrade", "--all")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert not (project.folder("b") / "NOTES.md").exists()
    assert (project.folder("a") / "NOTES.md").read_text() == "a keeps its own notes here.\n"
    assert (
        "a: upgraded" in upgraded.stdout
        and "kept NOTES.md (removed from the template, changed here)" in upgraded.stdout
    )


def test_a_project_inside_a_larger_repository_upgrades_and_new_files_keep_their_mode(tmp_path):
    outer = tmp_path / "monorepo"
    project = Project(copy_of_checkout(outer / "ml", models=False), tmp_path / "state")
    project.root = outer / "ml"
    subprocess.run(["git", "init", "--quiet", "--initial-branch", "main"], cwd=outer, check=True)
    project.commit("T1")
    assert project.mlops("new", "a").returncode == 0
    record = json.loads((project.folder("a") / ".mlops-template.json").read_text())
    assert record["version"] == project.git("rev-parse", "HEAD:ml/templates/model").strip()
    project.commit("a")
    script = project.root / TEMPLATE / "run.sh"
    script.write_text("#!/bin/sh\necho run\n")
    script.chmod(0o755)
    project.commit("T2: an executable script")
    upgraded = project.mlops("upgrade", "a")
    assert upgraded.returncode == 0, upgraded.stdout + upgraded.stderr
    assert (project.folder("a") / "run.sh").stat().st_mode & 0o111  # executable, as in the template
    project.commit("a at T2")
    assert project.mlops("upgrade", "--check").stdout.strip() == "a: current"


def test_a_shallow_clone_is_told_to_fetch_the_recorded_version(project, tmp_path):
    assert project.mlops("new", "a").returncode == 0
    project.commit("a at T1")
    change_template(project)
    shallow = tmp_path / "shallow"
    project.git("clone", "--quiet", "--depth", "1", f"file://{project.root}", str(shallow))
    clone = Project(shallow, tmp_path / "state-shallow")
    result = clone.mlops("upgrade", "a")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert (
        "is not in this clone (a shallow clone has only the newest commits): run git fetch --unshallow"
        in result.stderr
    )
    assert clone.mlops("upgrade", "--check").returncode == 1  # the check itself needs no history


def test_right_after_new_the_refusal_gives_the_commit_and_a_left_conflict_is_named(project):
    created = project.mlops("new", "fraud-score", "--task", "classification", "--owner", "risk-team")
    assert created.returncode == 0, created.stderr
    refused = project.mlops("upgrade", "--all")  # the new folder is not committed yet
    assert refused.returncode == 2 and "Traceback" not in refused.stderr
    command = refused.stderr.strip().rsplit("stand apart: ", 1)[1]
    assert command == "git add data-science/models/fraud-score && git commit -m 'before mlops upgrade'"
    done = subprocess.run(["bash", "-c", command], cwd=project.root, env=project.env, capture_output=True)
    assert done.returncode == 0, done.stderr
    assert project.mlops("upgrade", "--all").stdout.strip() == "fraud-score: current"

    config = project.folder("fraud-score") / "config" / "model.yaml"
    config.write_text(config.read_text().replace("# team that owns the model", "# risk owns it"))
    project.commit("fraud-score's own comment on the line T2 changes")
    change_template(project)
    upgraded = project.mlops("upgrade", "--all")
    assert upgraded.returncode == 1 and "1 conflict: fraud-score/config/model.yaml" in upgraded.stdout
    lines = config.read_text().splitlines()
    line = 1 + next(i for i, text in enumerate(lines) if text.startswith("<<<<<<< "))
    where = f"data-science/models/fraud-score/config/model.yaml line {line}: an unresolved merge conflict"
    for args in (["train", "fraud-score"], ["upgrade", "--adopt", "fraud-score"]):
        result = project.mlops(*args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        assert where in result.stderr and "not valid YAML" not in result.stderr, result.stderr
