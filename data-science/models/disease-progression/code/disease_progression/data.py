"""The data hook of disease-progression: ``config/data/diabetes.yaml`` names ``read``.

``data/diabetes.csv`` holds the 442 patients of the diabetes study of Efron, Hastie, Johnstone and
Tibshirani (2004, "Least Angle Regression", Annals of Statistics), as scikit-learn ships them
(``sklearn.datasets.load_diabetes(scaled=False)``, BSD-3-Clause), with readable column names; ``export``
wrote it, and a test checks it still equals scikit-learn's copy. ``data/diabetes-batch.csv`` is a seeded
sample of 120 of them without the target, for ``mlops batch`` and ``mlops monitor``.
"""

from pathlib import Path

import pandas as pd

DATA = Path(__file__).resolve().parents[2] / "data"
# scikit-learn's names (s1..s6 are the six blood serum measurements) and the names used here
COLUMNS = {
    "age": "age",
    "sex": "sex",
    "bmi": "bmi",
    "bp": "blood_pressure",
    "s1": "total_cholesterol",
    "s2": "ldl",
    "s3": "hdl",
    "s4": "cholesterol_ratio",
    "s5": "log_triglycerides",
    "s6": "glucose",
    "target": "progression",
}


def read(file: str = "diabetes.csv") -> pd.DataFrame:
    """Return a CSV file of the model's ``data/`` folder."""
    return pd.read_csv(DATA / file)


def export() -> pd.DataFrame:
    """Return scikit-learn's copy of the data as ``data/diabetes.csv`` holds it (age and sex as integers)."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(scaled=False, as_frame=True).frame.rename(columns=COLUMNS)
    return frame.astype({"age": "int64", "sex": "int64"})
