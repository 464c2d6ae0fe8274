"""Fit a model through its own training function (``trainer:``, see ``mlops.models.protocol``) and
check what it returns before anything is registered: the protocol's methods, one finite prediction per
row (a classifier's probabilities too), and a save and load that give the same predictions back."""

from __future__ import annotations

import functools
import inspect
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops.core.errors import MlopsError
from mlops.models import trained
from mlops.models.features import attempt, feature_columns

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

CHECKED_ROWS = 200  # training rows each check predicts


def build(cfg: DictConfig) -> functools.partial[Any]:
    """Return the trainer with its config keys bound; raise one line when ``trainer._target_`` does not
    import or is not a function."""
    from hydra.errors import InstantiationException
    from hydra.utils import instantiate

    from mlops.models.catalog import one_line

    target = cfg.trainer._target_
    try:
        function = instantiate(cfg.trainer, _partial_=True, _convert_="all")
    except InstantiationException as error:
        raise MlopsError(
            f"{cfg.name}: trainer: cannot build {target}: {one_line(error)}; check the _target_ path (a "
            "function of the model's code/ package or an installed library)"
        ) from None
    if not isinstance(function, functools.partial) or inspect.isclass(function.func):
        raise MlopsError(f"{cfg.name}: trainer {target} is not a function; name a training function")
    return function


def wants_validation(function: functools.partial[Any]) -> bool:
    """Return whether the trainer declares a ``validation`` parameter."""
    return "validation" in inspect.signature(function.func).parameters


def fit(cfg: DictConfig, rows: pd.DataFrame) -> trained.Trained:
    """Return the model the trainer fits on ``rows``, checked (see ``check``). When the trainer takes
    ``validation``, a seeded share (``split.validation_size``, stratified for a classifier) of ``rows``
    is held out of its training rows and given as that."""
    from sklearn.model_selection import train_test_split

    function = build(cfg)
    columns = [*feature_columns(cfg), cfg.schema.target]
    rows = rows[columns]
    target = cfg.trainer._target_
    if wants_validation(function):
        stratify = rows[cfg.schema.target] if cfg.task == "classification" else None
        train, held = train_test_split(
            rows, test_size=cfg.split.validation_size, random_state=cfg.split.seed, stratify=stratify
        )
        call = functools.partial(function, train, cfg, validation=held)
    else:
        call = functools.partial(function, rows, cfg)
    model = attempt(cfg, f"trainer ({target})", "failed", call, "fix the training function")
    return check(cfg, model, rows[feature_columns(cfg)].head(CHECKED_ROWS))


def check(cfg: DictConfig, model: Any, sample: pd.DataFrame) -> trained.Trained:
    """Return ``model`` wrapped (``trained.wrap``) once it meets the protocol on ``sample``: its methods,
    one finite prediction per row, a classifier's probabilities, and a save and load round trip that
    predicts the same; raise one line naming what is wrong and the fix."""
    import numpy as np

    where = f"trainer {cfg.trainer._target_}"
    needed = ["predict", "save", "load"]
    if cfg.task == "classification":
        needed += ["predict_proba", "classes_"]
    missing = [name for name in needed if not hasattr(model, name)]
    if missing:
        raise MlopsError(
            f"{cfg.name}: {where} returned a {type(model).__name__} without {', '.join(missing)}; return an "
            "object with the methods of mlops.models.protocol (docs/models.md#bring-your-own-training)"
        )
    wrapped = attempt(
        cfg, where, "returned a model", lambda: trained.wrap(model, cfg.task), "give it classes_"
    )
    predicted = predictions(cfg, wrapped, sample, "predict")
    with tempfile.TemporaryDirectory() as folder:
        attempt(
            cfg,
            f"{where}: its model's save",
            "failed",
            lambda: trained.write(wrapped, Path(folder) / "m"),
            "fix the model's save(folder)",
        )
        again = attempt(
            cfg,
            f"{where}: its model's load",
            "failed",
            lambda: trained.read(Path(folder) / "m"),
            "fix the model's classmethod load(folder); it must read what save wrote",
        )
    reloaded = predictions(cfg, again, sample, "predict after save and load")
    same = (
        np.allclose(predicted, reloaded, rtol=1e-6, atol=1e-9, equal_nan=True)
        if predicted.dtype.kind in "fiub" and reloaded.dtype.kind in "fiub"
        else np.array_equal(predicted.astype(str), reloaded.astype(str))
    )
    if not same:
        raise MlopsError(
            f"{cfg.name}: {where}: the model loaded from what its save wrote predicts differently; make "
            "save(folder) keep everything predict uses"
        )
    checked: trained.Trained = wrapped
    return checked


def predictions(cfg: DictConfig, model: trained.Trained, sample: pd.DataFrame, step: str) -> Any:
    """Return ``model``'s predictions of ``sample``, checked: one per row, finite numbers for a
    regressor, known classes and probability rows summing to 1 for a classifier."""
    import numpy as np

    where = f"trainer {cfg.trainer._target_}: {step}"
    found = attempt(cfg, where, "failed", lambda: model.predict(sample), "fix the model's predict(frame)")
    if cfg.task == "regression":
        numbers = attempt(
            cfg,
            where,
            "returned values that are not numbers",
            lambda: np.asarray(found, dtype="float64"),
            "return numbers",
        )
        if not np.isfinite(numbers).all():
            raise MlopsError(
                f"{cfg.name}: {where} returned {int((~np.isfinite(numbers)).sum())} non-finite values "
                f"(NaN or infinity) for {len(sample)} rows; return a finite number for every row"
            )
        return numbers
    unknown = sorted({str(label) for label in found} - {str(label) for label in model.classes or []})
    if unknown:
        raise MlopsError(
            f"{cfg.name}: {where} returned labels not in classes_: {', '.join(unknown[:5])}; predict one "
            "of classes_ for every row"
        )
    probabilities = attempt(
        cfg,
        f"{where} (predict_proba)",
        "failed",
        lambda: model.predict_proba(sample),
        "return an array of shape (rows, classes)",
    )
    if not np.isfinite(probabilities).all() or not np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-6):
        raise MlopsError(
            f"{cfg.name}: {where}: predict_proba rows are not finite probabilities summing to 1; return "
            "one probability per class of classes_ for every row"
        )
    return np.asarray(found)
