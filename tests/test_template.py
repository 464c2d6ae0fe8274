"""Bake templates/model through both doors, ``mlops new`` and plain cookiecutter, and use it.

Real bakes and real subprocesses in a throwaway project root; run with: nox -s template.
"""

import ast
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter

pytestmark = pytest.mark.template

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "model"
MODELS = Path("data-science") / "models"
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text())
JINJA = ("{{", "}}", "{%", "%}", "cookiecutter.")


@dataclass(frozen=True)
class Answers:
    """One set of template answers and the door it goes through."""

    name: str
    task: str
    door: str  # "mlops new" or "cookiecutter"
    description: str = DEFAULTS["description"]
    owner: str = DEFAULTS["owner"]
    estimator: str = "random_forest"

    @property
    def package(self) -> str:
        return self.name.replace("-", "_")


BAKES = [
    Answers(
        "churn-score",
        "regression",
        "mlops new",
        description='Monthly churn: "likely" or not, per customer.',
        owner="growth-team",
    ),
    Answers("fraud-2024-v2", "classification", "mlops new", owner="risk"),
    Answers("customer-lifetime-value-forecast", "regression", "cookiecutter"),  # 32: the longest
    Answers("m4-7-tier-2", "classification", "cookiecutter", description="Tiers.", owner="ops-42"),
    Answers("late-fee", "classification", "mlops new", estimator="xgboost"),  # the boosters' own training
    Answers("demand-boost", "regression", "cookiecutter", estimator="lightgbm"),
]
BY_NAME = {answers.name: answers for answers in BAKES}
# one model per task and per door
TRAINED = ["customer-lifetime-value-forecast", "fraud-2024-v2", "late-fee", "demand-boost"]
BAD_NAMES = {
    "uppercase": "Churn-Score",
    "leading-digit": "2fast",
    "33-characters": "customer-lifetime-value-forecasts",
    "trailing-dash": "churn-",
    "double-dash": "churn--score",
    "underscore": "churn_score",
}


def expected_files(package: str, estimator: str = "random_forest") -> set[str]:
    """Return every file a bake must write, relative to the model folder."""
    group = "estimator" if estimator == "random_forest" else "trainer"
    return {
        "README.md",
        f"code/{package}/__init__.py",
        f"code/{package}/data.py",
        "config/data/synthetic.yaml",
        f"config/{group}/{estimator}.yaml",
        "config/model.yaml",
        "environment/conda.yaml",
        "environment/requirements.txt",
        f"tests/test_{package}.py",
    }


def files_of(folder: Path) -> dict[str, str]:
    """Return each file under ``folder`` (relative POSIX path) with its text, bytecode aside."""
    return {
        path.relative_to(folder).as_posix(): path.read_text()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and "__pycache__" not in path.parts
    }


@dataclass
class Bake:
    """What one bake produced: the folder, its files right after baking and the door's output."""

    answers: Answers
    folder: Path
    files: dict[str, str]
    output: subprocess.CompletedProcess | str


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Return a throwaway project root holding an empty models folder, the model template and (as in a
    fork) the framework, which Azure ML components upload with the model."""
    root = tmp_path_factory.mktemp("project")
    (root / MODELS).mkdir(parents=True)
    (root / "mlops").symlink_to(REPO / "mlops", target_is_directory=True)
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(TEMPLATE, root / "templates" / "model", ignore=ignore)
    # generated tests run under the repo's pytest settings, as they do in the repo
    shutil.copy(REPO / "pyproject.toml", root)
    return root


@pytest.fixture(scope="module")
def env(root, tmp_path_factory) -> dict[str, str]:
    """Return the subprocess environment: this root, its own MLflow and cookiecutter state."""
    cookie = tmp_path_factory.mktemp("cookiecutter")
    config = cookie / "config.yaml"
    config.write_text(f"cookiecutters_dir: {cookie / 'templates'}\nreplay_dir: {cookie / 'replay'}\n")
    environ = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    environ |= {
        "MLOPS_ROOT": str(root),
        "MLOPS_STATE_DIR": str(tmp_path_factory.mktemp("state")),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "COOKIECUTTER_CONFIG": str(config),
    }
    return environ


@pytest.fixture(scope="module")
def run(root, env):
    """Run ``python ARGS`` in a real subprocess inside the throwaway root."""

    def run(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, *args]
        return subprocess.run(command, cwd=root, env=env, capture_output=True, text=True, timeout=600)

    return run


@pytest.fixture(scope="module")
def bake_api(root, env):
    """Bake with the plain cookiecutter API into the root's models folder."""

    def bake(**answers: str) -> str:
        return cookiecutter(
            str(root / "templates" / "model"),
            no_input=True,
            output_dir=str(root / MODELS),
            extra_context=answers,
            config_file=env["COOKIECUTTER_CONFIG"],
        )

    return bake


