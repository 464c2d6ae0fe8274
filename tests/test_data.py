"""Shared data sources and the data fingerprint."""

import pandas as pd
import pytest

from mlops.core.errors import MlopsError
from mlops.models import data


def test_read_table_reads_csv_and_parquet(tmp_path):
    frame = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    frame.to_csv(tmp_path / "t.csv", index=False)
    frame.to_parquet(tmp_path / "t.parquet")
    from_csv = data.read_table(str(tmp_path / "t.csv"))
    assert from_csv.index.name == "line" and from_csv.index.tolist() == [2, 3]  # the file's lines
    pd.testing.assert_frame_equal(from_csv.reset_index(drop=True), frame)
    pd.testing.assert_frame_equal(data.read_table(str(tmp_path / "t.parquet")), frame)


def test_read_table_errors_name_the_file_and_the_fix(tmp_path):
    with pytest.raises(MlopsError, match=r"t\.csv does not exist; check data\.path"):
        data.read_table(str(tmp_path / "t.csv"))
    with pytest.raises(MlopsError, match=r"t\.xlsx is neither CSV nor Parquet"):
        data.read_table(str(tmp_path / "t.xlsx"))


def test_sklearn_dataset_is_one_table_with_the_named_target():
    frame = data.load_sklearn_dataset("load_breast_cancer", target="diagnosis")
    assert frame.shape == (569, 31)
    assert set(frame["diagnosis"]) == {0, 1}
    with pytest.raises(MlopsError, match="'fetch_covtype' is not a loader"):
        data.load_sklearn_dataset("fetch_covtype")


def test_fingerprint_is_stable_and_sensitive_to_values_columns_and_types():
    frame = pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]})
    base = data.fingerprint(frame)
    assert base == data.fingerprint(frame.copy())
    assert len(base) == 64
    assert base != data.fingerprint(frame.assign(a=[1, 2, 4]))
    assert base != data.fingerprint(frame.rename(columns={"a": "c"}))
    assert base != data.fingerprint(frame.astype({"a": "float64"}))
