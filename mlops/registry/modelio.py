"""Save and load a fitted pipeline as an MLflow model folder in the safe skops format, with the model's
own code beside it (the folder's ``code/``), so a version loads where only its requirements are
installed."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from mlops.core.errors import MlopsError
from mlops.registry import trust

CODE = "code"  # the MLflow model folder's copy of the model's code (MLflow's code_paths)
FRAMEWORK = "mlops"  # the framework's own package, of which a model carries the column transformers only
# what of the framework a model using its column transformers or the trainer route carries: modules that
# import NumPy, pandas, scikit-learn and, lazily, the booster libraries only
CARRIED = (
    "__init__.py",
    "models/__init__.py",
    "models/columns.py",
    "models/trained.py",
    "models/boosters.py",
)
# MLflow's loader_module of a trainer-route version, named, not imported: registry sits below models
LOADER = "mlops.models.trained"
DATA = "model"  # the data folder of a trainer-route version
MANIFEST = "trained.json"  # the data folder's record of the model's class (mlops.models.trained.MANIFEST)


def packages(code: Path | None) -> list[str]:
    """Return the importable names of a ``code/`` folder: its packages and modules, not the framework."""
    if code is None or not code.is_dir():
        return []
    found = [
        path.stem
        for path in code.iterdir()
        if (path.is_dir() and (path / "__init__.py").is_file()) or (path.suffix == ".py" and path.is_file())
    ]
    return sorted(name for name in found if name != FRAMEWORK)


def stage(code: Path | None, types: list[str], into: Path) -> list[str]:
    """Copy into ``into`` what the saved model needs beside it: every package of the model's ``code``
    folder and, when the model holds (``types``) a class of the framework, the framework's few files a
    model imports (``CARRIED``); return the paths for MLflow's ``code_paths``."""
    staged = []
    for name in packages(code):
        assert code is not None  # packages() found some
        source = code / name if (code / name).is_dir() else code / f"{name}.py"
        copy(source, into / source.name)
        staged.append(str(into / source.name))
    if any(name.startswith(f"{FRAMEWORK}.") for name in types):
        framework = Path(__file__).resolve().parents[1]
        for part in CARRIED:
            (into / FRAMEWORK / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(framework / part, into / FRAMEWORK / part)
        staged.append(str(into / FRAMEWORK))
    return staged


def copy(source: Path, target: Path) -> None:
    """Copy a file or a folder's files (no caches, no hidden files) as new files, so they take the
    process's umask, not the source's mode: a version's files are as private as the rest of the state."""
    if source.is_file():
        shutil.copyfile(source, target)
        return
    target.mkdir()
    for child in sorted(source.iterdir()):
        if child.name != "__pycache__" and child.suffix != ".pyc" and not child.name.startswith("."):
            copy(child, target / child.name)


def save(
    pipeline: Any,
    folder: Path,
    trusted_extra: Iterable[str],
    model: str,
    code: Path | None = None,
    **options: Any,
) -> None:
    """Write ``pipeline`` as an MLflow model folder with the model's ``code`` folder's packages in the
    folder's ``code/``: a scikit-learn pipeline in the skops format, trusting exactly the types it holds,
    a model of the trainer route (one ``LOADER`` reads) in its own format (``save_trained``); ``options``
    go to MLflow's ``save_model`` (signature, input example, requirements)."""
    import mlflow.sklearn

    if getattr(pipeline, "LOADER", None) == LOADER:
        save_trained(pipeline, folder, trusted_extra, model, code, **options)
        return
    types = trust.needed_types(pipeline, trusted_extra, model, packages(code))
    with tempfile.TemporaryDirectory() as temporary:
        mlflow.sklearn.save_model(
            pipeline,
            str(folder),
            serialization_format="skops",
            skops_trusted_types=types,
            code_paths=stage(code, types, Path(temporary)) or None,
            **options,
        )


def save_trained(
    model: Any, folder: Path, trusted_extra: Iterable[str], name: str, code: Path | None, **options: Any
) -> None:
    """Write a model of the trainer route as an MLflow pyfunc model folder: its own files and manifest
    in the data folder (the model's ``write``), loaded by ``LOADER`` (carried in ``code/`` with the
    model's packages); the class it is loaded by must be one ``load`` trusts."""
    import mlflow.pyfunc

    kind = type(model.model)
    trust.check([f"{kind.__module__}.{kind.__qualname__}"], trusted_extra, name, packages(code))
    with tempfile.TemporaryDirectory() as temporary:
        data = Path(temporary) / DATA
        model.write(data)
        staged = Path(temporary) / CODE
        staged.mkdir()
        with quiet_pip_lookup():
            mlflow.pyfunc.save_model(
                str(folder),
                loader_module=LOADER,
                data_path=str(data),
                code_paths=stage(code, [LOADER], staged),
                **options,
            )


@contextmanager
def quiet_pip_lookup() -> Iterator[None]:
    """Silence MLflow's warning that it cannot find pip's version (an environment uv built has no pip):
    the model's requirements, not pip's version, are what its folder records."""
    logger = logging.getLogger("mlflow.utils.environment")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def load(folder: Path, trusted_extra: Iterable[str], model: str) -> Any:
    """Load the model of an MLflow model folder: a pipeline saved in the skops format after checking the
    types its MLmodel file asks to trust against the same allow-list used when saving, or a model of the
    trainer route by its loader (``LOADER``, as MLflow's pyfunc loader does) after checking the class its
    manifest names the same way. The folder's ``code/`` goes on ``sys.path`` first, as MLflow's own
    loader does, so the model's classes import from the version."""
    import importlib

    import skops.io
    from mlflow.models import Model

    folder = Path(folder)
    if not (folder / "MLmodel").is_file():
        raise MlopsError(f"{folder} is not an MLflow model folder (no MLmodel file)")
    flavors = Model.load(str(folder / "MLmodel")).flavors
    code = folder / CODE
    if flavors.get("python_function", {}).get("loader_module") == LOADER and "sklearn" not in flavors:
        data = folder / flavors["python_function"]["data"]
        manifest = json.loads((data / MANIFEST).read_text(encoding="utf-8"))
        trust.check([manifest["class"]], trusted_extra, model, packages(code))
        on_path(code)
        return importlib.import_module(LOADER)._load_pyfunc(str(data))
    flavor = flavors.get("sklearn", {})
    if flavor.get("serialization_format") != "skops":
        raise MlopsError(
            f"{folder} was not saved in the skops format; only skops models are loaded (no pickle)"
        )
    trusted = trust.check(flavor.get("skops_trusted_types") or [], trusted_extra, model, packages(code))
    on_path(code)
    return skops.io.load(folder / flavor["pickled_model"], trusted=trusted)


def on_path(code: Path) -> None:
    """Put a version's ``code/`` folder first on ``sys.path`` (once)."""
    if code.is_dir() and str(code) not in sys.path:
        sys.path.insert(0, str(code))


def model_size(folder: Path) -> int:
    """Return the bytes of an MLflow model folder's fitted model: the skops file of a pipeline, the data
    folder of a model of the trainer route."""
    from mlflow.models import Model

    flavors = Model.load(str(Path(folder) / "MLmodel")).flavors
    if "sklearn" in flavors:
        return (Path(folder) / str(flavors["sklearn"]["pickled_model"])).stat().st_size
    data = Path(folder) / flavors["python_function"]["data"]
    return sum(path.stat().st_size for path in data.rglob("*") if path.is_file())


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
