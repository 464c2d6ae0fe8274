"""Scoring a table of rows outside a request: the monitor's production windows. Each feature is
converted to its training type as ``mlops batch`` does, and a row that does not convert gets no
prediction."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig


class Scorer:
    """Predict rows with the model in ``folder`` (a logged MLflow model folder), loaded on first use,
    each feature converted to its training type as ``mlops batch`` does; a row that does not convert
    gets no prediction. Counts the rows it scored."""

    def __init__(self, cfg: DictConfig, folder: Path, described: str, features: list[str]):
        self.cfg = cfg
        self.folder = folder
        self.described = described
        self.features = features
        self.pipeline: Any = None
        self.types: dict[str, str] = {}
        self.scored = 0

    def load(self) -> Any:
        """Return the model's pipeline, loaded (with its input types) on first use."""
        from mlops.models import catalog
        from mlops.registry import modelio
        from mlops.scoring import reading

        if self.pipeline is None:
            self.pipeline = modelio.load(self.folder, catalog.trusted(self.cfg), self.cfg.name)
            self.types = reading.input_types(str(self.folder), self.features, self.described)
        return self.pipeline

    def readable(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Return the rows whose features convert to their training types, converted."""
        from mlops.scoring import reading

        self.load()
        return reading.clean(rows, self.types, "production data", is_csv=False)[0]

    def __call__(self, rows: pd.DataFrame) -> Any:
        import pandas as pd

        from mlops.core.errors import first_line

        good = self.readable(rows)
        try:
            predicted = self.pipeline.predict(good) if len(good) else []
        except ValueError as error:
            raise MlopsError(
                f"cannot score production rows with {self.described}: {first_line(error)}"
            ) from None
        self.scored += len(good)
        return pd.Series(predicted, index=good.index).reindex(rows.index).to_numpy()

    def probabilities(self, rows: pd.DataFrame) -> Any:
        """Return the class probabilities (rows x classes) of the rows that convert."""
        import numpy as np

        good = self.readable(rows[self.features])
        if not len(good):
            return np.empty((0, len(self.pipeline.classes_)))
        return self.pipeline.predict_proba(good)
