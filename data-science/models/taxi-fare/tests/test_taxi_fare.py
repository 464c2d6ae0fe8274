"""Tests of taxi-fare's own code and config.

Run them with: nox -s "model(name='taxi-fare')"
"""

import numpy as np
import pandas as pd
import pytest

from mlops.models import catalog
from mlops.steps import evaluate, prep, train, validate

NAME = "taxi-fare"


@pytest.fixture(scope="module")
def cfg():
    """The composed config; composing it also puts the model's code/ on the import path."""
    return catalog.load_config(NAME, ["data=generated", "data.n_rows=3000"])


def test_data_matches_the_schema(cfg):
    validate.run(cfg, prep.run(cfg))


def test_the_shipped_real_trips_match_the_schema():
    real = catalog.load_config(NAME)  # data=trips: data/taxi-data.csv
    split = prep.run(real)
    validate.run(real, split)
    assert len(split.train) + len(split.test) == 9773
    assert "Unnamed: 0" not in split.train  # the published row number is not a column


def test_data_is_deterministic(cfg):
    from taxi_fare.data import load

    pd.testing.assert_frame_equal(load(300, seed=3), load(300, seed=3))
    assert not load(300, seed=3).equals(load(300, seed=4))


def test_trips_are_plausible(cfg):
    from taxi_fare.data import load

    trips = load(5000, seed=1)
    assert trips["distance"].between(0.01, 35).all()
    assert trips["cost"].min() >= 2.5
    assert trips["pickup_hour"].between(0, 23).all()
    assert set(trips["vendor"]) == {1, 2}
    assert np.corrcoef(trips["distance"], trips["cost"])[0, 1] > 0.8
    pickup = trips["pickup_monthday"] * 86400 + trips["pickup_hour"] * 3600 + trips["pickup_minute"] * 60
    dropoff = trips["dropoff_monthday"] * 86400 + trips["dropoff_hour"] * 3600 + trips["dropoff_minute"] * 60
    same_month = trips["pickup_month"] == trips["dropoff_month"]
    assert (dropoff[same_month] >= pickup[same_month]).all()


def test_pipeline_learns_the_fare(cfg):
    split = prep.run(cfg)
    scores = evaluate.score(cfg, train.run(cfg, split.train), split.test)
    assert scores["r2"] > 0.7
