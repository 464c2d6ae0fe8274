"""The Azure ML monitoring definitions: signals alert exactly when someone is mailed, the schedules
compare with the version they are rendered for, the Spark preprocessing entry needs nothing Azure's
Spark runtime lacks, and every model still validates. Their structure against Azure's samples is
tested in test_azureml_samples.py."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest
import yaml

from mlops.azureml import render, validate
from mlops.models import catalog

REPO = Path(__file__).resolve().parents[1]
EMAILS = ["mlops@example.com"]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """taxi-fare's definitions for dev, with alert emails as every sample has them."""
    folder = tmp_path_factory.mktemp("taxi-fare")
    render.render("taxi-fare", "dev", folder, [f"env.azure.monitor.emails={EMAILS}"], version="3")
    return folder


@pytest.mark.parametrize("emails", [[], EMAILS])
def test_every_signal_alerts_exactly_when_someone_is_mailed(tmp_path, emails):
    render.render("taxi-fare", "dev", tmp_path, [f"env.azure.monitor.emails={emails}"], version="3")
    for definition in ("monitor.yml", "monitor-byo.yml"):
        monitor = validate.load(tmp_path / definition, render.SCHEDULE).create_monitor  # azure-ai-ml's loader
        assert {signal.alert_enabled for signal in monitor.monitoring_signals.values()} == {bool(emails)}
        assert (monitor.alert_notification.emails if monitor.alert_notification else []) == emails


def test_the_schedules_compare_with_the_reference_version_they_are_rendered_for(tmp_path):
    render.render("taxi-fare", "dev", tmp_path, version="7")
    for definition in ("monitor.yml", "monitor-byo.yml"):
        signals = validate.load(tmp_path / definition, render.SCHEDULE).create_monitor.monitoring_signals
        references = {signal.reference_data.input_data.path for signal in signals.values()}
        assert references == {"taxi-fare-training:7"}  # the SDK drops the azureml: prefix
        collected = definition == "monitor.yml"  # no production data: Azure reads what was collected
        assert {signal.production_data is None for signal in signals.values()} == {collected}


def test_the_spark_entry_needs_only_what_azures_spark_runtime_has(rendered):
    component = yaml.safe_load((rendered / "components" / "monitor_preprocess.yml").read_text())
    assert component["code"] == str(REPO)
    entry = REPO / component["entry"]["file"]
    tree = ast.parse(entry.read_text(), feature_version=(3, 10))  # the Python of Spark runtime 3.4
    imported = {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    assert {name.split(".")[0] for name in imported} - set(sys.stdlib_module_names) == {"pyspark"}


def test_every_model_and_environment_still_validates(run_mlops):
    result = run_mlops("azure", "validate", "--all")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("definitions, ok") == len(catalog.model_names()) * len(render.environments())
