"""Tests of ticket-routing's own code and config.

Run them with: nox -s "model(name='ticket-routing')"
"""

import numpy as np
import pandas as pd
import pytest

from mlops.models import catalog
from mlops.steps import evaluate, prep, train, validate

NAME = "ticket-routing"


@pytest.fixture(scope="module")
def cfg():
    """The composed config; composing it also puts the model's code/ on the import path."""
    return catalog.load_config(NAME)


@pytest.fixture(scope="module")
def split(cfg):
    return prep.run(cfg)


def test_data_matches_the_schema(cfg, split):
    validate.run(cfg, split)


def test_the_shipped_files_are_what_the_generator_makes(cfg):
    from ticket_routing.data import generate, read_tickets

    shipped = read_tickets()
    made = generate(3000, seed=7)
    assert list(shipped.columns) == list(made.columns)
    assert shipped["subject"].fillna("").tolist() == made["subject"].fillna("").tolist()
    assert shipped["queue"].tolist() == made["queue"].tolist()
    assert list(read_tickets("tickets-batch.csv").columns) == list(made.columns.drop("queue"))


def test_after_hours_marks_weekends_nights_and_counts_words(cfg):
    from ticket_routing.features import AfterHours

    frame = pd.DataFrame(
        {
            "opened_at": pd.to_datetime(["2026-03-02 10:00", "2026-03-02 18:00", "2026-03-07 12:00", None]),
            "subject": ["refund my card", None, "app crashes", "login"],
        }
    )
    added = AfterHours().fit(frame).transform(frame)
    assert added["after_hours"].tolist() == [False, True, True, pd.NA]
    assert added["subject_words"].tolist() == [3.0, 0.0, 2.0, 1.0]
    assert list(frame.columns) == ["opened_at", "subject"]  # the input is left alone


def test_misrouting_cost_weighs_each_wrong_queue():
    from ticket_routing.metrics import misrouting_cost

    assert misrouting_cost(["billing", "technical"], ["billing", "technical"]) == 0.0
    assert misrouting_cost(np.array(["technical", "account"]), ["billing", "technical"]) == 5.0
    with pytest.raises(ValueError, match="unknown queue labels: 'sales'"):
        misrouting_cost(["sales"], ["billing"])


@pytest.mark.parametrize("estimator", ["logistic_regression", "lightgbm"])
def test_pipeline_routes_tickets(estimator, split):
    chosen = catalog.load_config(NAME, [f"estimator={estimator}"])
    scores = evaluate.score(chosen, train.run(chosen, split.train), split.test)
    assert scores["f1"] > 0.75  # macro over the three queues
    assert scores["misrouting_cost"] < 1.0
