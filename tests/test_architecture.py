"""The floor plan holds: no import cycle between the framework's modules, and every import runs down the
layers that docs/architecture.md writes down. The graph counts every import, inside functions too, since
a function-level import closes a cycle as surely as a top-level one; the checker itself is tested on
small packages made here that break each rule."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"


def modules(package: Path) -> dict[str, Path]:
    """Return every module of the package folder ``package`` by dotted name (a package by its own name)."""
    found = {}
    for path in sorted(package.rglob("*.py")):
        parts = path.relative_to(package.parent).with_suffix("").parts
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def imported(name: str, path: Path) -> Iterator[str]:
    """Yield the dotted names module ``name`` (at ``path``) imports, relative imports resolved."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            yield from (f"{base}.{alias.name}" for alias in node.names)


def graph(package: Path) -> dict[str, set[str]]:
    """Return module -> the modules of the same package it imports (a name imported from a module
    counts as that module; a submodule imported from a package counts as the submodule)."""
    known = modules(package)
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for target in imported(name, path):
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name and not name.startswith(f"{target}."):
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Return the import cycles: each strongly connected set of more than one module, sorted (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in sorted(edges.get(node, ())):
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(found)


def layers(text: str) -> list[list[str]]:
    """Return the layers of the ```layers block in ``text``, top first, each a list of packages."""
    block = re.search(r"```layers\n(.*?)```", text, re.S)
    assert block, "docs/architecture.md has no ```layers block"
    return [
        [name.strip() for name in line.split("|")] for line in block.group(1).splitlines() if line.strip()
    ]


def room(module: str) -> str | None:
    """Return the package of the top level (``mlops.<room>``) a module belongs to; None for the modules
    of the top itself (``mlops``, ``mlops.__main__``)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and not parts[1].startswith("__") else None


def violations(edges: dict[str, set[str]], order: list[list[str]]) -> list[str]:
    """Return each import that goes up the layers or across one layer, as 'a -> b (why)'."""
    level = {package: depth for depth, names in enumerate(order) for package in names}
    found = []
    for source, targets in sorted(edges.items()):
        for target in sorted(targets):
            above, below = room(source), room(target)
            if above is None or below is None or above == below:
                continue
            if above not in level or below not in level:
                found.append(f"{source} -> {target} (a package missing from the layers)")
            elif level[below] == level[above]:
                found.append(f"{source} -> {target} ({above} and {below} share a layer)")
            elif level[below] < level[above]:
                found.append(f"{source} -> {target} ({below} is above {above})")
    return found


MLOPS = graph(ROOT / "mlops")
LAYERS = layers(DOC.read_text(encoding="utf-8"))


def test_the_framework_has_no_import_cycle():
    assert cycles(MLOPS) == []


def test_every_import_runs_down_the_documented_layers():
    assert violations(MLOPS, LAYERS) == []


def test_every_package_is_in_the_layers_and_the_top_holds_no_module_of_code():
    packages = {path.parent.name for path in (ROOT / "mlops").glob("*/__init__.py")}
    placed = {package for layer in LAYERS for package in layer}
    assert packages - {"conf"} == placed
    assert sorted(path.name for path in (ROOT / "mlops").glob("*.py")) == ["__init__.py", "__main__.py"]
    assert [path.name for path in (ROOT / "mlops" / "conf").rglob("*.py")] == ["__init__.py"]


def test_code_that_runs_inside_azure_imports_nothing_else_of_azureml():
    runtime = "mlops.azureml.runtime"
    outside = {
        f"{source} -> {target}"
        for source, targets in MLOPS.items()
        if source.startswith(runtime)
        for target in targets
        if target.startswith("mlops.azureml") and not target.startswith(runtime) and target != "mlops.azureml"
    }
    assert outside == set()


def write(folder: Path, files: dict[str, str]) -> Path:
    """Write a small package of ``files`` (relative path -> source) under ``folder``; return its root."""
    for relative, source in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source)
    return folder / "mlops"


LAYERED = {
    "mlops/__init__.py": "",
    "mlops/low/__init__.py": "",
    "mlops/low/base.py": "X = 1\n",
    "mlops/high/__init__.py": "",
    "mlops/high/use.py": "from mlops.low import base\n",
}


def test_the_checker_finds_a_cycle_closed_inside_a_function(tmp_path):
    package = write(
        tmp_path,
        LAYERED
        | {
            "mlops/low/base.py": "def late():\n    from mlops.low import other\n",
            "mlops/low/other.py": "from . import base\n",
        },
    )
    assert cycles(graph(package)) == [["mlops.low.base", "mlops.low.other"]]


@pytest.mark.parametrize(
    ("source", "why"),
    [
        ("from mlops.high import use\n", "high is above low"),
        ("import mlops.side.thing\n", "low and side share a layer"),
        ("from mlops.nowhere import thing\n", "a package missing from the layers"),
    ],
)
def test_the_checker_finds_an_import_against_the_layers(tmp_path, source, why):
    files = LAYERED | {
        "mlops/low/base.py": f"def late():\n    {source}",
        "mlops/side/__init__.py": "",
        "mlops/side/thing.py": "",
        "mlops/nowhere/__init__.py": "",
        "mlops/nowhere/thing.py": "",
    }
    found = violations(graph(write(tmp_path, files)), layers("```layers\nhigh\nlow | side\n```"))
    assert len(found) == 1 and why in found[0], found
    assert violations(graph(write(tmp_path, LAYERED | {"mlops/low/base.py": ""})), [["high"], ["low"]]) == []
