"""``mlops changed`` on a real temporary git repository: each rule, renames and deletions."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlops.models import changes

MODELS = ("credit-default", "taxi-fare", "churn")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def write(repo: Path, path: str, text: str = "x\n") -> None:
    (repo / path).parent.mkdir(parents=True, exist_ok=True)
    (repo / path).write_text(text)


def commit(repo: Path, message: str) -> str:
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path, monkeypatch) -> Path:
    """A repo with three models, the framework, docs and tests, committed once on main."""
    repo = tmp_path / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.email", "ci@example.com")
    git(repo, "config", "user.name", "ci")
    for name in MODELS:
        write(repo, f"data-science/models/{name}/config/model.yaml", f"name: {name}\n")
        write(repo, f"data-science/models/{name}/README.md")
    for path in (
        "mlops/cli/__init__.py",
        "mlops/azureml/pipeline.yml",
        "templates/model/cookiecutter.json",
        "noxfile.py",
        "pyproject.toml",
        ".github/workflows/ci.yml",
        "docs/monitoring.md",
        "README.md",
        "tests/test_cli.py",
        "infrastructure/main.bicep",
    ):
        write(repo, path)
    commit(repo, "start")
    monkeypatch.setenv("MLOPS_ROOT", str(repo))
    return repo


def change(repo: Path, *paths: str) -> dict:
    """Commit edits to ``paths`` on a branch and return what mlops changed says against main."""
    git(repo, "checkout", "-q", "-B", "feature", "main")
    for path in paths:
        write(repo, path, "changed\n")
    commit(repo, "change")
    return changes.changed("main").as_dict()


@pytest.mark.parametrize(
    ("paths", "expected"),
    [
        (
            ["data-science/models/credit-default/config/model.yaml"],
            {"models": ["credit-default"], "framework": False},
        ),
        (
            ["data-science/models/credit-default/code/x.py", "data-science/models/churn/config/model.yaml"],
            {"models": ["churn", "credit-default"], "framework": False},
        ),
        (
            ["data-science/models/credit-default/environment/requirements.txt"],
            {"models": ["credit-default"], "framework": False},
        ),
        (["mlops/cli/__init__.py"], {"models": sorted(MODELS), "framework": True}),
        (
            ["templates/model/{{cookiecutter.model_name}}/README.md"],
            {"models": sorted(MODELS), "framework": True},
        ),
        (["mlops/azureml/pipeline.yml"], {"models": sorted(MODELS), "framework": True}),
        (["templates/model/cookiecutter.json"], {"models": sorted(MODELS), "framework": True}),
        (["noxfile.py"], {"models": sorted(MODELS), "framework": True}),
        (["pyproject.toml"], {"models": sorted(MODELS), "framework": True}),
        ([".github/workflows/ci.yml"], {"models": sorted(MODELS), "framework": True}),
        (
            ["docs/monitoring.md", "data-science/models/taxi-fare/README.md", "LICENSE"],
            {"models": [], "framework": False},
        ),
        (["README.md"], {"models": [], "framework": True}),  # its "Try it" commands are framework tests
        (["tests/test_cli.py"], {"models": [], "framework": True}),
        (["infrastructure/main.bicep"], {"models": [], "framework": True}),
    ],
)
def test_each_rule(repo, paths, expected):
    assert change(repo, *paths) == expected


def test_a_renamed_file_counts_both_places(repo):
    git(repo, "checkout", "-q", "-B", "feature", "main")
    (repo / "data-science/models/taxi-fare/tests").mkdir()
    git(repo, "mv", "tests/test_cli.py", "data-science/models/taxi-fare/tests/test_cli.py")
    commit(repo, "move a test into a model")
    assert changes.changed("main").as_dict() == {"models": ["taxi-fare"], "framework": True}


def test_a_renamed_model_is_listed_under_its_new_name(repo):
    git(repo, "checkout", "-q", "-B", "feature", "main")
    git(repo, "mv", "data-science/models/churn", "data-science/models/churn-v2")
    commit(repo, "rename a model")
    assert changes.changed("main").as_dict() == {"models": ["churn-v2"], "framework": False}


def test_a_deleted_model_is_not_listed(repo):
    git(repo, "checkout", "-q", "-B", "feature", "main")
    git(repo, "rm", "-q", "-r", "data-science/models/churn")
    write(repo, "data-science/models/taxi-fare/config/model.yaml", "name: taxi-fare\nchanged: true\n")
    commit(repo, "drop churn")
    assert changes.changed("main").as_dict() == {"models": ["taxi-fare"], "framework": False}


def test_only_the_branch_side_counts(repo):
    git(repo, "checkout", "-q", "-B", "feature", "main")
    write(repo, "data-science/models/taxi-fare/config/model.yaml", "branch\n")
    commit(repo, "branch change")
    git(repo, "checkout", "-q", "main")
    write(repo, "mlops/cli/__init__.py", "main moved on\n")
    commit(repo, "main change")
    git(repo, "checkout", "-q", "feature")
    assert changes.changed("main").as_dict() == {"models": ["taxi-fare"], "framework": False}


def test_the_cli_prints_json_for_ci_and_refuses_an_unknown_base(repo, run_mlops):
    change(repo, "data-science/models/credit-default/config/model.yaml")
    result = run_mlops("changed", "--base", "main", "--json", cwd=repo.parent)  # MLOPS_ROOT names the repo
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"models": ["credit-default"], "framework": False}
    bad = run_mlops("changed", "--base", "origin/nowhere", cwd=repo.parent)
    assert bad.returncode == 2
    assert (
        bad.stderr.startswith("error: cannot compare origin/nowhere...HEAD")
        and "fetch-depth: 0" in bad.stderr
    )
