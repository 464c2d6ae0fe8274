"""What a newcomer trips on: every user mistake is answered before the heavy libraries load (real
subprocesses, each reporting the modules it imported), a mistyped model name suggests the closest
model, the local store is read without MLflow exactly as MLflow reads it, and ``invoke --example``
sends a logged missing value as null."""

import csv
import json
import subprocess
import sys

import pytest

from mlops import registry
from mlops.core.errors import MlopsError
from mlops.registry import registered

BATCH = "data-science/models/taxi-fare/data/taxi-batch.csv"
HEAVY = ("mlflow", "sklearn", "pandas", "numpy", "scipy", "sqlalchemy", "azure")
DRIVER = """
import json, sys
from mlops.cli import cli
try:
    cli.main(sys.argv[2:], prog_name="mlops")
except SystemExit as exit:
    code = exit.code
with open(sys.argv[1], "w") as report:
    json.dump({"code": code, "heavy": sorted(m for m in %r if m in sys.modules)}, report)
""" % (HEAVY,)  # noqa: UP031 - a tuple inside a program's text


@pytest.fixture(scope="module")
def store(trained_state, tmp_path_factory):
    """One taxi-fare version trained on 300 shipped trips, every other one without its pickup second."""
    with open("data-science/models/taxi-fare/data/taxi-data.csv", newline="") as file:
        header, *rows = list(csv.reader(file))[:301]
    for row in rows[::2]:
        row[header.index("pickup_second")] = ""
    table = tmp_path_factory.mktemp("data") / "gaps.csv"
    with open(table, "w", newline="") as file:
        csv.writer(file).writerows([header, *rows])
    return trained_state(
        "newcomer", [("taxi-fare", ["data=file", f"data.path={table}", "schema.max_null_rate=0.6"])]
    )


def answered(tmp_path, *args):
    """Run ``mlops ARGS`` in a subprocess; return its exit code, stderr and the heavy modules it imported."""
    report = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-c", DRIVER, str(report), *args], capture_output=True, text=True, timeout=300
    )
    found = json.loads(report.read_text())
    return found["code"], result.stderr, found["heavy"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "taxi-far"], "unknown model 'taxi-far' in data-science/models; did you mean 'taxi-fare'?"),
        (["deploy", "credit-defualt", "--online"], "did you mean 'credit-default'?"),
        (["stop", "brest-cancer"], "did you mean 'breast-cancer'?"),
        (["azure", "render", "taxi-fair", "--out", "x"], "did you mean 'taxi-fare'?"),
        (["deploy", "credit-default", "--online"], "model 'credit-default' has no champion; train it first"),
        (
            ["deploy", "taxi-fare", "--online", "--version", "7"],
            "model 'taxi-fare' has no registered version '7'",
        ),
        (["card", "credit-default"], "model 'credit-default' has no champion"),
        (["promote", "taxi-fare", "3", "--reason", "x"], "has no registered version '3'"),
        (
            ["monitor", "taxi-fare", "--production", "missing.csv"],
            "production data 'missing.csv' does not exist",
        ),
        (["monitor", "credit-default", "--production", "."], "model 'credit-default' has no champion"),
        (["batch", "taxi-fare", "--input", "missing.csv", "--output", "out.csv"], "no CSV or Parquet file"),
        (
            ["batch", "taxi-fare", "--input", BATCH, "--output", "o.csv", "--version", "4"],
            "no registered version '4'",
        ),
        (["invoke", "credit-default", "--example"], "no endpoint 'credit-default'"),
    ],
)
def test_a_mistake_is_answered_before_any_heavy_library_loads(trained, tmp_path, args, message):
    code, stderr, heavy = answered(tmp_path, *args)
    assert code == 2
    assert stderr.startswith("error: ") and message in stderr, stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert heavy == []


@pytest.mark.parametrize(
    ("typed", "said"),
    [
        ("trian", "'trian'. Did you mean 'train'?"),
        ("endpoint", "'endpoint'. Did you mean 'endpoints'?"),
        ("xyz", "'xyz'."),
    ],
)
def test_a_mistyped_command_is_matched_against_every_command(tmp_path, typed, said):
    code, stderr, heavy = answered(tmp_path, typed)
    assert code == 2 and heavy == []
    assert stderr.strip().endswith(f"Error: No such command {said}"), stderr


def test_a_name_far_from_every_model_is_told_how_to_create_it(trained, tmp_path):
    code, stderr, heavy = answered(tmp_path, "train", "fraud-score")
    assert code == 2 and heavy == []
    assert (
        "unknown model 'fraud-score' (models: breast-cancer, credit-default, disease-progression, "
        "parcel-delay, taxi-fare, ticket-routing)" in stderr
    )
    assert "mlops new fraud-score" in stderr


def test_list_and_a_stopped_endpoint_are_answered_without_mlflow(trained, tmp_path, run_mlops):
    code, stderr, heavy = answered(tmp_path, "list", "--json")
    assert code in (0, None) and heavy == [], stderr
    deployed = run_mlops("deploy", "taxi-fare", "--online")
    assert deployed.returncode == 0, deployed.stderr
    assert run_mlops("stop", "taxi-fare").returncode == 0
    code, stderr, heavy = answered(tmp_path, "invoke", "taxi-fare", "--example")
    assert code == 2 and heavy == []
    assert (
        stderr.strip()
        == "error: endpoint 'taxi-fare' is stopped; start it with: mlops deploy taxi-fare --online"
    )


def test_the_store_read_without_mlflow_agrees_with_mlflow(trained):
    champion = registry.champion("taxi-fare")
    version, metrics = registered.champion("taxi-fare")
    assert version == int(champion.version) == 1
    assert metrics == registry.metrics_of(champion) and "rmse" in metrics
    assert registered.registered("taxi-fare", "1") and not registered.registered("taxi-fare", "2")
    assert registered.champion("credit-default") is None
    with pytest.raises(MlopsError, match="has no registered version '2'"):
        registered.check("taxi-fare", "2", registry.CHAMPION)
    registered.check("taxi-fare", None, registry.CHAMPION)  # it has one: MLflow is asked next
    with pytest.raises(registered.Unknown):
        registered.registered("taxi-fare", "latest")  # no number: MLflow's own answer names it


def test_a_tracking_server_is_left_to_mlflow(trained, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://127.0.0.1:9")
    with pytest.raises(registered.Unknown):
        registered.champion("taxi-fare")
    registered.check("taxi-fare", "99", registry.CHAMPION)  # unknown here: no error of its own


def test_invoke_example_sends_a_logged_missing_value_as_null(trained, run_mlops):
    import mlflow.artifacts

    source = registry.get_version("taxi-fare", "1").source
    logged = mlflow.artifacts.load_text(f"{source}/serving_input_example.json")
    assert "NaN" in logged  # MLflow writes the missing pickup second so
    assert run_mlops("deploy", "taxi-fare", "--online").returncode == 0
    try:
        result = run_mlops("invoke", "taxi-fare", "--example")
    finally:
        run_mlops("stop", "taxi-fare")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["predictions"]) == 5
