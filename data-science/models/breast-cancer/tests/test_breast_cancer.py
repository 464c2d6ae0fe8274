"""Tests of breast-cancer's config: nox -s "model(name='breast-cancer')"."""

import pytest

from mlops.models import catalog
from mlops.steps import evaluate, prep, train, validate

NAME = "breast-cancer"


@pytest.fixture(scope="module")
def cfg():
    return catalog.load_config(NAME)


def test_data_comes_from_scikit_learn_and_matches_the_schema(cfg):
    split = prep.run(cfg)
    validate.run(cfg, split)
    assert split.info["rows"] == 569
    assert split.info["source"] == "mlops.models.data.load_sklearn_dataset"


def test_pipeline_separates_the_classes(cfg):
    split = prep.run(cfg)
    scores = evaluate.score(cfg, train.run(cfg, split.train), split.test)
    assert scores["roc_auc"] > 0.97
