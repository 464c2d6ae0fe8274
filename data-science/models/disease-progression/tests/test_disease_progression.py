"""Tests of disease-progression's own code and config.

Run them with: nox -s "model(name='disease-progression')"
"""

import numpy as np
import pandas as pd
import pytest

from mlops.models import catalog
from mlops.steps import evaluate, prep, train, validate

NAME = "disease-progression"


@pytest.fixture(scope="module")
def cfg():
    """The composed config; composing it also puts the model's code/ on the import path."""
    return catalog.load_config(NAME)


@pytest.fixture(scope="module")
def split(cfg):
    return prep.run(cfg)


def test_data_matches_the_schema(cfg, split):
    validate.run(cfg, split)


def test_the_shipped_file_is_scikit_learns_copy_of_the_study(cfg):
    from disease_progression.data import export, read

    pd.testing.assert_frame_equal(read(), export())
    batch = read("diabetes-batch.csv")
    assert len(batch) == 120 and "progression" not in batch


def test_the_network_learns_the_target_and_stops_early(cfg, split):
    model = train.run(cfg, split.train)
    assert evaluate.score(cfg, model, split.test)["r2"] > 0.4
    network = model.model
    assert network.weights["w1"].shape == (len(cfg.schema.numeric) + 2, cfg.trainer.hidden)  # sex: 2 levels


def test_the_network_saves_to_npz_and_loads_without_pickle(cfg, split, tmp_path):
    from disease_progression.network import Network

    network = train.run(cfg, split.train).model
    network.save(tmp_path)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["inputs.json", "weights.npz"]
    again = Network.load(tmp_path)
    np.testing.assert_allclose(again.predict(split.test), network.predict(split.test))


def test_an_unseen_sex_code_or_a_missing_number_still_predicts(cfg, split):
    network = train.run(cfg, split.train).model
    rows = split.test.head(2).copy()
    rows["sex"] = [3, 1]
    rows.loc[rows.index[1], "bmi"] = np.nan
    assert np.isfinite(network.predict(rows)).all()


@pytest.mark.parametrize("trainer", ["network", "lightgbm"])
def test_each_trainer_learns_the_target(trainer, split):
    chosen = catalog.load_config(NAME, [f"trainer={trainer}"])
    assert evaluate.score(chosen, train.run(chosen, split.train), split.test)["r2"] > 0.35
