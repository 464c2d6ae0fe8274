"""Feature engineering steps for the ticket routing model."""

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

# Office hours run from 08:00 to 18:00, Monday to Friday.
OPENING_HOUR = 8
CLOSING_HOUR = 18


class AfterHours(TransformerMixin, BaseEstimator):
    """Add an after-hours flag and the subject word count to ticket data.

    The transformer is stateless: ``fit`` only records the input column
    names. ``transform`` expects a DataFrame with an ``opened_at`` column of
    datetime64 values (NaT allowed) and a ``subject`` text column (NaN
    allowed), and returns a copy with two extra columns:

    - ``after_hours`` (nullable ``boolean``): True when the ticket was opened
      on a Saturday or Sunday, before 08:00 or from 18:00; NA when
      ``opened_at`` is missing.
    - ``subject_words`` (float64): number of whitespace-separated words in
      ``subject``; 0 when the subject is missing.
    """

    def fit(self, X: pd.DataFrame, y: object = None) -> "AfterHours":
        """Record the input column names and return the transformer."""
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = len(X.columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """Return a copy of ``X`` with ``after_hours`` and ``subject_words`` added."""
        out = X.copy()
        opened = X["opened_at"]
        hour = opened.dt.hour
        # NaT gives NaN parts, which compare False; the mask then sets NA.
        after_hours = (opened.dt.day_of_week >= 5) | (hour < OPENING_HOUR) | (hour >= CLOSING_HOUR)
        out["after_hours"] = after_hours.astype("boolean").mask(opened.isna())
        out["subject_words"] = (
            X["subject"].map(lambda text: len(text.split()) if isinstance(text, str) else 0).astype("float64")
        )
        return out

    def get_feature_names_out(self, input_features: object = None) -> np.ndarray:
        """Return the input column names followed by the two added ones."""
        if input_features is None:
            check_is_fitted(self, "feature_names_in_")
            input_features = self.feature_names_in_
        names = [*input_features, "after_hours", "subject_words"]
        return np.asarray(names, dtype=object)
