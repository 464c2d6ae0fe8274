"""The monitor's Spark preprocessing as Azure runs it, offline: a virtual environment with the pyspark of
Azure's serverless Spark runtime 3.4 (Apache Spark 3.4.1) and Azure's own MLTable reader (mltable) and
nothing of the framework; the rendered component's entry file run as spark-submit runs it (as __main__,
with the options its args bind, in the job's one Spark session, here local[1]) on bring-your-own files of
every format; what it writes read back with ``mltable.load``, as Azure's monitor reads its input. The
reference table of a version (mlops/monitoring/reference.py) is read back the same way.

Spark's JVM takes seconds to start and its first job more, so the module runs every case in one Spark
session and every read in one mltable process.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from azure_runtime import build_venv, model_with_baseline

from mlops.azureml import render
from mlops.monitoring import baseline, reference

pytestmark = pytest.mark.azure_runtime

# Azure's serverless Spark runtime 3.4 runs Apache Spark 3.4.1; mltable is Azure's MLTable reader
PACKAGES = ["mltable==1.7.0", "pandas==2.3.3"]
# PyPI has pyspark 3.4.1 only as a source archive: uv's cache would keep a new ~1 GB build of it per
# run, so it is installed past the cache (a 300 MB download that leaves nothing behind)
SPARK = "pyspark==3.4.1"
START, END = "2026-11-10T00:00:00Z", "2026-11-20T00:00:00Z"
# runs the entry as spark-submit runs a Python file, once per argument list, in one Spark session
SPARK_SUBMIT = """
import json, runpy, sys
entry, runs, out, results = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3], []
for argv in runs:
    sys.argv = [entry, *argv]
    try:
        runpy.run_path(entry, run_name="__main__")
        results.append({"code": 0, "message": ""})
    except SystemExit as stop:
        results.append({"code": stop.code if isinstance(stop.code, int) else 1, "message": str(stop.code)})
with open(out, "w") as file:
    json.dump(results, file)
"""
# reads each MLTable folder with Azure's reader and writes its rows as Parquet for the test to compare
READ_MLTABLE = """
import sys, mltable
for folder, out in zip(sys.argv[1::2], sys.argv[2::2]):
    mltable.load(folder).to_pandas_dataframe().to_parquet(out)
"""


@pytest.fixture(scope="module")
def python(tmp_path_factory) -> Path:
    """The interpreter of a virtual environment holding only ``SPARK`` and ``PACKAGES``."""
    return build_venv(PACKAGES, tmp_path_factory.mktemp("env") / "spark", uncached=(SPARK,)) / "python"


@pytest.fixture(scope="module")
def component(tmp_path_factory) -> dict:
    """taxi-fare's preprocessing component as rendered for dev."""
    folder = tmp_path_factory.mktemp("rendered")
    render.render("taxi-fare", "dev", folder, version="3")
    return yaml.safe_load((folder / "components" / "monitor_preprocess.yml").read_text())


def production_files(folder: Path) -> dict[int, pd.Timestamp]:
    """Write bring-your-own files of every format, nested, with rows inside and outside the window
    [START, END) and times written every way; return the ids of the rows inside with their times."""
    (folder / "exports" / "late").mkdir(parents=True)
    pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "distance": [1.0, 2.0, 3.0, 4.0],
            "vendor": [1, 2, 1, 2],
            "timestamp": ["2026-11-09T23:59:59Z", "2026-11-10T00:00:00", "2026-11-15T12:00:00+02:00", END],
        }
    ).to_csv(folder / "exports" / "day.csv", index=False)
    lines = [
        {"id": 5, "distance": 5.0, "vendor": 1, "prediction": 9.5, "timestamp": "2026-11-12T01:00:00.5Z"},
        {
            "id": 6,
            "distance": 6.0,
            "vendor": 2,
            "prediction": 12.0,
            "timestamp": "2026-11-19T23:59:59.999999",
        },
        {"id": 7, "distance": 7.0, "vendor": 1, "prediction": 14.0, "timestamp": "2026-12-01T00:00:00Z"},
    ]
    text = "".join(json.dumps(line) + "\n" for line in lines) + '{"id": 99, "cut short\n'
    (folder / "exports" / "late" / "rows.jsonl").write_text(text)
    naive = pd.to_datetime(["2026-11-19T23:00:00", "2026-11-01T00:00:00"]).astype("datetime64[ns]")
    pd.DataFrame({"id": [8, 9], "distance": [8.0, 9.0], "vendor": [2, 2], "timestamp": naive}).to_parquet(
        folder / "exports" / "late" / "naive.parquet"
    )
    aware = pd.to_datetime(["2026-11-11T11:11:11Z"]).astype("datetime64[ns, UTC]")
    pd.DataFrame({"id": [10], "distance": [10.0], "vendor": [1], "timestamp": aware}).to_parquet(
        folder / "aware.parquet"
    )
    (folder / "README.txt").write_text("not data")
    (folder / "exports" / "_SUCCESS").write_text("")
    inside = {2: "2026-11-10T00:00:00", 3: "2026-11-15T10:00:00", 5: "2026-11-12T01:00:00.5"}
    inside |= {6: "2026-11-19T23:59:59.999999", 8: "2026-11-19T23:00:00", 10: "2026-11-11T11:11:11"}
    return {key: pd.Timestamp(value, tz="UTC") for key, value in inside.items()}


