"""The one table of a model config's numeric settings: the rule each key follows, the words that say
what it allows, and, for the few keys no shared config group sets, the default. Every reader of such a
key (the catalog's check, the gate's evidence, the register step, the monitor's signals, estimates and
alerting) goes through ``value``, so a rule is written once and an error always names the key.

A key that ``mlops/conf`` sets for every model (``monitoring.*``) has no default here: the composed
config holds it, and a model that removes it is told so by name."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mlops.core.errors import MlopsError

__all__ = ["RULES", "Rule", "check", "value"]

ABSENT = object()  # no default: the composed config must hold the key


@dataclass(frozen=True)
class Rule:
    """A number from ``low`` to ``high`` (each bound excluded unless ``closed`` says so), a whole
    number when ``whole``, None allowed when ``nullable``; ``says`` is what the error says it must be."""

    low: float = -math.inf
    high: float = math.inf
    says: str = ""
    whole: bool = False
    closed: tuple[bool, bool] = (True, True)
    nullable: bool = False
    default: Any = ABSENT

    def allows(self, found: Any) -> bool:
        """Return whether ``found`` follows the rule."""
        if found is None:
            return self.nullable
        if isinstance(found, bool) or not isinstance(found, int | float):
            return False
        if self.whole and type(found) is not int:
            return False
        above = found >= self.low if self.closed[0] else found > self.low
        below = found <= self.high if self.closed[1] else found < self.high
        return above and below


def whole(least: int, default: Any = ABSENT) -> Rule:
    """Return the rule of a whole number of at least ``least``."""
    return Rule(least, says=f"a whole number of at least {least}", whole=True, default=default)


def between(low: float, high: float, says: str = "", default: Any = ABSENT) -> Rule:
    """Return the rule of a number strictly between ``low`` and ``high``."""
    return Rule(
        low, high, says or f"a number between {low:g} and {high:g}", closed=(False, False), default=default
    )


RULES: dict[str, Rule] = {
    # the gate's paired bootstrap and its verdict (the model's config/model.yaml)
    "evaluation.confidence": between(0, 1, "a level between 0 and 1, e.g. 0.95", default=0.95),
    "evaluation.resamples": whole(100, default=1000),
    "evaluation.min_test_rows": whole(1, default=50),
    "evaluation.min_improvement": Rule(0, says="a number of at least 0", default=0.0),
    # performance with ground truth, and before it (mlops/conf/monitoring/default.yaml)
    "monitoring.signals.model_performance.tolerance": Rule(0, says="a number of at least 0"),
    "monitoring.signals.estimated_performance.tolerance": between(0, 1),
    "monitoring.signals.estimated_performance.confidence": between(0.5, 0.999),
    "monitoring.signals.estimated_performance.max_calibration_error": between(0, 1),
    # when a breach becomes an alert
    "monitoring.alerting.min_rows": whole(1),
    "monitoring.alerting.persistence.breaches": whole(1),
    "monitoring.alerting.persistence.windows": whole(1),
    "monitoring.alerting.noise.quantile": Rule(
        0.5,
        1,
        "a number from 0.5 to below 1 (0.99: a breach counts beyond what 99% of samples of the baseline "
        "reach), or null to let every breach count",
        closed=(True, False),
        nullable=True,
    ),
    "monitoring.alerting.noise.draws": whole(1),
}


def value(section: Any, key: str) -> Any:
    """Return setting ``key`` (its dotted path from the config's root) from ``section``, the mapping
    that holds it (a DictConfig or dict: the config itself, or the part at the key's parent). A key
    missing from the config takes the table's default; without one it is an error naming the key, as
    is a value the key's rule does not allow."""
    rule = RULES[key]
    leaf = key.rsplit(".", 1)[-1]
    found = section.get(leaf, rule.default)
    if found is ABSENT:
        raise MlopsError(f"{key} is missing; set it (mlops/conf/ holds the shared defaults)")
    if not rule.allows(found):
        raise MlopsError(f"{key} is {found!r}; it must be {rule.says}")
    return found


def check(config: Any) -> None:
    """Raise naming the first key of the table whose value in the composed ``config`` its rule does
    not allow; keys the config does not hold are left to their readers."""
    for key, rule in RULES.items():
        parent, _, leaf = key.rpartition(".")
        section = select(config, parent)
        if section is not None and leaf in section and not rule.allows(section[leaf]):
            raise MlopsError(f"{key} is {section[leaf]!r}; it must be {rule.says}")


def select(config: Any, path: str) -> Any:
    """Return the part of ``config`` at the dotted ``path``, None when a part of it is missing."""
    for part in path.split("."):
        if config is None or not hasattr(config, "get"):
            return None
        config = config.get(part)
    return config
