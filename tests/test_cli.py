"""The ``mlops`` command line as a user meets it: real subprocesses, real store, real HTTP for the UI."""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pytest

from mlops import catalog, registry

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


def test_train_all_then_list_shows_every_champion(run_mlops):
    result = run_mlops("train", "--all", "--sample", "300")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("is the champion") == 3
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


def test_config_naming_an_unknown_column_fails_in_one_line(run_mlops):
    result = run_mlops(
        "train", "credit-default", "data.n_rows=300", "schema.categorical=[sex,marital_status]"
    )
    assert_one_line_error(result, "column 'marital_status' (schema.categorical)", "credit_default.data.load")


def test_bad_override_fails_in_one_line(run_mlops):
    result = run_mlops("train", "taxi-fare", "estimator.n_trees=5")
    assert_one_line_error(result, "Could not override 'estimator.n_trees'", "config/model.yaml")


def test_worse_config_is_rejected_then_promote_and_rollback_by_hand(run_mlops):
    def champion():
        return str(registry.champion("breast-cancer").version)

    assert run_mlops("train", "breast-cancer").returncode == 0
    worse = run_mlops("train", "breast-cancer", "estimator.C=0.0001", "~evaluation.thresholds")
    assert worse.returncode == 0, worse.stderr
    assert "version 2 is not promoted: roc_auc" in worse.stdout
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
        deadline = time.monotonic() + 90
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
