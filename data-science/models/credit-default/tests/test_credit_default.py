"""Tests of credit-default's own code and config.

Run them with: nox -s "model(name='credit-default')"
"""

import pandas as pd
import pytest

from mlops.models import catalog
from mlops.steps import evaluate, prep, train, validate

NAME = "credit-default"


@pytest.fixture(scope="module")
def cfg():
    """The composed config; composing it also puts the model's code/ on the import path."""
    return catalog.load_config(NAME, ["data.n_rows=800"])


def test_data_matches_the_schema(cfg):
    validate.run(cfg, prep.run(cfg))


def test_data_is_deterministic(cfg):
    from credit_default.data import load

    pd.testing.assert_frame_equal(load(300, seed=3), load(300, seed=3))
    assert not load(300, seed=3).equals(load(300, seed=4))


def test_the_model_learns_the_target(cfg):
    split = prep.run(cfg)
    scores = evaluate.score(cfg, train.run(cfg, split.train), split.test)
    assert scores["roc_auc"] > 0.6


def test_classes_are_imbalanced_like_real_defaults(cfg):
    from credit_default.data import load

    clients = load(5000, seed=1)
    assert 0.12 < clients["default_next_month"].mean() < 0.35
    assert clients["education"].isna().any()