@pytest.fixture(scope="module")
def bakes(root, run, bake_api) -> dict[str, Bake]:
    """Bake every answer set in BAKES once, through its door."""
    done = {}
    for answers in BAKES:
        if answers.door == "mlops new":
            args = ["new", answers.name, "--task", answers.task, "--estimator", answers.estimator]
            args += ["--description", answers.description, "--owner", answers.owner]
            output = run("-m", "mlops", *args)
        else:
            extra = {"model_name": answers.name, "task": answers.task, "estimator": answers.estimator}
            if answers.description != DEFAULTS["description"]:
                extra["description"] = answers.description
            if answers.owner != DEFAULTS["owner"]:
                extra["owner"] = answers.owner
            output = bake_api(**extra)
        folder = root / MODELS / answers.name
        files = files_of(folder) if folder.is_dir() else {}
        done[answers.name] = Bake(answers, folder, files, output)
    return done


@pytest.fixture(scope="module")
def trained(run, bakes) -> dict[str, subprocess.CompletedProcess]:
    """Train each model in TRAINED once on a 400-row sample."""
    return {name: run("-m", "mlops", "train", name, "--sample", "400") for name in TRAINED}


@pytest.fixture(scope="module")
def listed(run, trained) -> dict[str, dict]:
    """Return ``mlops list --json`` rows by model name, after the training."""
    result = run("-m", "mlops", "list", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row for row in json.loads(result.stdout)}


def models_on_disk(root: Path) -> set[str]:
    """Return the names of the folders in the root's models folder."""
    return {path.name for path in (root / MODELS).iterdir()}


ALL_BAKES = [pytest.param(answers, id=answers.name) for answers in BAKES]


@pytest.mark.parametrize("answers", ALL_BAKES)
def test_bake_succeeds_and_names_the_folder(answers, bakes, root):
    output = bakes[answers.name].output
    if answers.door == "mlops new":
        assert output.returncode == 0, output.stderr
        assert output.stdout == (
            f"created data-science/models/{answers.name}; train it with: mlops train {answers.name}\n"
        )
        assert "Traceback" not in output.stderr
    else:
        assert Path(output) == root / MODELS / answers.name


@pytest.mark.parametrize("answers", ALL_BAKES)
def test_bake_writes_exactly_the_template_files(answers, bakes):
    assert set(bakes[answers.name].files) == expected_files(answers.package, answers.estimator)


@pytest.mark.parametrize("answers", ALL_BAKES)
def test_bake_leaves_no_jinja_in_paths_or_contents(answers, bakes):
    for path, text in bakes[answers.name].files.items():
        for marker in JINJA:
            assert marker not in path, path
            assert marker not in text, f"{marker!r} left in {path}"


