"""Tests of parcel-delay's own code and config.

Run them with: nox -s "model(name='parcel-delay')"
"""

import pandas as pd
import pytest

from mlops.models import catalog
from mlops.steps import evaluate, prep, train, validate

NAME = "parcel-delay"


@pytest.fixture(scope="module")
def cfg():
    """The composed config; composing it also puts the model's code/ on the import path."""
    return catalog.load_config(NAME, ["data.n_rows=2000"])


def test_data_matches_the_schema(cfg):
    validate.run(cfg, prep.run(cfg))


def test_data_is_deterministic_and_the_batch_file_is_what_it_makes(cfg):
    from parcel_delay.data import DATA, batch, load

    pd.testing.assert_frame_equal(load(300, seed=3), load(300, seed=3))
    assert not load(300, seed=3).equals(load(300, seed=4))
    shipped = pd.read_csv(DATA / "parcels-batch.csv")
    made = batch()
    assert list(shipped.columns) == list(made.columns)
    assert shipped["shipped_at"].tolist() == made["shipped_at"].tolist()
    assert shipped["distance_km"].tolist() == made["distance_km"].tolist()


def test_the_booster_learns_the_target_and_ranks_the_columns(cfg):
    split = prep.run(cfg)
    model = train.run(cfg, split.train)
    assert evaluate.score(cfg, model, split.test)["roc_auc"] > 0.7
    ranked = sorted(model.importances().items(), key=lambda item: -item[1])
    assert ranked[0][0] == "distance_km"  # the strongest cause of a late parcel in the generator
    assert set(model.importances()) == set(cfg.schema.numeric + cfg.schema.categorical) | {
        "fragile",
        "shipped_at",
    }
