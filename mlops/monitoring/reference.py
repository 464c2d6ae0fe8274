"""The reference data of a version's Azure ML monitor: the training rows its signals compare production
data with, as the MLTable data asset ``<model>-training:<version>`` (the type Azure's monitoring samples
use). The rows are the version's monitoring baseline (``mlops.monitoring.baseline``): the seeded sample
of its training rows, kept inside every copy of the registered MLflow model folder, so the reference is
exactly what the version was trained on. The table holds the features and the target only, as Azure's
samples' reference data does (azureml-examples cli/monitoring): the baseline's ``prediction`` column is
dropped by the MLTable, because every signal treats a reference column other than the target as a
feature (ranked by importance against the target, compared with production inputs, which have no such
column)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from mlops.monitoring import baseline


def mltable(file: str, drop: tuple[str, ...] = ()) -> str:
    """Return the MLTable file of one Parquet file beside it, without the columns ``drop``, in the form
    Azure's MLTable schema (mltable's schema/MLTable.json) accepts."""
    dropped = f"  - drop_columns: {json.dumps(list(drop))}\n" if drop else ""
    return (
        "$schema: https://azuremlschemas.azureedge.net/latest/MLTable.schema.json\n"
        "type: mltable\n"
        f"paths:\n  - file: ./{file}\n"
        f"transformations:\n  - read_parquet\n{dropped}"
    )


def write_table(model_folder: Path, out: Path, model: str, version: str) -> Path:
    """Write version ``version`` of ``model``'s reference table into the folder ``out``: the baseline
    sample of the MLflow model folder ``model_folder``, and an MLTable file describing it; return
    ``out``. The sample's bytes are copied as they are (the MLTable drops its ``prediction`` column), so
    every submission for a version uploads the same content (a data asset version cannot change)."""
    baseline.load(model_folder, f"version {version} of '{model}'", model)  # refuse a version without one
    out.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(
        Path(model_folder) / baseline.ARTIFACT_PATH / baseline.SAMPLE_FILE, out / baseline.SAMPLE_FILE
    )
    (out / "MLTable").write_text(mltable(baseline.SAMPLE_FILE, drop=(baseline.PREDICTION,)))
    return out


def data_asset(folder: Path, name: str, model: str, version: str | None) -> Any:
    """Return the MLTable data asset ``name``:``version`` that uploads the reference table in ``folder``
    (``version`` None: not known before submission)."""
    from azure.ai.ml.constants import AssetTypes
    from azure.ai.ml.entities import Data

    subject = f"{model} version {version}" if version else f"the {model} version its online endpoint serves"
    return Data(
        name=name,
        version=version,
        type=AssetTypes.MLTABLE,
        path=str(folder),
        description=f"The training rows of {subject}, which its monitor compares production data with: "
        "the version's monitoring baseline (features and target)",
    )
