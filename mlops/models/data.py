"""Data sources a model's config can name with ``_target_``, and the fingerprint of a table."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    import pandas as pd

TABLE_SUFFIXES = (".csv", ".parquet")
LINE = "line"  # the index of a table read from CSV: each row's line in the file


def read_table(path: str) -> pd.DataFrame:
    """Read a CSV or Parquet file; a relative path is read from the working directory. A CSV file's
    rows are indexed by their line in the file (``line``: 2 for the first row after the header)."""
    import pandas as pd

    file = Path(path).expanduser()
    if file.suffix.lower() not in TABLE_SUFFIXES:
        raise MlopsError(f"data file {file} is neither CSV nor Parquet; use a .csv or .parquet file")
    if not file.is_file():
        raise MlopsError(f"data file {file} does not exist; check data.path")
    if file.suffix.lower() == ".csv":
        frame = pd.read_csv(file)
        # each row keeps the file line it came from (the header is line 1), so errors name it
        frame.index = pd.RangeIndex(2, len(frame) + 2, name=LINE)
        return frame
    return pd.read_parquet(file)


def load_sklearn_dataset(name: str, target: str = "target") -> pd.DataFrame:
    """Load a data set that scikit-learn ships (``sklearn.datasets.<name>``) as one table."""
    from sklearn import datasets

    loader = getattr(datasets, name, None)
    if not name.startswith("load_") or loader is None:
        raise MlopsError(
            f"data.name '{name}' is not a loader in sklearn.datasets (for example load_breast_cancer)"
        )
    bunch = loader(as_frame=True)
    return bunch.frame.rename(columns={bunch.target.name: target})


def fingerprint(frame: pd.DataFrame) -> str:
    """Return a SHA-256 of a table's column names, dtypes and values (row order matters)."""
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(column), str(dtype)) for column, dtype in frame.dtypes.items()]).encode())
    digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()
