"""The framework's transformers for the column kinds that scikit-learn has no step for: free text,
dates and times, and booleans (see ``mlops/conf/preprocessing``).

A model that uses one of them carries this module with it (the MLflow model folder's ``code/``), so a
registered version loads where the framework is not installed. It therefore imports nothing but NumPy,
pandas and scikit-learn, and each class keeps only NumPy arrays and scikit-learn objects as state (what
the safe skops format stores).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

PARTS = ("year", "month", "day", "weekday", "hour", "minute")  # what DatetimeParts takes by default
ALLOWED_PARTS = ("year", "month", "day", "weekday", "dayofyear", "hour", "minute", "second")
ZONE = r"\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s?(?:Z|[+-]\d{2}(?::?\d{2})?)$"  # a time, then its offset from UTC
BOOLEAN_WORDS = {"true": True, "false": False, "1": True, "0": False, "1.0": True, "0.0": False}


def as_frame(values: Any, names: Any) -> pd.DataFrame:
    """Return 2-D input as a DataFrame, its columns named from the input or by ``names``."""
    if isinstance(values, pd.DataFrame):
        return values
    if isinstance(values, pd.Series):
        return values.to_frame()
    array = np.asarray(values, dtype=object)
    array = array.reshape(-1, 1) if array.ndim == 1 else array
    return pd.DataFrame(array, columns=list(names) if names is not None else None)


def to_datetimes(values: pd.Series) -> pd.Series:
    """Return a column of dates as naive UTC datetimes: ISO 8601 text, datetimes and dates are read, a
    time zone is converted to UTC and dropped, a missing or unreadable value is NaT. Text with a zone
    and text without one are read apart, so one never lends its offset to the other."""
    if isinstance(values.dtype, pd.DatetimeTZDtype):
        return values.dt.tz_convert("UTC").dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(values):
        return values
    zoned = values.astype("string").str.contains(ZONE, regex=True, na=False).to_numpy(dtype=bool)
    found = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    for rows in (zoned, ~zoned):
        if rows.any():  # a text without a zone is read as UTC
            moments = pd.to_datetime(values[rows], errors="coerce", utc=True, format="ISO8601")
            found[rows] = moments.dt.tz_localize(None)
    return found


def to_booleans(values: pd.Series) -> pd.Series:
    """Return a column of truth values as pandas' nullable booleans: booleans, 1 and 0, and the words
    true and false in any case are read; a missing or unreadable value is NA."""
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean")
    words = values.astype("string").str.strip().str.lower()
    return words.map(BOOLEAN_WORDS).astype("boolean")


# how the framework reads each signature type that JSON and CSV carry as text: every path (training
# data, requests, batch files, the monitor) reads them alike
READERS = {"datetime": to_datetimes, "boolean": to_booleans}


class Fitted(TransformerMixin, BaseEstimator):  # type: ignore[misc]  # scikit-learn ships no types
    """What the kind transformers share: the input columns' names, kept at fit."""

    def remember(self, frame: pd.DataFrame) -> None:
        """Keep the input columns' names and count."""
        self.feature_names_in_ = np.asarray([str(column) for column in frame.columns], dtype=object)
        self.n_features_in_ = len(frame.columns)

    def frame(self, values: Any) -> pd.DataFrame:
        """Return transform input as a DataFrame of the columns seen at fit."""
        check_is_fitted(self)
        return as_frame(values, self.feature_names_in_)


