"""Which types a saved model may hold: the skops allow-list, checked when saving and loading."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.core.errors import MlopsError

# scikit-learn, NumPy, SciPy, the framework's own column-kind transformers (mlops.models.columns) and
# native boosters (mlops.models.boosters, which save in their library's own format)
SAFE_PACKAGES = ("sklearn.", "numpy.", "scipy.", "mlops.models.columns.", "mlops.models.boosters.")
SAFE_TYPES = ("collections.OrderedDict",)  # a plain container (LightGBM's models hold one)


def check(types: Iterable[str], extra: Iterable[str], model: str, packages: Iterable[str] = ()) -> list[str]:
    """Return ``types`` sorted when each comes from scikit-learn, NumPy, SciPy, the framework's column
    transformers or one of the model's own ``packages`` (its ``code/`` folder), or is in ``extra`` (see
    ``mlops.models.catalog.trusted``: a type by name, a package by a prefix ending in a dot); raise
    naming the first one that is not."""
    allowed = {name for name in extra if not name.endswith(".")} | set(SAFE_TYPES)
    prefixes = tuple(name for name in extra if name.endswith("."))
    trusted = SAFE_PACKAGES + prefixes + tuple(f"{package}." for package in packages)
    for name in sorted(types):
        if not name.startswith(trusted) and name not in allowed:
            raise MlopsError(
                f"{model}: the model holds type {name}, which is not from scikit-learn, NumPy, SciPy or "
                "the model's own code/ package; if you trust it, add it to serialization.trusted_types "
                "in the model's config"
            )
    return sorted(types)


def needed_types(estimator: Any, extra: Iterable[str], model: str, packages: Iterable[str] = ()) -> list[str]:
    """Return exactly the types skops must trust to load ``estimator``, each checked by ``check``."""
    import skops.io

    return check(skops.io.get_untrusted_types(data=skops.io.dumps(estimator)), extra, model, packages)
