"""The Azure ML monitoring definitions against the Azure samples they follow: each rendered file has the
key structure of its sample (tests/azure_samples/monitoring.yaml records the samples' facts and every
documented difference), signals alert exactly when someone is mailed, the Spark preprocessing entry
needs nothing Azure's Spark runtime lacks, and every model still validates."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops import catalog
from mlops.azureml import render, validate

REPO = Path(__file__).resolve().parents[1]
SAMPLES = yaml.safe_load((Path(__file__).parent / "azure_samples" / "monitoring.yaml").read_text())
EMAILS = ["mlops@example.com"]
SIGNALS = "create_monitor.monitoring_signals"
# mappings whose keys are metric or column names from the model's config: values, not structure
VALUE_MAPS = ("metric_thresholds.numerical", "metric_thresholds.categorical", "feature_type_override")
OPTION = re.compile(r"(--\S+)\s+(\S+)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """taxi-fare's definitions for dev, with alert emails as every sample has them."""
    folder = tmp_path_factory.mktemp("taxi-fare")
    render.render("taxi-fare", "dev", folder, [f"env.azure.monitor.emails={EMAILS}"])
    return folder


def key_paths(data: dict[str, Any], prefix: str = "") -> dict[str, list[Any]]:
    """Return each dotted key path of a definition with its values: a signal's name becomes <its type>,
    the keys of ``VALUE_MAPS`` are values, and a component's args string is one path per option."""
    found: dict[str, list[Any]] = {}
    for key, value in data.items():
        if prefix == SIGNALS:
            key = f"<{value['type']}>"
        path = f"{prefix}.{key}" if prefix else key
        if path == "args" and isinstance(value, str):
            value = dict(OPTION.findall(value))
        if isinstance(value, dict) and not path.endswith(VALUE_MAPS):
            for below, values in key_paths(value, path).items():
                found.setdefault(below, []).extend(values)
        else:
            found.setdefault(path, []).append(value)
    return found


def covers(decision: str, path: str) -> bool:
    """Whether a documented decision covers a key path: the path itself or one below it; <*> is any
    signal type."""
    pattern = re.escape(decision).replace(re.escape("<*>"), "<[a-z_]+>")
    return re.fullmatch(rf"{pattern}(\..+)?", path) is not None


@pytest.mark.parametrize(
    ("definition", "sample"),
    [
        ("monitor.yml", "cli/monitoring/advanced-model-monitoring.yaml"),
        ("monitor-byo.yml", "cli/monitoring/model-monitoring-with-collected-data.yaml"),
        ("components/monitor_preprocess.yml", "cli/monitoring/components/custom_preprocessing/spec.yaml"),
    ],
)
def test_each_monitoring_definition_has_the_structure_of_its_azure_sample(rendered, definition, sample):
    facts = SAMPLES["samples"][definition]
    assert facts["sample"] == sample
    ours = key_paths(yaml.safe_load((rendered / definition).read_text()))
    ours_only, sample_only = set(ours) - set(facts["keys"]), set(facts["keys"]) - set(ours)
    for side, differing in (("ours_only", ours_only), ("sample_only", sample_only)):
        decisions = facts[side]
        undocumented = sorted(path for path in differing if not any(covers(d, path) for d in decisions))
        assert undocumented == [], f"{definition} vs {sample}: document these in {side}"
        stale = sorted(d for d in decisions if not any(covers(d, path) for path in differing))
        assert stale == [], f"{definition} vs {sample}: {side} documents no difference"
    for path, value in facts["values"].items():
        assert ours[path] and all((type(found), found) == (type(value), value) for found in ours[path]), path
    for path, decision in facts["differing_values"].items():
        assert ours[path] and decision["sample"] not in ours[path], path


@pytest.mark.parametrize("emails", [[], EMAILS])
def test_every_signal_alerts_exactly_when_someone_is_mailed(tmp_path, emails):
    render.render("taxi-fare", "dev", tmp_path, [f"env.azure.monitor.emails={emails}"])
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