class DatetimeParts(Fitted):
    """Turn each date-time column into its calendar and clock parts (``pickup_hour``...) as numbers;
    a missing date gives NaN parts, for an imputer after this step to fill."""

    def __init__(self, parts: tuple[str, ...] | list[str] = PARTS):
        self.parts = parts

    def fit(self, values: Any, y: Any = None) -> DatetimeParts:
        """Check the parts and remember the columns."""
        unknown = [part for part in self.parts if part not in ALLOWED_PARTS]
        if unknown or not self.parts:
            raise ValueError(
                f"DatetimeParts parts {list(self.parts)} are not allowed; pick from "
                f"{', '.join(ALLOWED_PARTS)}"
            )
        self.remember(as_frame(values, None))
        return self

    def transform(self, values: Any) -> np.ndarray:
        """Return every column's parts, column by column, as floats."""
        frame = self.frame(values)
        found = []
        for column in frame.columns:
            when = to_datetimes(frame[column]).dt
            found += [getattr(when, part) for part in self.parts]  # weekday: Monday is 0
        return np.column_stack([np.asarray(part, dtype="float64") for part in found])

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return ``<column>_<part>`` for every column and part."""
        check_is_fitted(self)
        return np.asarray(
            [f"{column}_{part}" for column in self.feature_names_in_ for part in self.parts], dtype=object
        )


class PerColumn(Fitted):
    """A transformer that turns each input column into one number column of the same name (``read``)."""

    def fit(self, values: Any, y: Any = None) -> PerColumn:
        """Remember the columns."""
        self.remember(as_frame(values, None))
        return self

    def transform(self, values: Any) -> np.ndarray:
        """Return each column read as floats, side by side."""
        frame = self.frame(values)
        return np.column_stack([np.asarray(self.read(frame[column]), dtype="float64") for column in frame])

    def read(self, values: pd.Series) -> pd.Series:
        """Return one column as numbers (NaN where missing)."""
        raise NotImplementedError

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return the input columns' names."""
        check_is_fitted(self)
        return np.asarray(self.feature_names_in_, dtype=object)


class Epoch(PerColumn):
    """Turn each date-time column into one number: seconds since 1970-01-01 UTC (NaN when missing)."""

    def read(self, values: pd.Series) -> pd.Series:
        """Return a column's seconds since the epoch."""
        return (to_datetimes(values) - pd.Timestamp("1970-01-01")).dt.total_seconds()


class Boolean(PerColumn):
    """Turn each boolean column into 1.0 (true) and 0.0 (false); a missing value is NaN. True and false
    may come as booleans, 1 and 0, or the words true and false in any case."""

    def read(self, values: pd.Series) -> pd.Series:
        """Return a column as 1.0, 0.0 or NaN."""
        return to_booleans(values).astype("float64")


class Text(Fitted):
    """Turn each free-text column into TF-IDF weights of its words (one vocabulary per column); a
    missing text counts as empty. The limits keep a model small: at most ``max_features`` terms per
    column, each in at least ``min_df`` training rows."""

    def __init__(
        self,
        max_features: int = 500,
        min_df: int | float = 2,
        ngram_range: tuple[int, int] | list[int] = (1, 1),
        lowercase: bool = True,
        sublinear_tf: bool = True,
    ):
        self.max_features = max_features
        self.min_df = min_df
        self.ngram_range = ngram_range
        self.lowercase = lowercase
        self.sublinear_tf = sublinear_tf

    def texts(self, values: pd.Series) -> list[str]:
        """Return a column's values as strings, a missing one as empty."""
        return [
            "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
            for value in values
        ]

    def fit(self, values: Any, y: Any = None) -> Text:
        """Learn each column's vocabulary and term weights."""
        frame = as_frame(values, None)
        self.remember(frame)
        self.vectorizers_ = []
        for column in frame.columns:
            vectorizer = TfidfVectorizer(
                max_features=self.max_features,
                min_df=self.min_df,
                ngram_range=tuple(self.ngram_range),
                lowercase=self.lowercase,
                sublinear_tf=self.sublinear_tf,
                dtype=np.float64,
            )
            try:
                vectorizer.fit(self.texts(frame[column]))
            except ValueError as error:  # "empty vocabulary": no term in min_df rows
                raise ValueError(
                    f"text column '{column}': {error}; lower min_df or check the column"
                ) from None
            self.vectorizers_.append(vectorizer)
        return self

    def transform(self, values: Any) -> Any:
        """Return the TF-IDF weights of every column side by side, as a sparse matrix."""
        from scipy import sparse

        frame = self.frame(values)
        return sparse.hstack(
            [
                vectorizer.transform(self.texts(frame[column]))
                for column, vectorizer in zip(frame.columns, self.vectorizers_, strict=True)
            ],
            format="csr",
        )

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """Return ``<column>_<term>`` for every column's terms."""
        check_is_fitted(self)
        return np.asarray(
            [
                f"{column}_{term}"
                for column, vectorizer in zip(self.feature_names_in_, self.vectorizers_, strict=True)
                for term in vectorizer.get_feature_names_out()
            ],
            dtype=object,
        )
