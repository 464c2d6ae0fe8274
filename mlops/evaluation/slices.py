"""Slices: named groups of test rows (``evaluation.slices``) on which the candidate is compared with
the champion on its own, so a version better on average cannot hide that it got worse for one group.

A slice is a pandas query over the columns of the test rows other than the target: the features
(``distance > 10``, ``vendor == 2``) and any other column the data holds (a region, a customer
tier). Its primary metric and the paired interval of the improvement are computed for candidate and
champion on the compared test rows it holds. A slice is gated when it holds at least ``min_rows`` of
them: the gate rejects a candidate whose improvement on it is below ``-tolerance`` (worse by more than the
tolerance, in the metric's own units). Smaller slices, slices where the metric is undefined (one
class only) and every slice of a model with no champion yet are reported, not gated.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    from omegaconf import DictConfig

    from mlops.evaluation.metrics import Outputs

MIN_ROWS = 50  # a slice's min_rows when it sets none: fewer compared rows are reported, not gated
TOLERANCE = 0.0  # a slice's tolerance when it sets none: any worsening of its estimate rejects
STATUSES = ("ok", "worse", "too few rows", "undefined", "no champion")


class JudgedSlice(TypedDict):
    """One declared slice as the evaluation holds it: its declaration, its compared rows, the primary
    metric of the candidate and the champion on them, the interval of the improvement, whether the
    gate weighs it and its status (one of ``STATUSES``)."""

    name: str
    query: str
    min_rows: int
    tolerance: float
    rows: int
    candidate: float | None
    champion: float | None
    interval: dict[str, Any] | None  # an Interval's fields
    gated: bool
    status: str


@dataclass(frozen=True)
class Slice:
    """One declared slice: its name, query, fewest rows to be gated, and tolerated worsening."""

    name: str
    query: str
    min_rows: int = MIN_ROWS
    tolerance: float = TOLERANCE

    def mask(self, features: pd.DataFrame) -> np.ndarray:
        """Return which rows of ``features`` the slice holds; raise naming the slice when its query
        cannot be evaluated on them or does not give one true or false per row."""
        import numpy as np
        import pandas as pd

        where = f"evaluation.slices.{self.name}.query '{self.query}'"
        try:
            found = features.eval(self.query, engine="python")
        except Exception as error:  # pandas raises many kinds for a bad expression
            message = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise MlopsError(
                f"{where} cannot be evaluated: {message}; a query may use the columns "
                f"{', '.join(features.columns)} (quote a name with spaces in backticks)"
            ) from None
        if not isinstance(found, pd.Series) or not pd.api.types.is_bool_dtype(found):
            raise MlopsError(
                f"{where} does not give true or false for each row; write a condition, e.g. "
                f"'{features.columns[0]} > 0'"
            )
        return np.asarray(found.fillna(False), dtype=bool)  # a missing value is not in the slice


def declared(cfg: DictConfig) -> list[Slice]:
    """Return the slices ``cfg.evaluation.slices`` declares (name: {query, min_rows, tolerance}),
    raising naming the key when one is malformed."""
    found = []
    for name, spec in (cfg.evaluation.get("slices") or {}).items():
        key = f"evaluation.slices.{name}"
        if not isinstance(spec, Mapping):
            raise MlopsError(f"{key} must be a mapping with a query, e.g. {{query: 'distance > 10'}}")
        unknown = sorted(set(spec) - {"query", "min_rows", "tolerance"})
        if unknown:
            raise MlopsError(
                f"{key} has unknown keys {', '.join(unknown)}; allowed: query, min_rows, tolerance"
            )
        query, min_rows, tolerance = spec.get("query"), spec.get("min_rows", MIN_ROWS), spec.get("tolerance")
        if not isinstance(query, str) or not query.strip():
            raise MlopsError(f"{key}.query is {query!r}; write a pandas query over the data's columns")
        if type(min_rows) is not int or min_rows < 1:
            raise MlopsError(f"{key}.min_rows is {min_rows!r}; it must be a whole number of at least 1")
        tolerance = TOLERANCE if tolerance is None else tolerance
        number = isinstance(tolerance, int | float) and not isinstance(tolerance, bool)
        if not number or not 0 <= tolerance < math.inf:
            raise MlopsError(f"{key}.tolerance is {tolerance!r}; it must be a number of at least 0")
        found.append(Slice(str(name), query, min_rows, float(tolerance)))
    return found


def check(cfg: DictConfig, features: pd.DataFrame) -> None:
    """Raise naming the slice when a declared query cannot be evaluated on ``features`` (the test rows
    without the target)."""
    for declared_slice in declared(cfg):
        declared_slice.mask(features)


def judge(
    cfg: DictConfig,
    features: pd.DataFrame,
    target: np.ndarray,
    candidate: Outputs,
    champion: Outputs | None,
) -> list[JudgedSlice]:
    """Return each declared slice's rows, primary metric for candidate and champion, interval of the
    improvement, whether it is gated and its status (one of ``STATUSES``), as JSON-ready fields."""
    import warnings

    from mlops.evaluation import metrics, uncertainty

    metric = cfg.evaluation.primary_metric
    chosen = metrics.suite(cfg)
    judged = []
    for declared_slice in declared(cfg):
        rows = declared_slice.mask(features).nonzero()[0]
        found: JudgedSlice = {
            "name": declared_slice.name,
            "query": declared_slice.query,
            "min_rows": declared_slice.min_rows,
            "tolerance": declared_slice.tolerance,
            "rows": len(rows),
            "candidate": None,
            "champion": None,
            "interval": None,
            "gated": False,
            "status": "",  # set below
        }
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # an undefined metric is reported as such below
            if len(rows):
                found["candidate"] = metrics.finite(
                    metrics.measure(chosen, metric, candidate.take(rows), target[rows])
                )
            if champion is not None and len(rows):
                found["champion"] = metrics.finite(
                    metrics.measure(chosen, metric, champion.take(rows), target[rows])
                )
        if champion is None:
            found["status"] = "no champion"
        elif len(rows) < declared_slice.min_rows:
            found["status"] = "too few rows"
        elif found["candidate"] is None or found["champion"] is None:
            found["status"] = "undefined"
        else:
            interval = uncertainty.of(cfg, target[rows], candidate.take(rows), champion.take(rows))
            found["interval"] = interval.as_dict()
            found["gated"] = True
            found["status"] = "worse" if interval.estimate < -declared_slice.tolerance else "ok"
        judged.append(found)
    return judged
