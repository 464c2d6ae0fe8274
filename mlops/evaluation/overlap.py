"""Which rows a registered version trained on, so the gate compares a candidate with the champion only
on test rows neither trained on.

A candidate's test rows are new to the candidate by construction, but not to a champion trained on
another sample, seed or a larger table: its score on rows it trained on would flatter it. Each version
records a 64-bit digest of every training row (its schema columns' values, as pandas hashes them) in
``training_rows.npz`` beside its model; evaluate leaves out the test rows whose digest the champion
holds. A row equal in every column to a training row counts as seen, which is what it is to the model.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

FILE = "training_rows.npz"


def digests(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    """Return a 64-bit digest of each row of ``frame`` over ``columns``, in that order."""
    import pandas as pd

    hashed: np.ndarray = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy()
    return hashed


def write(train: pd.DataFrame, columns: list[str], folder: Path) -> None:
    """Record the digests of the training rows over ``columns`` in ``folder``."""
    import numpy as np

    np.savez_compressed(folder / FILE, columns=np.array(columns), digests=digests(train, columns))


def read(folder: Path) -> tuple[list[str], np.ndarray] | None:
    """Return the columns and training-row digests recorded in a version's model folder, or None for
    a version registered before they were recorded."""
    import numpy as np

    if not (Path(folder) / FILE).is_file():
        return None
    with np.load(Path(folder) / FILE, allow_pickle=False) as recorded:
        return recorded["columns"].tolist(), recorded["digests"]


def unseen(test: pd.DataFrame, recorded: tuple[list[str], np.ndarray]) -> np.ndarray | None:
    """Return a mask of the ``test`` rows absent from the recorded training rows, or None when the
    test rows lack a recorded column (a changed schema: they cannot be matched)."""
    import numpy as np

    columns, trained = recorded
    if not set(columns) <= set(test.columns):
        return None
    return ~np.isin(digests(test, columns), trained)
