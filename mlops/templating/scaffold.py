"""``mlops new``: check the answers, then bake ``templates/model`` into a new model folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from mlops.core import project
from mlops.core.errors import MlopsError
from mlops.templating import upgrade

TEMPLATE = Path("templates") / "model"


def template_dir() -> Path:
    """Return the model template folder of this project."""
    return project.root() / TEMPLATE


def answer_rules() -> ModuleType:
    """Load the template's pre-generation hook, the one definition of what answers are allowed."""
    hook = template_dir() / "hooks" / "pre_gen_project.py"
    spec = importlib.util.spec_from_file_location("model_template_rules", hook)
    assert spec is not None and spec.loader is not None  # a .py path gets a source loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def create(name: str, task: str, description: str, owner: str, estimator: str = "random_forest") -> Path:
    """Create ``data-science/models/<name>`` from the template with its record of the template version
    and answers (``mlops upgrade``; none outside a git repository); never overwrite a folder."""
    from cookiecutter.main import cookiecutter

    found = answer_rules().problems(name, task, description, owner, estimator)
    if found:
        raise MlopsError("; ".join(found))
    target = project.models_dir() / name
    if target.exists():
        raise MlopsError(f"{target.relative_to(project.root())} already exists; pick another name")
    answers = {"model_name": name, "task": task, "description": description, "owner": owner}
    if estimator != "random_forest":  # the default is not recorded, so older records read the same
        answers["estimator"] = estimator
    try:
        version = upgrade.current_version()
    except MlopsError:  # no git here: the folder is made without a record (mlops upgrade --adopt later)
        version = None
    cookiecutter(
        str(template_dir()),
        no_input=True,
        output_dir=str(project.models_dir()),
        extra_context=answers,
        accept_hooks=False,  # the answers are checked above; the record is written below
    )
    if version:
        upgrade.Record(version, answers).write(target)
    return target