@pytest.mark.parametrize("answers", ALL_BAKES)
def test_rendered_files_parse_and_carry_the_answers(answers, bakes):
    files = bakes[answers.name].files
    parsed = {path: yaml.safe_load(text) for path, text in files.items() if path.endswith(".yaml")}
    assert set(parsed) == {
        path for path in expected_files(answers.package, answers.estimator) if ".yaml" in path
    }
    model = parsed["config/model.yaml"]
    assert (model["name"], model["task"], model["owner"]) == (
        answers.name,
        answers.task,
        answers.owner,
    )
    regression = answers.task == "regression"
    assert model["evaluation"]["primary_metric"] == ("rmse" if regression else "roc_auc")
    if answers.estimator == "random_forest":
        estimator = parsed["config/estimator/random_forest.yaml"]["_target_"]
        assert estimator.endswith("Regressor" if regression else "Classifier")
        assert model["defaults"][-2] == {"estimator": "random_forest"} and "features" in model
    else:
        trainer = parsed[f"config/trainer/{answers.estimator}.yaml"]
        assert trainer["_target_"] == f"mlops.models.boosters.{answers.estimator}"
        assert trainer["early_stopping_rounds"] > 0 and "params" in trainer
        assert model["defaults"][-2] == {"trainer": answers.estimator} and "features" not in model
        library = {"lightgbm": "lightgbm>=4.3", "xgboost": "xgboost-cpu>=3.1"}[answers.estimator]
        assert library in files["environment/requirements.txt"].splitlines()
        assert f"- {library}" in files["environment/conda.yaml"]
    assert parsed["config/data/synthetic.yaml"]["_target_"] == f"{answers.package}.data.load"
    assert parsed["environment/conda.yaml"]["name"] == answers.name
    for path, text in files.items():
        if path.endswith(".py"):
            ast.parse(text, filename=path)
    assert files["config/model.yaml"].startswith(f"# {answers.name}: {answers.description}\n")
    readme = files["README.md"]
    assert readme.startswith(f"# {answers.name}\n\n{answers.description}\n")
    assert f"| Owner | {answers.owner} |" in readme
    assert f"| Task | {answers.task} |" in readme


