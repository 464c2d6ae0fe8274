"""The one table of numeric settings (``mlops.core.settings``): each rule lets its good values through and
refuses the rest naming the key; a key the shared config groups set has no default in code, and one
with a default in code is set by no shared group; the composed config of every model follows every
rule, and a broken value stops ``load_config`` in one line naming the file and the key."""

import pytest
from omegaconf import OmegaConf

from mlops.core import project, settings
from mlops.core.errors import MlopsError
from mlops.models import catalog

SHARED = project.root() / "mlops" / "conf"

GOOD_AND_BAD = {
    "evaluation.confidence": ([0.5, 0.95], [0, 1, 1.5, "high", True, None]),
    "evaluation.resamples": ([100, 1000], [99, 1000.0, "many", None]),
    "evaluation.min_test_rows": ([1, 50], [0, 2.5, None]),
    "evaluation.min_improvement": ([0, 0.01], [-0.1, "x"]),
    "monitoring.signals.model_performance.tolerance": ([0, 0.1, 2], [-0.1, None]),
    "monitoring.signals.estimated_performance.tolerance": ([0.05], [0, 1, None]),
    "monitoring.signals.estimated_performance.confidence": ([0.9], [0.5, 0.999, 1]),
    "monitoring.signals.estimated_performance.max_calibration_error": ([0.05], [0, 1]),
    "monitoring.alerting.min_rows": ([1, 100], [0, 1.5]),
    "monitoring.alerting.persistence.breaches": ([2], [0]),
    "monitoring.alerting.persistence.windows": ([3], [-1]),
    "monitoring.alerting.noise.quantile": ([0.5, 0.99, None], [0.4, 1, "0.99"]),
    "monitoring.alerting.noise.draws": ([500], [0, 10.0]),
}


def test_every_rule_is_exercised_here():
    assert set(GOOD_AND_BAD) == set(settings.RULES)


@pytest.mark.parametrize("key", sorted(GOOD_AND_BAD))
def test_a_rule_lets_good_values_through_and_names_the_key_of_a_bad_one(key):
    good, bad = GOOD_AND_BAD[key]
    leaf = key.rsplit(".", 1)[-1]
    for found in good:
        assert settings.value({leaf: found}, key) == found
    for found in bad:
        with pytest.raises(MlopsError) as error:
            settings.value({leaf: found}, key)
        assert str(error.value) == f"{key} is {found!r}; it must be {settings.RULES[key].says}"


def test_a_missing_key_takes_the_tables_default_or_is_named():
    assert settings.value({}, "evaluation.resamples") == 1000
    with pytest.raises(MlopsError, match=r"^monitoring.alerting.min_rows is missing; set it"):
        settings.value({}, "monitoring.alerting.min_rows")


def shared_keys() -> set[str]:
    """Every dotted key the shared config groups under mlops/conf set, prefixed by their group."""
    found = set()

    def walk(node, prefix):
        for key, child in node.items():
            path = f"{prefix}.{key}"
            found.add(path)
            if isinstance(child, dict):
                walk(child, path)

    for path in SHARED.rglob("*.yaml"):
        walk(OmegaConf.to_container(OmegaConf.load(path)), path.parent.relative_to(SHARED).as_posix())
    return found


def test_no_default_in_code_repeats_a_default_of_the_shared_config():
    shared = shared_keys()
    for key, rule in settings.RULES.items():
        if rule.default is settings.ABSENT:
            assert key in shared, f"{key} has no default in the table and no shared config group sets it"
        else:
            assert key not in shared, f"{key} has a default both in the table and in mlops/conf"


@pytest.mark.parametrize("name", catalog.model_names())
def test_every_models_composed_config_follows_every_rule(name):
    cfg = catalog.load_config(name)
    settings.check(cfg)
    for key in settings.RULES:
        parent = settings.select(cfg, key.rpartition(".")[0])
        assert settings.value(parent, key) is not None or settings.RULES[key].nullable


def test_a_broken_value_stops_load_config_naming_the_file_and_key():
    with pytest.raises(MlopsError) as error:
        catalog.load_config("taxi-fare", ["evaluation.resamples=5"])
    assert str(error.value).endswith(
        "config/model.yaml: evaluation.resamples is 5; it must be a whole number of at least 100"
    )
    with pytest.raises(
        MlopsError, match=r"monitoring\.alerting\.noise\.quantile is 1\.5; it must be a number from 0\.5"
    ):
        catalog.load_config("taxi-fare", ["monitoring.alerting.noise.quantile=1.5"])
