"""What the monitor compares of each raw feature column, by its kind (``schema.<kind>``), the same for
the training baseline and for every production window: a date-time column through its hour of the day
and day of the week (``opened_at.hour``, ``opened_at.weekday``), a free-text column through its length
and number of words (``subject.length``, ``subject.words``), every other column as it is.

A date-time's own values never recur, and production's always come after training's, so they would
drift by the passage of time alone; its hour and weekday recur in every window of a week or more (a
window shorter than a week holds only some weekdays). Its calendar parts (month, year) are left out:
they drift with the date, not with the data. Nearly every text is distinct, so texts compared value by
value would all look new; their length and word count are compared as numbers."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

    from mlops.monitoring.summary import View

# the monitored columns of a kind that is not compared as itself, by their suffix (``<column>.<suffix>``)
PARTS = {"datetime": ("hour", "weekday"), "text": ("length", "words")}
# what a monitored column holds, by its suffix ({column} is the raw column)
MEANINGS = {
    "hour": "hour of the day of {column} in UTC, 0 to 23",
    "weekday": "day of the week of {column}, 0 (Monday) to 6 (Sunday)",
    "length": "number of characters in {column}",
    "words": "number of words in {column}",
}
# why a kind is compared through its parts: one sentence each, for the report
REASONS = {
    "datetime": "A date-time is monitored through its hour of the day and day of the week, since its "
    "moments never recur and production's always come after training's.",
    "text": "Free text is monitored through its statistics, its length and its number of words, since "
    "nearly every text is distinct and texts compared one by one would all look new.",
}
# what a date-time part holds for a value that is not a date-time: a text no number reads as, so that
# data quality counts it as a type error (a missing date-time gives missing parts, counted as nulls)
UNREADABLE = "not a date-time"


def columns(kinds: dict[str, str]) -> dict[str, list[str]]:
    """Return the monitored columns of each raw column of ``kinds`` (column -> kind)."""
    return {
        column: [f"{column}.{part}" for part in PARTS[kind]] if kind in PARTS else [column]
        for column, kind in kinds.items()
    }


def sources(kinds: dict[str, str]) -> dict[str, str]:
    """Return the raw column of each monitored column of ``kinds``."""
    return {name: column for column, names in columns(kinds).items() for name in names}


def monitored(kinds: dict[str, str], frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with each date-time and text column that ``kinds`` declares replaced, where it
    stood, by its monitored columns; every other column as it is."""
    import pandas as pd

    if not any(kinds.get(column) in PARTS for column in frame.columns):
        return frame
    found: dict[str, pd.Series] = {}
    for column in frame.columns:
        kind = kinds.get(column)
        if kind == "datetime":
            found |= date_parts(column, frame[column])
        elif kind == "text":
            found |= text_statistics(column, frame[column])
        else:
            found[column] = frame[column]
    return pd.DataFrame(found, index=frame.index)


def date_parts(column: str, values: pd.Series) -> dict[str, pd.Series]:
    """Return a date-time column's hour and weekday as floats (NaN for a missing date-time,
    ``UNREADABLE`` for a value that is not one), read as the model reads it (naive UTC)."""
    from mlops.models.columns import to_datetimes

    moments = to_datetimes(values)
    unreadable = moments.isna() & values.notna()
    found = {}
    for part in PARTS["datetime"]:
        numbers = getattr(moments.dt, part).astype("float64")
        found[f"{column}.{part}"] = (
            numbers.astype(object).where(~unreadable, UNREADABLE) if unreadable.any() else numbers
        )
    return found


def text_statistics(column: str, values: pd.Series) -> dict[str, pd.Series]:
    """Return a text column's length in characters and its number of words (runs of non-space
    characters) as floats, NaN for a missing text."""
    text = values.astype("string")
    return {
        f"{column}.length": text.str.len().astype("float64"),
        f"{column}.words": text.str.count(r"\S+").astype("float64"),
    }


def described(kinds: dict[str, str]) -> dict[str, View]:
    """Return, for each raw column compared through its parts, its kind, what each of its monitored
    columns holds and why (the summary's ``views``)."""
    return {
        column: {
            "kind": kind,
            "columns": {f"{column}.{part}": MEANINGS[part].format(column=column) for part in PARTS[kind]},
            "reason": REASONS[kind],
        }
        for column, kind in kinds.items()
        if kind in PARTS
    }
