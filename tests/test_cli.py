"""The ``mlops`` command line as a user meets it: real subprocesses, real store, real HTTP for the UI."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mlops import registry
from mlops.models import catalog

HEAVY = ("mlflow", "sklearn", "hydra", "pandas", "numpy", "scipy", "jinja2", "cookiecutter", "azure")


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def champions(run_mlops):
    result = run_mlops("list", "--json")
    assert result.returncode == 0, result.stderr
    return {row["name"]: row["champion_version"] for row in json.loads(result.stdout)}


def test_help_imports_no_heavy_library():
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "mlops", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0
    for command in (
        "new",
        "list",
        "train",
        "promote",
        "rollback",
        "ui",
        "deploy",
        "endpoints",
        "stop",
        "keys",
        "invoke",
        "batch",
    ):
        assert f"  {command} " in result.stdout
    imported = {line.split("|")[-1].strip().split(".")[0] for line in result.stderr.splitlines()}
    assert not imported & set(HEAVY)


LOADED = """
import contextlib, io, json, sys
from mlops.cli import cli
with contextlib.redirect_stdout(io.StringIO()) as shown, contextlib.suppress(SystemExit):
    cli.main([sys.argv[1], "--help"], prog_name="mlops")
print(json.dumps({"usage": shown.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_each_command_loads_only_its_own_module_of_the_command_table():
    from mlops.cli import COMMANDS

    listed = subprocess.run([sys.executable, "-m", "mlops", "--help"], capture_output=True, text=True)
    names = [line.split()[0] for line in listed.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert names == sorted(COMMANDS)
    for name, target in COMMANDS.items():
        result = subprocess.run([sys.executable, "-c", LOADED, name], capture_output=True, text=True)
        assert result.returncode == 0, result.stderr
        found = json.loads(result.stdout)
        assert found["usage"].startswith(f"Usage: mlops {name} "), found["usage"]
        commands = {module for module in found["modules"] if module.startswith("mlops.cli.")}
        assert commands - {"mlops.cli.targets"} == {f"mlops.cli.{target.partition(':')[0]}"}, name
        assert not {module.split(".")[0] for module in found["modules"]} & set(HEAVY), name


def test_train_all_then_list_shows_every_champion(run_mlops):
    result = run_mlops("train", "--all", "--sample", "300")
    assert result.returncode == 0, result.stderr
    # on 300 rows, ticket-routing's f1 and disease-progression's r2 stay under their thresholds
    promoted = {line.split(":")[0] for line in result.stdout.splitlines() if "is the champion" in line}
    assert promoted == {"breast-cancer", "credit-default", "parcel-delay", "taxi-fare"}
    table = run_mlops("list")
    assert table.stdout.splitlines()[0].split() == ["MODEL", "TASK", "TARGET", "METRIC", "CHAMPION", "VALUE"]
    assert any(
        line.split()[:5] == ["taxi-fare", "regression", "cost", "rmse", "v1"]
        for line in table.stdout.splitlines()
    )
    rows = {row["name"]: row for row in json.loads(run_mlops("list", "--json").stdout)}
    assert rows["breast-cancer"]["target"] == "diagnosis"
    assert rows["breast-cancer"]["primary_metric"] == "roc_auc"
    assert rows["breast-cancer"]["champion_version"] == 1
    assert 0.9 < rows["breast-cancer"]["champion_metric"] <= 1
    assert rows["breast-cancer"]["monitoring"] is True  # the scheduled monitor covers it (monitoring.enabled)

    again = run_mlops("train", "breast-cancer", "--sample", "300", "--json")
    assert again.returncode == 0, again.stderr
    [registration] = json.loads(again.stdout)  # progress went to stderr
    assert registration["model"] == "breast-cancer" and registration["version"] == "2"
    assert registration["champion"] is False and "does not beat the champion" in registration["reason"]
    assert "register  version 2 is not promoted" in again.stderr


def test_list_before_any_training_shows_no_champion(run_mlops):
    assert set(champions(run_mlops).values()) == {None}


def test_unknown_model_and_missing_name(run_mlops):
    assert_one_line_error(
        run_mlops("train", "fraud-score"), "unknown model 'fraud-score'", "mlops new fraud-score"
    )
    assert_one_line_error(run_mlops("train"), "name a model to train")
    assert_one_line_error(run_mlops("train", "taxi-fare", "--all"), "not both")


def test_data_file_without_the_target_fails_in_one_line_and_registers_nothing(run_mlops, tmp_path):
    catalog.load_config("taxi-fare")  # puts the model's code on the path
    from taxi_fare.data import load

    table = tmp_path / "trips.csv"
    load(50).drop(columns="cost").to_csv(table, index=False)
    result = run_mlops("train", "taxi-fare", "data=file", f"data.path={table}")
    assert_one_line_error(result, "column 'cost' (schema.target) is not in", str(table))
    assert champions(run_mlops)["taxi-fare"] is None


def test_text_in_a_numeric_column_names_the_line_of_the_file(run_mlops, tmp_path):
    catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    trips = load(300)
    trips["distance"] = trips["distance"].astype(object)
    trips.loc[[250, 30], "distance"] = ["far", "twelve"]  # the split shuffles: the first in the file is named
    table = tmp_path / "trips.csv"
    trips.to_csv(table, index=False)
    result = run_mlops("train", "taxi-fare", "data=file", f"data.path={table}")
    assert_one_line_error(
        result, f"column 'distance' (schema.numeric) in {table} is not numeric: value 'twelve' at line 32"
    )
    assert table.read_text().splitlines()[31].split(",")[list(trips.columns).index("distance")] == "twelve"


def test_config_naming_an_unknown_column_fails_in_one_line(run_mlops):
    result = run_mlops(
        "train", "credit-default", "data.n_rows=300", "schema.categorical=[sex,marital_status]"
    )
    assert_one_line_error(result, "column 'marital_status' (schema.categorical)", "credit_default.data.load")


def test_bad_override_fails_in_one_line(run_mlops):
    result = run_mlops("train", "taxi-fare", "estimator.n_trees=5")
    assert_one_line_error(result, "Could not override 'estimator.n_trees'", "config/model.yaml")


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("estimator.n_estimators=abc", ["estimator.n_estimators is 'abc'", "must be an int in the range"]),
        ("estimator.max_depth=-3", ["estimator.max_depth is -3", "max_depth must be an int"]),
        ("estimator._target_=sklearn.ensemble.Nope", ["estimator: cannot build sklearn.ensemble.Nope"]),
    ],
)
def test_bad_override_values_fail_in_one_line_before_any_step(run_mlops, override, fragments):
    result = run_mlops("train", "credit-default", "data.n_rows=300", override)
    assert_one_line_error(result, *fragments)
    assert "HYDRA_FULL_ERROR" not in result.stderr
    assert result.stdout == ""  # not even prep ran
    assert champions(run_mlops)["credit-default"] is None


@pytest.fixture
def repo_copy(tmp_path, monkeypatch):
    """A copy of the model folders, the repo root mlops works in (MLOPS_ROOT)."""
    shutil.copytree(catalog.project.models_dir(), tmp_path / "data-science" / "models")
    monkeypatch.setenv("MLOPS_ROOT", str(tmp_path))
    return tmp_path / "data-science" / "models"


@pytest.mark.parametrize("broken", ["config/model.yaml", "config/estimator/random_forest.yaml"])
def test_one_broken_model_config_never_stops_list(run_mlops, repo_copy, broken):
    with (repo_copy / "taxi-fare" / broken).open("a") as file:
        file.write("oops: [unclosed\n")
    result = run_mlops("list")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    listed = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert listed == catalog.model_names() and len(listed) == 6
    assert result.stdout.splitlines()[-2].split()[:3] == ["taxi-fare", "broken", "config"]
    assert result.stderr.splitlines() == [
        f"error: taxi-fare: data-science/models/taxi-fare/{broken} is not valid YAML: "
        f"line {len((repo_copy / 'taxi-fare' / broken).read_text().splitlines()) + 1}, column 1: "
        "expected ',' or ']', but got '<stream end>'; fix the file",
        "error: 1 of 6 models failed: taxi-fare (errors above)",
    ]


def test_one_broken_model_never_stops_train_all(run_mlops, repo_copy):
    estimator = repo_copy / "credit-default" / "config" / "estimator" / "random_forest.yaml"
    estimator.write_text("n_estimators: {\n")  # the model in the middle of the order
    result = run_mlops("train", "--all", "--sample", "300")
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "breast-cancer: register  version 1 is the champion" in result.stdout
    assert "taxi-fare: register  version 1 is the champion" in result.stdout  # the one after it trained
    assert "random_forest.yaml is not valid YAML: line 2, column 1" in result.stderr
    assert result.stderr.strip().endswith("error: 1 of 6 models failed: credit-default (errors above)")
    listed = run_mlops("list", "--json")
    assert listed.returncode == 2
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["breast-cancer"]["champion_version"] == rows["taxi-fare"]["champion_version"] == 1
    assert "random_forest.yaml is not valid YAML" in rows["credit-default"]["error"]


def test_worse_config_is_rejected_then_promote_and_rollback_by_hand(run_mlops):
    def champion():
        return str(registry.champion("breast-cancer").version)

    assert run_mlops("train", "breast-cancer").returncode == 0
    worse = run_mlops("train", "breast-cancer", "estimator.C=0.0001", "~evaluation.thresholds")
    assert worse.returncode == 0, worse.stderr
    assert "version 2 is not promoted" in worse.stdout and "vs champion (version 1)" in worse.stdout
    assert champion() == "1"

    promoted = run_mlops("promote", "breast-cancer", "2", "--reason", "try the simpler model")
    assert promoted.stdout.strip() == "breast-cancer: version 2 is the champion"
    assert champion() == "2"
    rolled = run_mlops("rollback", "breast-cancer")
    assert rolled.stdout.strip() == "breast-cancer: version 1 is the champion again (version 2 rolled back)"
    assert champion() == "1"
    assert_one_line_error(
        run_mlops("promote", "breast-cancer", "7", "--reason", "x"), "no registered version '7'"
    )


def test_sweep_from_the_command_line(run_mlops):
    result = run_mlops("train", "breast-cancer", "-m", "estimator.C=0.01,1")
    assert result.returncode == 0, result.stderr
    assert "best of 2 runs" in result.stdout
    assert "version 1 is the champion" in result.stdout


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_ui_serves_mlflow_on_the_local_store(isolated_state):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "mlops", "ui", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # mlflow ui starts workers: stop the whole group
    )
    try:
        deadline = time.monotonic() + 240  # a new store migrates first: over 60 s on 2 busy cores
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response:
                    assert response.status == 200
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read() if server.poll() is not None else ""
                    pytest.fail(f"mlflow ui did not answer: {output}")
                time.sleep(0.5)
        assert (isolated_state / "mlflow.db").is_file()
    finally:
        # mlflow ui's job workers outlive a SIGTERM to their parent: end the whole group
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=15)
