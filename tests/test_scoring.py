"""Scoring with real fitted pipelines: the rows an estimator cannot take are refused alone, by column and
row, and a micro-batch scores its good requests in one pass whatever the bad ones hold."""

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops.scoring.batcher import Batcher
from mlops.scoring.contract import Column, Request, RequestError
from mlops.scoring.guard import FLOAT32_MAX, computes_in_float32, source
from mlops.scoring.model import Model

COLUMNS = [Column("distance", "double"), Column("small", "double"), Column("kind", "string")]
NAMES = [column.name for column in COLUMNS]


def training_frame(rows: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    generator = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "distance": generator.uniform(0, 20, rows),
            "small": generator.normal(0, 0.01, rows),  # scaled by 1/0.01: 1e307 overflows to infinity
            "kind": generator.choice(["a", "b"], rows),
        }
    )
    return frame, frame["distance"] * 2 + (frame["kind"] == "a")


def fitted(estimator, numeric_steps=(), unknown="ignore") -> Model:
    branches = [
        ("numeric", make_pipeline(*numeric_steps) if numeric_steps else "passthrough", ["distance", "small"]),
        ("categorical", OneHotEncoder(handle_unknown=unknown), ["kind"]),
    ]
    pipeline = Pipeline([("preprocess", ColumnTransformer(branches)), ("estimator", estimator)])
    pipeline.fit(*training_frame())
    return Model("1", pipeline, COLUMNS, None)


def columns(rows: list[list]) -> list[list]:
    return [list(column) for column in zip(*rows, strict=True)]


GOOD = [[3.0, 0.0, "a"], [7.5, 0.01, "b"]]


def expected(model: Model, rows: list[list]) -> list[float]:
    return model.pipeline.predict(pd.DataFrame(rows, columns=NAMES)).tolist()


def test_a_forest_refuses_values_beyond_float32_row_by_row_and_scores_the_rest():
    model = fitted(RandomForestRegressor(n_estimators=5, random_state=0))
    assert model.guard.limit == FLOAT32_MAX
    rows = [GOOD[0], [3.5e38, 0.0, "a"], GOOD[1], [1.0, -1e39, "b"]]
    scores = model.predict(columns(rows), probabilities=False)
    assert sorted(scores.refused) == [1, 3]
    assert (scores.refused[1].column, scores.refused[1].kind) == ("distance", "range")
    assert scores.refused[3].column == "small"
    assert scores.predictions[1] is None and scores.predictions[3] is None
    assert [scores.predictions[0], scores.predictions[2]] == expected(model, GOOD)


def test_a_linear_model_scores_big_values_and_refuses_what_its_scaling_overflows():
    model = fitted(LinearRegression(), [StandardScaler()])
    assert model.guard.limit == np.inf
    scores = model.predict(columns([[3.5e38, 0.0, "a"], [1.0, 1e307, "b"]]), probabilities=False)
    assert list(scores.refused) == [1] and scores.refused[1].column == "small"
    message = scores.refused[1].message(0, "1e+307")
    assert "column 'small' row 0 is 1e+307" in message and "infinity" in message
    assert np.isfinite(scores.predictions[0])


def test_a_null_is_refused_only_where_nothing_fills_it():
    without = fitted(LinearRegression())
    scores = without.predict(columns([[None, 0.0, "a"], GOOD[0]]), probabilities=False)
    assert list(scores.refused) == [0] and scores.refused[0].kind == "null"
    assert "column 'distance' row 4 is null" in scores.refused[0].message(4, "null")
    imputed = fitted(LinearRegression(), [SimpleImputer()])
    assert not imputed.predict(columns([[None, 0.0, "a"]]), probabilities=False).refused
    native = fitted(HistGradientBoostingRegressor(max_iter=5))  # takes missing values itself
    assert not native.predict(columns([[None, 0.0, "a"]]), probabilities=False).refused


def test_features_map_back_to_their_input_columns():
    inputs = ["vendor", "vendor_id", "distance"]
    assert source("numeric__distance", inputs) == "distance"
    assert source("categorical__vendor_id_7", inputs) == "vendor_id"
    assert source("categorical__vendor_2", inputs) == "vendor"
    assert source("pca0", inputs) == "pca0"


def test_trees_are_found_inside_ensembles():
    X, y = training_frame()[0][["distance"]], np.arange(200)
    assert computes_in_float32(RandomForestRegressor(n_estimators=2).fit(X, y))
    assert not computes_in_float32(LinearRegression().fit(X, y))
    assert not computes_in_float32(HistGradientBoostingRegressor(max_iter=2).fit(X, y))


@pytest.fixture
def counted(monkeypatch):
    """A forest whose predict passes are counted."""
    model = fitted(RandomForestRegressor(n_estimators=5, random_state=0), unknown="error")
    calls = []
    real = model.predict

    def predict(values, probabilities):
        calls.append(len(values[0]))
        return real(values, probabilities)

    monkeypatch.setattr(model, "predict", predict)
    return model, calls


def batch_of(model: Model, requests: list[list[list]]) -> list:
    """Submit the requests to a batcher at once; return each one's answer or error."""
    batcher = Batcher(model, wait_seconds=0.5, max_rows=1000)
    futures = [batcher.submit(Request(columns(rows), len(rows), False)) for rows in requests]
    batcher.stop()
    return [future.exception() or future.result()[0] for future in futures]


def test_a_bad_request_fails_alone_and_costs_the_good_ones_no_extra_pass(counted):
    model, calls = counted
    bad = [GOOD[0], [2.0, 5e38, "b"]]
    answers = batch_of(model, [GOOD, bad, GOOD[:1]])
    assert calls == [5]  # one pass for the three requests
    assert answers[0] == expected(model, GOOD) and answers[2] == expected(model, GOOD[:1])
    assert isinstance(answers[1], RequestError) and answers[1].status == 400
    assert "column 'small' row 1 is 5e+38" in str(answers[1]) and "float32" in str(answers[1])


def test_a_request_that_breaks_the_model_fails_alone(counted):
    model, calls = counted
    unseen = [[1.0, 0.0, "unseen"]]  # the encoder refuses unknown kinds
    answers = batch_of(model, [GOOD, unseen, GOOD[:1], unseen])
    assert calls == [5, 3]  # the failed pass, then one pass for the good requests
    assert answers[0] == expected(model, GOOD) and answers[2] == expected(model, GOOD[:1])
    assert all(isinstance(answers[n], ValueError) for n in (1, 3))
    assert not isinstance(answers[1], RequestError)
