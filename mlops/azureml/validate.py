"""Validate rendered Azure ML definitions offline: azure-ai-ml's own loaders, then a strict layer for
what they let through (unknown component keys, pipeline node keys, ``${{...}}`` bindings, missing
local paths, an environment with neither image nor build), then each entity's REST payload. Every
problem is one line naming the file and the field. No credentials, no network."""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mlops.azureml import render, workspace

LOCATION = "westeurope"  # any region: REST payloads of endpoints and deployments need one
BINDING = re.compile(r"\$\{\{\s*([^}]*?)\s*\}\}")
COLOUR = re.compile(r"\x1b\[[0-9;]*m")
# keys a pipeline node may hold (the SDK accepts any key there)
NODE_KEYS = frozenset({"type", "component", "inputs", "outputs", "compute", "display_name", "description"})
PARAMETER_TYPES: dict[str, type | tuple[type, ...]] = {
    "string": str,
    "integer": int,
    "number": (int, float),
    "boolean": bool,
}


def loaders() -> dict[str, Callable[..., Any]]:
    """Return azure-ai-ml's loader of each kind of definition."""
    workspace.require_sdk()
    from azure.ai.ml import (
        load_batch_endpoint,
        load_component,
        load_compute,
        load_data,
        load_environment,
        load_job,
        load_online_deployment,
        load_online_endpoint,
    )
    from azure.ai.ml.entities._load_functions import load_model_batch_deployment, load_schedule

    logging.getLogger("azure.ai.ml._utils._experimental").disabled = True  # experimental-class notices
    return {
        render.ENVIRONMENT: load_environment,
        render.COMPONENT: load_component,
        render.PIPELINE: load_job,
        render.ONLINE_ENDPOINT: load_online_endpoint,
        render.ONLINE_DEPLOYMENT: load_online_deployment,
        render.BATCH_ENDPOINT: load_batch_endpoint,
        render.BATCH_DEPLOYMENT: load_model_batch_deployment,
        render.COMPUTE: load_compute,
        render.DATA: load_data,
        render.SCHEDULE: load_schedule,
    }


def readable(error: BaseException) -> str:
    """Return one line from a loader's error: the real ValidationError behind a bare
    NotImplementedError, marshmallow's messages, or the SDK's message without colour codes."""
    current: BaseException | None = error
    while isinstance(current, NotImplementedError) and (current.__cause__ or current.__context__):
        current = current.__cause__ or current.__context__
    messages = getattr(current, "messages", None)
    if isinstance(messages, dict):
        text = "; ".join(f"{field}: {flatten(problem)}" for field, problem in messages.items())
    elif messages:
        text = " ".join(str(message) for message in messages)
    else:
        text = getattr(current, "message", None) or str(current)
    text = COLOUR.sub("", text)
    fields = re.findall(r'"([A-Za-z_.$]+)":\s*\[?\s*"([^"]+)"', text)
    if fields:
        text = "; ".join(f"{field}: {problem}" for field, problem in fields)
    return " ".join(text.split())


def flatten(problem: Any) -> str:
    """Return a nested marshmallow message as one text."""
    if isinstance(problem, dict):
        return "; ".join(f"{key}: {flatten(value)}" for key, value in problem.items())
    if isinstance(problem, list):
        return " ".join(flatten(item) for item in problem)
    return str(problem)


def rest_payload(entity: Any) -> Any:
    """Build the REST object a submission would send (references stay unresolved offline)."""
    kind = type(entity).__name__
    if kind == "ManagedOnlineEndpoint":
        return entity._to_rest_online_endpoint(LOCATION)
    if kind == "BatchEndpoint":
        return entity._to_rest_batch_endpoint(LOCATION)
    if kind in ("ManagedOnlineDeployment", "ModelBatchDeployment", "BatchDeployment"):
        return entity._to_rest_object(LOCATION)
    return entity._to_rest_object()


