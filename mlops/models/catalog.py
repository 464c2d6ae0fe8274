"""Find the models under ``data-science/models`` and compose their Hydra configs."""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlops.core import project, settings
from mlops.core.errors import MlopsError
from mlops.models import KINDS, TASKS

if TYPE_CHECKING:
    import yaml
    from omegaconf import DictConfig

CONFIG_NAME = "model"
MARKER = re.compile(rb"^(<<<<<<<|>>>>>>>) ", re.MULTILINE)  # a conflict a merge (mlops upgrade) left


def model_names() -> list[str]:
    """Return the names of the models on disk: folders holding ``config/model.yaml``."""
    return sorted(
        path.name
        for path in project.models_dir().iterdir()
        if (path / "config" / f"{CONFIG_NAME}.yaml").is_file()
    )


def model_dir(name: str) -> Path:
    """Return the folder of model ``name``, or raise suggesting the closest existing model (a
    mistyped name), else naming the models that exist and how to create this one. Reads folders
    only, so a command checks its NAME with it before any heavy library loads."""
    path = project.models_dir() / name
    if not (path / "config" / f"{CONFIG_NAME}.yaml").is_file():
        names = model_names()
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            raise MlopsError(
                f"unknown model '{name}' in {project.MODELS_DIR}; did you mean '{close[0]}'? "
                "(mlops list shows them)"
            )
        known = ", ".join(names) or "none yet"
        raise MlopsError(f"unknown model '{name}' (models: {known}); create it with: mlops new {name}")
    return path


def config_file(name: str) -> Path:
    """Return the primary config file of model ``name``, relative to the project root."""
    return (model_dir(name) / "config" / f"{CONFIG_NAME}.yaml").relative_to(project.root())


