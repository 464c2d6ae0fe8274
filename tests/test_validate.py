"""Schema validation names the column and the source of every problem."""

import numpy as np
import pandas as pd
import pytest

from mlops.core.errors import MlopsError
from mlops.models import catalog
from mlops.steps import prep, validate
from mlops.steps.prep import Split


@pytest.fixture(scope="module")
def cfg():
    return catalog.load_config("credit-default", ["data.n_rows=400"])


@pytest.fixture
def frame(cfg):
    return prep.load(cfg)[0]


def problems(cfg, frame):
    return validate.problems(cfg, frame, "clients.csv")


def test_clean_data_has_no_problems(cfg, frame):
    assert problems(cfg, frame) == []


def test_missing_target_names_the_column_the_key_and_the_file(cfg, frame):
    assert problems(cfg, frame.drop(columns="default_next_month")) == [
        "column 'default_next_month' (schema.target) is not in clients.csv"
    ]


def test_unknown_feature_in_config(frame):
    cfg = catalog.load_config("credit-default", ["data.n_rows=400", "schema.categorical=[sex,region]"])
    assert problems(cfg, frame) == ["column 'region' (schema.categorical) is not in clients.csv"]


def test_non_numeric_value_in_a_numeric_column_is_shown_with_its_row(cfg, frame):
    frame["age"] = frame["age"].astype(object)
    frame.loc[7, "age"] = "forty"
    assert problems(cfg, frame) == [
        "column 'age' (schema.numeric) in clients.csv is not numeric: value 'forty' at row 7"
    ]


def test_null_rate_above_the_limit(cfg, frame):
    frame.loc[frame.index[:40], "limit_balance"] = np.nan
    assert problems(cfg, frame) == [
        "column 'limit_balance' in clients.csv is 10.0% null, above schema.max_null_rate 5.0%"
    ]


def test_missing_target_values_and_single_class(cfg, frame):
    frame["default_next_month"] = 0
    frame.loc[3, "default_next_month"] = None
    found = problems(cfg, frame)
    assert "target column 'default_next_month' in clients.csv has 1 missing values" in found
    assert "target column 'default_next_month' in clients.csv has fewer than two classes" in found


def test_empty_table(cfg, frame):
    assert problems(cfg, frame.iloc[:0]) == ["clients.csv has no rows"]


def test_run_raises_listing_missing_columns_first_and_passes_clean_splits(cfg, frame):
    validate.run(cfg, Split(frame.iloc[:300], frame.iloc[300:], {"source": "clients.csv"}))
    broken = frame.drop(columns=["age", "sex"])
    broken.loc[broken.index[:100], "limit_balance"] = None
    with pytest.raises(MlopsError) as error:
        validate.run(cfg, Split(broken.iloc[:300], broken.iloc[300:], {"source": "clients.csv"}))
    assert str(error.value) == (
        "credit-default: columns 'age' (schema.numeric), 'sex' (schema.categorical) are not in clients.csv"
    )


def test_prep_splits_with_the_recorded_seed_and_stratifies(cfg):
    first, second = prep.run(cfg), prep.run(cfg)
    pd.testing.assert_frame_equal(first.test, second.test)
    assert first.info["seed"] == 42
    assert first.info["train_rows"] + first.info["test_rows"] == 400
    share = first.train["default_next_month"].mean() - first.test["default_next_month"].mean()
    assert abs(share) < 0.02


def test_sample_keeps_a_seeded_subset(cfg):
    split = prep.run(cfg, sample=100)
    assert split.info["rows"] == 400
    assert split.info["sampled_rows"] == 100
    assert len(split.train) + len(split.test) == 100
