"""The catalog finds the models on disk and composes their Hydra configs with the shared groups."""

import pytest

from mlops.core.errors import MlopsError
from mlops.models import catalog

EXAMPLES = ["breast-cancer", "credit-default", "taxi-fare"]


def test_finds_every_example_model():
    assert set(EXAMPLES) <= set(catalog.model_names())


def test_unknown_model_names_the_models_and_the_fix():
    with pytest.raises(MlopsError) as error:
        catalog.model_dir("no-such-model")
    message = str(error.value)
    assert "unknown model 'no-such-model'" in message
    assert "taxi-fare" in message
    assert "mlops new no-such-model" in message


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_configs_compose_with_shared_groups(name):
    cfg = catalog.load_config(name)
    assert cfg.name == name
    assert cfg.env.name == "dev"
    assert cfg.preprocessing.numeric[0]._target_ == "sklearn.impute.SimpleImputer"
    assert "_target_" in cfg.estimator


def test_overrides_change_values_and_pick_shared_groups():
    cfg = catalog.load_config("taxi-fare", ["estimator.n_estimators=7", "env=prod", "preprocessing=standard"])
    assert cfg.estimator.n_estimators == 7
    assert cfg.env.name == "prod"
    assert cfg.preprocessing.numeric[-1]._target_ == "sklearn.preprocessing.StandardScaler"


def test_file_data_group_comes_from_the_framework():
    cfg = catalog.load_config("taxi-fare", ["data=file", "data.path=trips.csv"])
    assert cfg.data._target_ == "mlops.models.data.read_table"
    assert cfg.data.path == "trips.csv"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (["env=moon"], "Could not find 'env/moon'; Available options in 'env': dev, prod, staging"),
        (
            ["estimator.bogus=1"],
            "Could not override 'estimator.bogus'.; To append to your config use +estimator.bogus=1",
        ),
        (["estimator.n_estimators=="], "cannot compose"),
        (["task=clustering"], "task is 'clustering'; allowed: regression, classification"),
        (
            ["evaluation.primary_metric=accuracy"],
            "evaluation.primary_metric is 'accuracy'; allowed for regression",
        ),
        (["+evaluation.thresholds.auc=0.5"], "evaluation.thresholds.auc is not a regression metric"),
        (["schema.target=distance"], "schema.target 'distance' is also listed as a feature"),
        (["name=other"], "name is 'other' but the folder is 'taxi-fare'"),
        (["schema.categorical=[vendor,vendor]"], "schema.categorical lists 'vendor' more than once"),
        (
            ["schema.text=[vendor]"],
            "schema lists 'vendor' under schema.categorical and schema.text; keep it under one kind",
        ),
        (["schema.datetime=when"], "schema.datetime must be a list of column names"),
        (["features=[1]"], "features must be a list of transformers, each with a _target_"),
    ],
)
def test_bad_config_names_the_key_and_the_file(overrides, expected):
    with pytest.raises(MlopsError) as error:
        catalog.load_config("taxi-fare", overrides)
    message = str(error.value)
    assert expected in message
    assert "data-science/models/taxi-fare/config/model.yaml" in message