def load_config(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """Compose model ``name``'s config with Hydra overrides, check it and make its code importable."""
    import yaml
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    folder = model_dir(name)
    try:
        with initialize_config_dir(config_dir=str(folder / "config"), version_base="1.3"):
            cfg = compose(config_name=CONFIG_NAME, overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as error:
        raise MlopsError(f"{name}: cannot compose {config_file(name)}: {one_line(error)}") from None
    except yaml.YAMLError as error:
        raise MlopsError(f"{name}: {yaml_problem(error)}; fix the file") from None
    check_config(name, cfg)
    code = str(folder / "code")
    if code not in sys.path:
        sys.path.insert(0, code)
    return cfg


def trusted(cfg: DictConfig) -> list[str]:
    """Return what model ``cfg``'s saved versions may hold beyond the always-safe types (see
    ``mlops.registry.trust``): its ``serialization.trusted_types``, and as ``package.`` prefixes the
    libraries its estimator (or trainer) and feature transformers come from: the composed config's, and
    every option of its ``config/estimator`` and ``config/trainer`` groups, so a version trained with
    ``estimator=lightgbm`` loads wherever the model's config is read (the model declares the libraries it
    is built from). The framework's own types are never trusted wholesale: only those ``trust`` lists."""
    import yaml

    route = cfg.get("trainer") or cfg.get("estimator") or {}
    targets = [route.get("_target_"), *(step.get("_target_") for step in cfg.get("features") or [])]
    options = [model_dir(cfg.name) / "config" / group for group in ("estimator", "trainer")]
    for option in sorted(path for folder in options for path in folder.glob("*.yaml")):
        try:
            loaded = yaml.safe_load(option.read_text(encoding="utf-8"))
        except yaml.YAMLError as error:  # an option the run does not use, broken all the same
            raise MlopsError(f"{cfg.name}: {yaml_problem(error)}; fix the file") from None
        targets.append(loaded.get("_target_") if isinstance(loaded, dict) else None)
    packages = {str(target).split(".")[0] for target in targets if isinstance(target, str) and "." in target}
    packages.discard("mlops")
    return [*cfg.serialization.trusted_types, *(f"{package}." for package in sorted(packages))]


def yaml_problem(error: yaml.YAMLError) -> str:
    """Return where a YAML file is broken and how: ``config/model.yaml line 4, column 7: ...``, or the
    line of the first conflict marker a merge left in it (``mlops upgrade``)."""
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    if mark is None:
        return f"a config file is not valid YAML: {problem}"
    path = Path(mark.name)
    shown = path.relative_to(project.root()) if path.is_relative_to(project.root()) else path
    text = path.read_bytes() if path.is_file() else b""
    found = MARKER.search(text)
    if found:  # a merge left its markers: say so, not where the parser stumbled on them
        line = text.count(b"\n", 0, found.start()) + 1
        return (
            f"{shown} line {line}: an unresolved merge conflict "
            f"({found.group(1).decode()} marker); keep the lines you want, delete the marker lines "
            "(<<<<<<<, =======, >>>>>>>), then run mlops upgrade --check"
        )
    return f"{shown} is not valid YAML: line {mark.line + 1}, column {mark.column + 1}: {problem}"


def broken(failed: list[str], total: int) -> MlopsError:
    """Return the error a command over many models ends with when some of them failed."""
    return MlopsError(f"{len(failed)} of {total} models failed: {', '.join(failed)} (errors above)")


def one_line(error: Exception) -> str:
    """Return Hydra's multi-line message as one line, without the search path and doc links."""
    text = str(error).split("Config search path:")[0].split("See https")[0]
    text = re.sub(r",? ?set env var HYDRA_FULL_ERROR=1 to see chained exception\.?", "", text)
    text = re.sub(r":\n\t", ": ", text)
    text = re.sub(r"\n\t", ", ", text)
    return re.sub(r"\s*\n+\s*", "; ", text.strip())


def check_config(name: str, cfg: DictConfig) -> None:
    """Raise MlopsError naming the key and the file when the composed config is unusable."""
    from omegaconf import OmegaConf

    from mlops.evaluation import cost, metrics, slices

    where = config_file(name)

    def fail(key: str, problem: str) -> None:
        raise MlopsError(f"{where}: {key} {problem}")

    for key in ("name", "task", "data", "schema", "split", "evaluation"):
        if OmegaConf.select(cfg, key) is None:
            fail(key, "is missing")
    if cfg.name != name:
        fail("name", f"is '{cfg.name}' but the folder is '{name}'; make them equal")
    if cfg.task not in TASKS:
        fail("task", f"is '{cfg.task}'; allowed: {', '.join(TASKS)}")
    routes = [key for key in ("estimator", "trainer") if cfg.get(key) is not None]
    if len(routes) != 1:
        fail(
            "estimator" if not routes else "trainer",
            ("is missing" if not routes else "and estimator are both set")
            + ": keep one, an estimator (a scikit-learn compatible class the framework fits in its pipeline) "
            "or a trainer (a training function of your own, docs/models.md#bring-your-own-training)",
        )
    for key in ("data", *routes):
        if not OmegaConf.is_dict(cfg[key]) or "_target_" not in cfg[key]:
            fail(key, "needs a _target_ naming what builds it")
    if routes == ["trainer"] and cfg.get("features"):
        fail(
            "features", "apply to an estimator's pipeline; a trainer gets the raw columns: do that work in it"
        )
    if not isinstance(cfg.schema.get("target"), str):
        fail("schema.target", "must name the target column")
    for kind in KINDS:
        listed = cfg.schema.get(kind)
        if listed is not None and not (
            OmegaConf.is_list(listed) and all(isinstance(column, str) for column in listed)
        ):
            fail(f"schema.{kind}", "must be a list of column names")
    where_listed: dict[str, list[str]] = {}
    for kind in KINDS:
        for column in cfg.schema.get(kind) or []:
            where_listed.setdefault(column, []).append(kind)
    if not where_listed:
        fail("schema", f"declares no features; list columns under schema.<kind> ({', '.join(KINDS)})")
    if cfg.schema.target in where_listed:
        fail("schema.target", f"'{cfg.schema.target}' is also listed as a feature")
    for column, kinds in where_listed.items():
        if len(set(kinds)) > 1:
            listed_under = " and ".join(f"schema.{kind}" for kind in dict.fromkeys(kinds))
            fail("schema", f"lists '{column}' under {listed_under}; keep it under one kind")
        if len(kinds) > 1:
            fail(f"schema.{kinds[0]}", f"lists '{column}' more than once")
    steps = cfg.get("features")
    if steps is not None and not (
        OmegaConf.is_list(steps) and all(OmegaConf.is_dict(step) and "_target_" in step for step in steps)
    ):
        fail("features", "must be a list of transformers, each with a _target_ (the class to build)")
    own = cfg.evaluation.get("metrics")
    if own is None:
        own = {}
    elif not OmegaConf.is_dict(own):
        fail("evaluation.metrics", "must map each metric's name to its _target_ function and direction")
    for metric, declared in own.items():
        key = f"evaluation.metrics.{metric}"
        if metric in metrics.names(cfg.task):
            fail(key, f"has the name of a built-in {cfg.task} metric; give yours another name")
        if not OmegaConf.is_dict(declared) or not isinstance(declared.get("_target_"), str):
            fail(key, "needs a _target_ naming the function (module.function) that computes it")
        if not isinstance(declared.get("greater_is_better"), bool):
            fail(f"{key}.greater_is_better", "must be true or false: whether a larger value is better")
        if declared.get("needs", "predictions") not in metrics.NEEDS:
            fail(f"{key}.needs", f"is '{declared.get('needs')}'; allowed: {', '.join(metrics.NEEDS)}")
        if declared.get("needs") == "probabilities" and cfg.task != "classification":
            fail(f"{key}.needs", "is probabilities, which only a classifier has; use predictions")
    known = [*metrics.names(cfg.task), *own]
    if cfg.evaluation.get("primary_metric") not in known:
        fail(
            "evaluation.primary_metric",
            f"is '{cfg.evaluation.get('primary_metric')}'; allowed for {cfg.task}: {', '.join(known)}",
        )
    try:
        settings.check(cfg)
    except MlopsError as error:
        raise MlopsError(f"{where}: {error}") from None
    for metric in cfg.evaluation.get("thresholds") or {}:
        if metric not in known:
            fail(
                f"evaluation.thresholds.{metric}", f"is not a {cfg.task} metric; allowed: {', '.join(known)}"
            )
    for key, bound in (cfg.evaluation.get("cost") or {}).items():
        if key not in cost.BOUNDS:
            fail(f"evaluation.cost.{key}", f"is not a cost; allowed: {', '.join(cost.BOUNDS)}")
        if bound is not None and (
            isinstance(bound, bool) or not isinstance(bound, int | float) or bound <= 0
        ):
            fail(
                f"evaluation.cost.{key}",
                f"is {bound!r}; it must be a ratio above 0 (1.5: at most 1.5x the champion's) or null",
            )
    try:
        slices.declared(cfg)
    except MlopsError as error:
        raise MlopsError(f"{where}: {error}") from None
