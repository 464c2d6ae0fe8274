"""Save and load a fitted pipeline as an MLflow model folder in the safe skops format."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.registry import trust

if TYPE_CHECKING:
    from sklearn.pipeline import Pipeline


def save_options(pipeline: Pipeline, trusted_extra: Iterable[str], model: str) -> dict[str, Any]:
    """Return the keyword arguments that make ``mlflow.sklearn`` save ``pipeline`` with skops,
    trusting exactly the types it holds."""
    return {
        "serialization_format": "skops",
        "skops_trusted_types": trust.needed_types(pipeline, trusted_extra, model),
    }


def save(pipeline: Pipeline, folder: Path, trusted_extra: Iterable[str], model: str) -> None:
    """Write ``pipeline`` as an MLflow model folder (the hand-off between train and evaluate)."""
    import mlflow.sklearn

    mlflow.sklearn.save_model(pipeline, str(folder), **save_options(pipeline, trusted_extra, model))


def load(folder: Path, trusted_extra: Iterable[str], model: str) -> Pipeline:
    """Load the pipeline of an MLflow sklearn model folder after checking the types its MLmodel
    file asks to trust against the same allow-list used when saving."""
    import skops.io
    from mlflow.models import Model

    folder = Path(folder)
    if not (folder / "MLmodel").is_file():
        raise MlopsError(f"{folder} is not an MLflow model folder (no MLmodel file)")
    flavor = Model.load(str(folder / "MLmodel")).flavors.get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise MlopsError(
            f"{folder} was not saved in the skops format; only skops models are loaded (no pickle)"
        )
    trusted = trust.check(flavor.get("skops_trusted_types") or [], trusted_extra, model)
    return skops.io.load(folder / flavor["pickled_model"], trusted=trusted)


def model_file(folder: Path) -> Path:
    """Return the file of an MLflow sklearn model folder that holds the fitted pipeline."""
    from mlflow.models import Model

    pickled: str = Model.load(str(Path(folder) / "MLmodel")).flavors["sklearn"]["pickled_model"]
    return Path(folder) / pickled


def find(path: Path) -> Path:
    """Return the MLflow model folder at ``path``: the folder itself when it holds an MLmodel file,
    else the one folder below it that does (a download may nest the model a level or two down)."""
    path = Path(path)
    if (path / "MLmodel").is_file():
        return path
    found = sorted(item.parent for item in path.rglob("MLmodel")) if path.is_dir() else []
    if len(found) != 1:
        what = "no MLmodel file" if not found else f"{len(found)} MLmodel files"
        raise MlopsError(f"{path} holds {what}; pass the folder of one MLflow model")
    return found[0]