def spark_submit(python: Path, component: dict, runs: list[dict[str, str]], folder: Path) -> list[dict]:
    """Run the component's entry once per run (the values of its inputs and outputs), as the Spark job
    runs it: the file from the code folder, the args with their bindings filled; return each run's
    exit code and message."""
    entry = Path(component["code"]) / component["entry"]["file"]
    argvs = []
    for values in runs:
        args = component["args"]
        for name, value in values.items():
            args = args.replace(f"${{{{{name}}}}}", value)
        argvs.append(shlex.split(args))
    environment = {
        **os.environ,
        "PYSPARK_SUBMIT_ARGS": "--master local[1] pyspark-shell",
        "PYSPARK_PYTHON": str(python),
        "SPARK_LOCAL_IP": "127.0.0.1",
    }
    results = folder / "results.json"
    done = subprocess.run(
        [str(python), "-c", SPARK_SUBMIT, str(entry), json.dumps(argvs), str(results)],
        cwd=folder,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(results.read_text())


def read_mltables(python: Path, folders: list[Path]) -> list[pd.DataFrame]:
    """Read each MLTable folder with mltable.load(...).to_pandas_dataframe()."""
    outs = [folder.with_name(f"{folder.name}.parquet") for folder in folders]
    pairs = [str(path) for pair in zip(folders, outs, strict=True) for path in pair]
    done = subprocess.run(
        [str(python), "-c", READ_MLTABLE, *pairs], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [pd.read_parquet(out) for out in outs]


def test_the_preprocessing_keeps_the_rows_of_the_window_as_a_table_and_refuses_an_empty_one(
    python, component, tmp_path
):
    expected = production_files(tmp_path / "in")
    window = {"inputs.data_window_start": START, "inputs.data_window_end": END}
    runs = [
        {
            **window,
            "inputs.input_data": str(tmp_path / "in"),
            "outputs.preprocessed_input_data": str(tmp_path / "out"),
        },
        {
            "inputs.data_window_start": "2027-01-01T00:00:00Z",
            "inputs.data_window_end": "2027-01-02T00:00:00Z",
            "inputs.input_data": str(tmp_path / "in"),
            "outputs.preprocessed_input_data": str(tmp_path / "none"),
        },
    ]
    kept, empty = spark_submit(python, component, runs, tmp_path)
    assert kept == {"code": 0, "message": ""}
    assert empty["code"] == 1
    assert empty["message"] == (
        "monitor_preprocess: the window 2027-01-01T00:00:00Z to 2027-01-02T00:00:00Z holds no rows of "
        f"{tmp_path / 'in'} (10 rows read, 10 with a 'timestamp' time, the newest at 2026-12-01T00:00:00Z)"
    )
    (table,) = read_mltables(python, [tmp_path / "out"])
    table = table.sort_values("id").reset_index(drop=True)
    assert set(table.columns) == {"id", "distance", "vendor", "prediction", "timestamp"}
    assert dict(zip(table["id"], table["timestamp"], strict=True)) == expected
    assert table["distance"].tolist() == [float(key) for key in sorted(expected)]
    assert table["prediction"].tolist()[2:4] == [9.5, 12.0] and table["prediction"].isna().sum() == 4


def test_the_reference_table_reads_back_as_the_versions_baseline(python, tmp_path):
    model = model_with_baseline(tmp_path / "model")
    sample = baseline.read(model / baseline.ARTIFACT_PATH).sample
    folder = reference.write_table(tmp_path / "model", tmp_path / "reference", "taxi-fare", "7")
    (table,) = read_mltables(python, [folder])
    pd.testing.assert_frame_equal(table, sample.drop(columns=baseline.PREDICTION))  # features and target
