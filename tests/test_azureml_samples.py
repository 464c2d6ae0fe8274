"""Every rendered Azure ML definition against the Azure sample it follows, key path by key path.

tests/azure_samples/*.yaml record, for each rendered file, the sample's path in Azure/azureml-examples
(at the commit they name), the sample's key paths, the values that make the contract, and every
difference with its reason. A key path only one side has, or a contract value that changed, fails
here unless it is documented there; a documented difference that no longer exists fails too.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlops.azureml import render

FACTS = [
    yaml.safe_load(path.read_text())
    for path in sorted((Path(__file__).parent / "azure_samples").glob("*.yaml"))
]
SAMPLES = {definition: (facts, sample) for facts in FACTS for definition, sample in facts["samples"].items()}
EMAILS = ["mlops@example.com"]  # every monitoring sample mails someone
SIGNALS = "create_monitor.monitoring_signals"
# mappings whose keys are metric or column names from the model's config: values, not structure
VALUE_MAPS = ("metric_thresholds.numerical", "metric_thresholds.categorical", "feature_type_override")
OPTION = re.compile(r"(--\S+)\s+(\S+)")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    """taxi-fare's definitions for dev, with alert emails as the monitoring samples have them."""
    folder = tmp_path_factory.mktemp("taxi-fare")
    render.render("taxi-fare", "dev", folder, [f"env.azure.monitor.emails={EMAILS}"], version="3")
    return folder


def key_paths(data: dict[str, Any], named: tuple[str, ...], prefix: str = "") -> dict[str, list[Any]]:
    """Return each dotted key path of a definition with its values: a signal's name becomes <its type>,
    a key under a ``named`` path becomes <*>, the keys of ``VALUE_MAPS`` are values, and a component's
    args string is one path per option."""
    found: dict[str, list[Any]] = {}
    for key, value in data.items():
        if prefix == SIGNALS:
            key = f"<{value['type']}>"
        elif prefix in named:
            key = "<*>"
        path = f"{prefix}.{key}" if prefix else key
        if path == "args" and isinstance(value, str):
            value = dict(OPTION.findall(value))
        if isinstance(value, dict) and not path.endswith(VALUE_MAPS):
            for below, values in key_paths(value, named, path).items():
                found.setdefault(below, []).extend(values)
        else:
            found.setdefault(path, []).append(value)
    return found


def covers(decision: str, path: str) -> bool:
    """Whether a documented decision covers a key path: the path itself or one below it; <*> in a
    decision stands for any name or signal type."""
    pattern = re.escape(decision).replace(re.escape("<*>"), "<[*a-z_]+>")
    return re.fullmatch(rf"{pattern}(\..+)?", path) is not None


def test_every_rendered_definition_follows_a_sample(rendered):
    kinds = {path.relative_to(rendered).as_posix() for path in rendered.rglob("*.yml")}
    followed = {definition for definition in SAMPLES}
    # the other environments, components and the batch cluster come from the same templates
    alike = {path for path in kinds if path.startswith(("environments/", "components/", "compute/"))}
    assert kinds - alike <= followed and followed <= kinds


@pytest.mark.parametrize("definition", sorted(SAMPLES))
def test_each_definition_has_the_structure_of_its_azure_sample(rendered, definition):
    facts, sample = SAMPLES[definition]
    named = tuple(facts.get("named") or ())
    ours = key_paths(yaml.safe_load((rendered / definition).read_text()), named)
    ours_only, sample_only = set(ours) - set(sample["keys"]), set(sample["keys"]) - set(ours)
    where = f"{definition} vs {facts['repository']}:{sample['sample']}"
    for side, differing in (("ours_only", ours_only), ("sample_only", sample_only)):
        decisions = sample[side]
        undocumented = sorted(path for path in differing if not any(covers(d, path) for d in decisions))
        assert undocumented == [], f"{where}: document these in {side}"
        stale = sorted(d for d in decisions if not any(covers(d, path) for path in differing))
        assert stale == [], f"{where}: {side} documents no difference"
    for path, value in sample["values"].items():
        assert ours[path] and all((type(found), found) == (type(value), value) for found in ours[path]), path
    for path, decision in sample["differing_values"].items():
        assert ours[path] and decision["sample"] not in ours[path], path
