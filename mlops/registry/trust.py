"""Which types a saved model may hold: the skops allow-list, checked when saving and loading."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mlops.core.errors import MlopsError

SAFE_PACKAGES = ("sklearn.", "numpy.", "scipy.")


def check(types: Iterable[str], extra: Iterable[str], model: str) -> list[str]:
    """Return ``types`` sorted when each comes from scikit-learn, NumPy or SciPy or is listed in
    the model's ``serialization.trusted_types``; raise naming the first one that is not."""
    allowed = set(extra)
    for name in sorted(types):
        if not name.startswith(SAFE_PACKAGES) and name not in allowed:
            raise MlopsError(
                f"{model}: the model holds type {name}, which is not from scikit-learn, NumPy or "
                "SciPy; if you trust it, add it to serialization.trusted_types in the model's config"
            )
    return sorted(types)


def needed_types(estimator: Any, extra: Iterable[str], model: str) -> list[str]:
    """Return exactly the types skops must trust to load ``estimator``, each checked by ``check``."""
    import skops.io

    return check(skops.io.get_untrusted_types(data=skops.io.dumps(estimator)), extra, model)