@pytest.mark.parametrize("answers", ALL_BAKES)
def test_generated_tests_pass(answers, bakes, root, run):
    tests = bakes[answers.name].folder / "tests"
    result = run("-m", "pytest", str(tests), "-p", "no:cacheprovider", "--rootdir", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_a_generated_test_passes_on_its_own(bakes, root, run):
    tests = bakes["churn-score"].folder / "tests"
    only = ("-k", "deterministic", "-p", "no:cacheprovider", "--rootdir", str(root))
    result = run("-m", "pytest", str(tests), *only)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", TRAINED)
def test_baked_model_trains_and_registers_version_1(name, trained):
    result = trained[name]
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert f"{name}: register  version 1 is " in result.stdout


@pytest.mark.parametrize("name", TRAINED)
def test_first_version_of_a_baked_model_is_the_champion(name, trained):
    assert f"{name}: register  version 1 is the champion" in trained[name].stdout


@pytest.mark.parametrize("name", TRAINED)
def test_baked_model_is_monitored_on_its_own_kind_of_data(name, trained, root, run, tmp_path):
    production = tmp_path / "production.csv"
    make = (
        "import sys; from datetime import datetime, UTC; from hydra.utils import instantiate; "
        "from mlops.models import catalog; "
        f"frame = instantiate(catalog.load_config('{name}').data, n_rows=300, seed=7); "
        "frame['timestamp'] = datetime.now(UTC).isoformat(); frame.to_csv(sys.argv[1], index=False)"
    )
    assert run("-c", make, str(production)).returncode == 0
    result = run("-m", "mlops", "monitor", name, "--production", str(production), "--json")
    assert result.returncode in (0, 1), result.stderr
    summary = json.loads(result.stdout)
    assert summary["production"]["rows"] == 300 and summary["production"]["scored"] == 300
    drifted = {row["feature"] for row in summary["rows"] if row["signal"] == "data_drift"}
    assert {"age", "income", "region", "plan"} <= drifted
    assert (Path(summary["production"]["source"]) == production) and summary["run_id"]


@pytest.mark.parametrize("name", [name for name in TRAINED if name != "late-fee"])
def test_baked_model_validates_for_azure_with_no_edits(name, bakes, run):
    result = run("-m", "mlops", "azure", "validate", name, "--env", "prod")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{name} (prod): 20 definitions, ok" in result.stdout


def test_a_library_the_lock_has_not_seen_is_named_with_the_command_that_locks_it(bakes, run):
    """XGBoost is in no example's requirements, so the lock holds no pin for it until mlops azure lock."""
    result = run("-m", "mlops", "azure", "validate", "late-fee", "--env", "prod")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    message = result.stderr.strip().splitlines()[-1]
    assert message.startswith("error: late-fee: mlops/azureml/requirements.lock does not cover the training")
    assert "xgboost-cpu>=3.1 is not in the lock" in message and "mlops azure lock" in message


@pytest.mark.parametrize("name", TRAINED)
def test_list_shows_the_trained_champion(name, listed):
    row = listed[name]
    assert (row["task"], row["champion_version"]) == (BY_NAME[name].task, 1)


def test_list_shows_every_baked_model(listed):
    assert set(BY_NAME) <= set(listed)


def assert_one_error_line(result: subprocess.CompletedProcess, value: str) -> None:
    """Assert exit code 2, no output and one ``error:`` line on stderr holding ``value``."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert value in lines[0]


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_mlops_new_rejects_a_bad_name(name, root, run, bakes):
    before = models_on_disk(root)
    result = run("-m", "mlops", "new", name, "--task", "classification")
    assert_one_error_line(result, f"model name '{name}'")
    assert models_on_disk(root) == before


def test_mlops_new_names_the_length_limit(run):
    name = BAD_NAMES["33-characters"]
    result = run("-m", "mlops", "new", name)
    assert_one_error_line(result, f"model name '{name}' has 33 characters; at most 32")


def test_mlops_new_refuses_an_existing_model_folder(root, run, bakes):
    existing = bakes["churn-score"]
    before = files_of(existing.folder)
    result = run("-m", "mlops", "new", "churn-score", "--task", "classification", "--owner", "x")
    assert_one_error_line(result, "data-science/models/churn-score already exists")
    assert files_of(existing.folder) == before


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("--owner", "team: growth", "owner 'team: growth' is not a team or user id"),
        (
            "--description",
            "first line\nsecond line",
            "description 'first line\\nsecond line' must be one line",
        ),
        ("--description", "", "description '' must be one line of 1 to 200 characters"),
    ],
)
def test_mlops_new_rejects_answers_that_would_break_rendered_files(option, value, expected, root, run, bakes):
    before = models_on_disk(root)
    assert_one_error_line(run("-m", "mlops", "new", "good-name", option, value), expected)
    assert models_on_disk(root) == before


def test_mlops_new_rejects_an_unknown_task(root, run, bakes):
    before = models_on_disk(root)
    result = run("-m", "mlops", "new", "cluster-me", "--task", "clustering")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "'clustering' is not one of 'regression', 'classification'" in result.stderr
    assert models_on_disk(root) == before


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_cookiecutter_hook_rejects_a_bad_name(name, root, bake_api, bakes, capfd):
    before = models_on_disk(root)
    with pytest.raises(FailedHookException):
        bake_api(model_name=name, task="regression")
    assert f"error: model name '{name}'" in capfd.readouterr().err
    assert models_on_disk(root) == before


def test_cookiecutter_command_line_rejects_a_bad_name(root, run, bakes):
    before = models_on_disk(root)
    template, output = str(root / "templates" / "model"), str(root / MODELS)
    result = run("-m", "cookiecutter", template, "--no-input", "-o", output, "model_name=Bad_Name")
    assert result.returncode != 0
    assert "error: model name 'Bad_Name' is not a lowercase slug" in result.stderr
    assert models_on_disk(root) == before


def test_cookiecutter_rejects_an_unknown_task_before_writing(root, bake_api, bakes):
    # cookiecutter's own choice check stops this before the hook runs, so it is a ValueError
    before = models_on_disk(root)
    with pytest.raises(ValueError, match="clustering provided for choice variable task"):
        bake_api(model_name="cluster-me", task="clustering")
    assert models_on_disk(root) == before


def test_mlops_new_rejects_an_unknown_estimator(root, run, bakes):
    before = models_on_disk(root)
    result = run("-m", "mlops", "new", "boost-me", "--estimator", "catboost")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "'catboost' is not one of 'random_forest', 'lightgbm', 'xgboost'" in result.stderr
    assert models_on_disk(root) == before


def test_the_estimator_choices_are_one_list_in_the_cli_the_hook_and_the_template():
    from mlops.models import ESTIMATORS
    from mlops.templating import scaffold

    assert tuple(DEFAULTS["estimator"]) == ESTIMATORS == scaffold.answer_rules().ESTIMATORS
    rules = scaffold.answer_rules()
    found = rules.problems("boost-me", "regression", "A model.", "team", "catboost")
    assert found == ["estimator 'catboost' is not one of: random_forest, lightgbm, xgboost"]