def load(path: Path, kind: str) -> Any:
    """Load one definition with azure-ai-ml's loader for its kind, quietly."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return loaders()[kind](source=path)


def read_yaml(path: Path) -> dict[str, Any]:
    """Return a definition as plain YAML data."""
    import yaml

    return yaml.safe_load(path.read_text()) or {}


def component_keys(kind: str) -> frozenset[str]:
    """Return the top-level keys a component of ``kind`` (command or spark) may hold, from the SDK's
    own schema."""
    from azure.ai.ml._schema.component.command_component import CommandComponentSchema
    from azure.ai.ml._schema.component.spark_component import SparkComponentSchema
    from azure.ai.ml.constants._common import BASE_PATH_CONTEXT_KEY

    schemas: dict[str, Any] = {"command": CommandComponentSchema, "spark": SparkComponentSchema}  # untyped
    schema = schemas.get(kind, CommandComponentSchema)(context={BASE_PATH_CONTEXT_KEY: "."})
    return frozenset({"$schema"} | {field.data_key or name for name, field in schema.fields.items()})


def check_component(spec: dict[str, Any], folder: Path) -> list[str]:
    """Return what the loader lets through in a component: unknown keys, undeclared bindings in the
    command (a Spark component's args), a missing code folder."""
    keys = component_keys(str(spec.get("type", "command")))
    problems = [f"{key}: unknown field" for key in sorted(set(spec) - keys)]
    declared = {f"inputs.{name}" for name in spec.get("inputs") or {}}
    declared |= {f"outputs.{name}" for name in spec.get("outputs") or {}}
    for field in ("command", "args"):
        for binding in BINDING.findall(str(spec.get(field, ""))):
            if binding not in declared:
                problems.append(f"{field}: ${{{{{binding}}}}} names no declared input or output")
    code = spec.get("code")
    if code and not (folder / str(code)).exists():
        problems.append(f"code: {code} does not exist")
    return problems


def check_pipeline(spec: dict[str, Any], folder: Path) -> list[str]:
    """Return what the loader lets through in a pipeline: unknown node keys, node inputs and outputs
    the component does not declare, literal inputs of the wrong type, and bindings to jobs, outputs or
    pipeline inputs and outputs that do not exist."""
    problems = []
    jobs = spec.get("jobs") or {}
    components = {}
    for name, node in jobs.items():
        problems += [f"jobs.{name}.{key}: unknown field" for key in sorted(set(node) - NODE_KEYS)]
        path = folder / str(node.get("component", ""))
        if not path.is_file():
            problems.append(f"jobs.{name}.component: {node.get('component')} does not exist")
            continue
        components[name] = read_yaml(path)
    parent_inputs = set(spec.get("inputs") or {})
    for name, component in components.items():
        declared = component.get("inputs") or {}
        for key, value in (jobs[name].get("inputs") or {}).items():
            where = f"jobs.{name}.inputs.{key}"
            if key not in declared:
                problems.append(f"{where}: the component declares no input '{key}'")
                continue
            problems += check_binding(where, value, declared[key], parent_inputs, components)
        problems += check_node_outputs(name, jobs[name], component, set(spec.get("outputs") or {}))
    return problems


def check_node_outputs(
    name: str, node: dict[str, Any], component: dict[str, Any], published: set[str]
) -> list[str]:
    """Return a node's outputs the component does not declare and bindings to pipeline outputs that do
    not exist."""
    problems = []
    for key, value in (node.get("outputs") or {}).items():
        where = f"jobs.{name}.outputs.{key}"
        if key not in (component.get("outputs") or {}):
            problems.append(f"{where}: the component declares no output '{key}'")
            continue
        found = BINDING.fullmatch(str(value).strip())
        parts = found.group(1).split(".") if found else []
        if found and (parts[:2] != ["parent", "outputs"] or len(parts) != 3):
            problems.append(f"{where}: cannot resolve ${{{{{found.group(1)}}}}}")
        elif found and parts[2] not in published:
            problems.append(f"{where}: the pipeline has no output '{parts[2]}'")
    return problems


def check_binding(
    where: str, value: Any, declared: dict[str, Any], parent_inputs: set[str], components: dict[str, Any]
) -> list[str]:
    """Return the problems of one node input: a binding that resolves to nothing, or a literal of the
    wrong type."""
    text = str(value)
    found = BINDING.fullmatch(text.strip())
    if not found:
        expected = PARAMETER_TYPES.get(str(declared.get("type")))
        if expected and (not isinstance(value, expected) or isinstance(value, bool) != (expected is bool)):
            return [f"{where}: {value!r} is not a {declared['type']}"]
        return []
    parts = found.group(1).split(".")
    if parts[:2] == ["parent", "inputs"] and len(parts) == 3:
        return [] if parts[2] in parent_inputs else [f"{where}: the pipeline has no input '{parts[2]}'"]
    if parts[:2] == ["parent", "jobs"] and len(parts) == 5 and parts[3] == "outputs":
        job, output = parts[2], parts[4]
        if job not in components:
            return [f"{where}: there is no job '{job}'"]
        if output not in (components[job].get("outputs") or {}):
            return [f"{where}: job '{job}' has no output '{output}'"]
        return []
    return [f"{where}: cannot resolve ${{{{{found.group(1)}}}}}"]


def check_paths(kind: str, spec: dict[str, Any], folder: Path) -> list[str]:
    """Return missing local paths the loaders do not check, and an environment without a base."""
    problems = []
    if kind == render.ENVIRONMENT and not (spec.get("image") or spec.get("build")):
        problems.append("image: an environment needs an image or a build")
    configuration = spec.get("code_configuration") or {}
    if configuration:
        code = folder / str(configuration.get("code", ""))
        script = code / str(configuration.get("scoring_script", ""))
        if not code.is_dir():
            problems.append(f"code_configuration.code: {configuration.get('code')} does not exist")
        elif not script.is_file():
            problems.append(f"code_configuration.scoring_script: {script} does not exist")
    return problems


def strict(kind: str, path: Path) -> list[str]:
    """Return the strict layer's problems with one definition."""
    spec = read_yaml(path)
    problems = check_paths(kind, spec, path.parent)
    if kind == render.COMPONENT:
        problems += check_component(spec, path.parent)
    if kind == render.PIPELINE:
        problems += check_pipeline(spec, path.parent)
    return problems


def validate_file(folder: Path, rendered: render.Rendered, broken: set[str]) -> list[str]:
    """Return every problem with one rendered definition, each as ``file: field: message``. The SDK
    loads it only when the strict layer found nothing (its messages would repeat the same mistake at
    length), and a pipeline only when its components load. The entity is dropped afterwards: building
    a REST payload consumes parts of some entities (a data collector's sampling rate), so a submission
    loads its own."""
    path = folder / rendered.path
    problems = strict(rendered.kind, path)
    if rendered.kind == render.PIPELINE and broken:
        problems.append(f"jobs: not loaded until {', '.join(sorted(broken))} load")
    if not problems:
        try:
            rest_payload(load(path, rendered.kind))
        except Exception as error:  # the SDK raises many types; each becomes one line
            problems.append(readable(error))
    return [f"{rendered.path}: {problem}" for problem in problems]


def validate(folder: Path, definitions: list[render.Rendered]) -> list[str]:
    """Return every problem with the definitions rendered in ``folder``, components first."""
    workspace.require_sdk()
    ordered = sorted(definitions, key=lambda rendered: rendered.kind != render.COMPONENT)
    problems: list[str] = []
    broken: set[str] = set()
    for rendered in ordered:
        found = validate_file(folder, rendered, broken)
        if found and rendered.kind == render.COMPONENT:
            broken.add(rendered.path)
        problems += found
    return problems
