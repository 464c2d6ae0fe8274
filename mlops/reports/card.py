"""The model card of a registered version, built only from what the registry and the model folder
hold: the version's tags (metrics, lineage, gate, digests, cost), its run's artifacts (the split,
the evaluation with intervals and slices), its logged model (schema, monitoring baseline), its
monitor runs and the alias history. A fact neither holds is ``unknown``, never guessed.

One card, three renderings: JSON (every field), Markdown and a self-contained HTML page.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from mlflow.entities.model_registry import ModelVersion

UNKNOWN = "unknown"
FORMATS = ("json", "md", "html")
DESCRIBED = ("description", "intended_use", "limitations")  # config card.<key>, or README front matter
TEMPLATE = "card.html.j2"


def build(version: ModelVersion) -> dict[str, Any]:
    """Return the card of a registered ``version`` as JSON-ready fields."""
    from mlops import registry
    from mlops.registry import digests
    from mlops.registry.artifacts import CONFIG_FILE, EVALUATION_ARTIFACT_PATH, EVALUATION_FILE, SPLIT_FILE

    tags = dict(version.tags)
    name, number = version.name, str(version.version)
    # a version this framework registers comes from a run (``runs:/<run_id>/model``)
    root = registry.client().get_run(cast(str, version.run_id)).info.artifact_uri
    with tempfile.TemporaryDirectory() as temporary:
        folder = Path(temporary)
        evaluation = artifact_json(root, f"{EVALUATION_ARTIFACT_PATH}/{EVALUATION_FILE}", folder)
        split = artifact_json(root, SPLIT_FILE, folder)
        mlmodel = fetched(root, model_path(version, "MLmodel"), folder)
        signature = mlmodel.read_text() if mlmodel else ""
        profile = artifact_json(root, model_path(version, "monitoring/profile.json"), folder)
        logged = fetched(root, CONFIG_FILE, folder)  # the whole config; the tag names it (or held it, before)
        config_text = logged.read_text() if logged else tags.get("config")
    config = parse_yaml(config_text)
    moves = [
        move
        for move in registry.moves(name)
        if number in (str(move.get("version")), str(move.get("previous")))
    ]
    return {
        "model": name,
        "version": number,
        "aliases": registry.aliases(version),
        "registered_at": stamp(version.creation_timestamp),
        "owner": known(config.get("owner")),
        "task": known(config.get("task")),
        **described(name, config),
        "data": {
            "source": known(tags.get("data_source")),
            "fingerprint": known(tags.get("data_fingerprint")),
            "rows": known(split.get("sampled_rows")),
            "train_rows": known(split.get("train_rows")),
            "test_rows": known(split.get("test_rows", tags.get("test_rows"))),
            "split_seed": known(tags.get("split_seed")),
            "test_size": known((config.get("split") or {}).get("test_size")),
        },
        "schema": schema(signature, config),
        "metrics": registry.metrics_of(version),
        "evaluation": {
            "primary_metric": known((config.get("evaluation") or {}).get("primary_metric")),
            "compared_with": known(evaluation.get("champion_version")),
            "compared_rows": known(evaluation.get("compared_rows")),
            "excluded_rows": evaluation.get("excluded_rows", 0),
            "champion_metrics": known(evaluation.get("champion_metrics")),
            "interval": known(evaluation.get("interval")),
            "slices": [filled(found) for found in evaluation.get("slices") or []],
        },
        "cost": {
            "measured": {
                key.removeprefix("cost."): float(value)
                for key, value in tags.items()
                if key.startswith("cost.")
            },
            "champion": known((evaluation.get("cost") or {}).get("champion")),
        },
        "gate": {"verdict": known(tags.get("gate")), "reason": known(tags.get("gate_reason"))},
        "lineage": {
            "run_id": version.run_id,
            "git_commit": known(tags.get("git_commit")),
            "git_dirty": known(tags.get("git_dirty")),
            "env": known(tags.get("env") or None),
            # where it trained: here (local) or the model's own environment, and its packages' versions
            "environment": known(tags.get("environment")),
            "packages": known(tags.get("environment_packages")),
            "overrides": tags.get("overrides") or "none",
            "config": known(config_text),
        },
        "files": digests.recorded(tags) or UNKNOWN,
        "monitoring": {"baseline": baseline_summary(profile), "last_run": last_monitor(tags)},
        "alias_history": moves,
    }


def filled(record: dict[str, Any]) -> dict[str, Any]:
    """Return ``record`` with each empty field as ``none`` (a slice not compared, a first move)."""
    return {key: "none" if value is None else value for key, value in record.items()}


def known(value: Any) -> Any:
    """Return ``value``, or ``unknown`` when nothing records it."""
    return UNKNOWN if value is None or value == "" else value


def stamp(milliseconds: int | None) -> str:
    """Return an MLflow timestamp as ISO 8601 UTC."""
    from datetime import UTC, datetime

    if not milliseconds:
        return UNKNOWN
    return datetime.fromtimestamp(milliseconds / 1000, UTC).isoformat(timespec="seconds")


def parse_yaml(text: str | None) -> dict[str, Any]:
    """Return the version's recorded config as a mapping (empty when none was recorded)."""
    import yaml

    try:
        found = yaml.safe_load(text or "")
    except yaml.YAMLError:
        return {}
    return found if isinstance(found, dict) else {}


def described(name: str, config: dict[str, Any]) -> dict[str, str]:
    """Return description, intended use and limitations: the version's recorded config (``card``),
    else the model folder's README front matter; ``unknown`` when neither says."""
    front = front_matter(name)
    card = config.get("card") or {}
    return {key: known(card.get(key) or front.get(key)) for key in DESCRIBED}


def front_matter(name: str) -> dict[str, Any]:
    """Return the YAML front matter of the model folder's README.md (empty when it has none)."""
    from mlops.core.errors import MlopsError
    from mlops.models import catalog

    try:
        readme = catalog.model_dir(name) / "README.md"
    except MlopsError:  # a model whose folder is gone: the registry still has its card
        return {}
    text = readme.read_text(encoding="utf-8") if readme.is_file() else ""
    if not text.startswith("---\n"):
        return {}
    head, _, _ = text[4:].partition("\n---")
    found = parse_yaml(head)
    return {key.replace(" ", "_").lower(): value for key, value in found.items()}


def artifact_json(root: str, path: str, folder: Path) -> dict[str, Any]:
    """Return a JSON artifact at ``path`` under the run's artifact URI ``root`` (empty when the run did
    not log it or it is not JSON)."""
    found = fetched(root, path, folder)
    try:
        loaded = json.loads(found.read_text()) if found else {}
    except ValueError:
        return {}
    return loaded if isinstance(loaded, dict) else {}


def model_path(version: ModelVersion, path: str) -> str:
    """Return the run-relative path of one file of a version's logged model (its source is
    ``runs:/<run_id>/model``, as registration writes it)."""
    return f"{cast(str, version.source).removeprefix('runs:/').partition('/')[2]}/{path}"


def fetched(root: str, path: str, folder: Path) -> Path | None:
    """Download one artifact at ``path`` under the run's artifact URI ``root`` into a fresh folder under
    ``folder``; None when it does not exist. The run's artifact store is read directly, with no lookup
    of logged models (which Azure ML's tracking server does not have)."""
    import mlflow.artifacts
    from mlflow.exceptions import MlflowException

    into = Path(tempfile.mkdtemp(dir=folder))
    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=f"{root}/{path}", dst_path=str(into)))
    except (MlflowException, OSError):
        return None


def schema(mlmodel: str, config: dict[str, Any]) -> dict[str, Any]:
    """Return the input columns and types of the logged signature (with the kind the config declares
    where the type alone does not say it: ``string (text)``), and the target."""
    import yaml

    try:
        signature = (yaml.safe_load(mlmodel) or {}).get("signature") or {}
        inputs = json.loads(signature.get("inputs") or "[]")
    except (yaml.YAMLError, ValueError, AttributeError):
        inputs = []
    declared = config.get("schema") or {}
    kinds = {column: kind for kind in ("categorical", "text") for column in declared.get(kind) or []}
    columns = {}
    for item in inputs:
        if isinstance(item, dict):
            name, kind = item.get("name", "?"), item.get("type", "?")
            columns[name] = f"{kind} ({kinds[name]})" if name in kinds else kind
    target = declared.get("target")
    return {"inputs": columns or UNKNOWN, "target": known(target)}


def baseline_summary(profile: dict[str, Any]) -> dict[str, Any] | str:
    """Return what the monitoring baseline holds: rows, columns and the test metrics it records."""
    if not profile:
        return UNKNOWN
    importance = profile.get("feature_importance") or {}
    top = sorted(importance, key=lambda column: -abs(importance[column] or 0))[:5]
    summary = {
        "training_rows": known(profile.get("training_rows")),
        "sample_rows": known(profile.get("sample_rows")),
        "columns": len(profile.get("columns") or {}),
        "most_important_features": top,
    }
    own = profile.get("model_importance") or {}
    total = sum(abs(value) for value in own.values())
    if total:  # the model's own ranking (a booster's gain), each column's share of it
        ranked = sorted(own, key=lambda column: -abs(own[column]))[:5]
        summary["model_importance"] = [f"{column} {abs(own[column]) / total:.0%}" for column in ranked]
    return summary


def last_monitor(tags: dict[str, str]) -> dict[str, Any] | str:
    """Return the version's last monitor run: its id, window, rows and whether it breached."""
    from mlops import registry

    run_id = tags.get("monitor_last_run")
    if not run_id:
        return "never monitored"
    try:
        run = registry.client().get_run(run_id)
    except Exception:  # a run deleted since: say what the version's tags still hold
        return {"run_id": run_id, "breached": tags.get("monitor_breached", UNKNOWN)}
    run_tags = run.data.tags
    return {
        "run_id": run_id,
        "breached": tags.get("monitor_breached", UNKNOWN),
        "window": f"{run_tags.get('window_start', UNKNOWN)} to {run_tags.get('window_end', UNKNOWN)}",
        "production_rows": known(run_tags.get("production_rows")),
    }


def write(card: dict[str, Any], folder: Path) -> list[Path]:
    """Write ``card`` as ``card.json``, ``card.md`` and ``card.html`` into ``folder``, all three or none;
    return the paths."""
    from mlops.core import atomic

    parts = sections(card)
    written: dict[str | Path, str | bytes] = {
        "card.json": json.dumps(card, indent=2),
        "card.md": markdown(card, parts),
        "card.html": page(card, parts),
    }
    return atomic.write_all(folder, written)


Table = tuple[list[str], list[list[Any]]]  # header, rows


def sections(card: dict[str, Any]) -> list[tuple[str, Table | str]]:
    """Return the card's sections in reading order: a title and a table, or a title and a text."""
    from mlops.evaluation import cost as costs

    data, evaluation, gate, lineage = card["data"], card["evaluation"], card["gate"], card["lineage"]
    facts = [
        ["owner", card["owner"]],
        ["task", card["task"]],
        ["description", card["description"]],
        ["intended use", card["intended_use"]],
        ["limitations", card["limitations"]],
        ["registered", card["registered_at"]],
        ["aliases", ", ".join(card["aliases"]) or "none"],
    ]
    primary = evaluation["primary_metric"]
    champion = evaluation["champion_metrics"] if isinstance(evaluation["champion_metrics"], dict) else {}
    metrics = [
        [name + (" (primary)" if name == primary else ""), value, champion.get(name, "")]
        for name, value in card["metrics"].items()
    ]
    compared = (
        f"compared with version {evaluation['compared_with']} on {number(evaluation['compared_rows'])} test "
        f"rows ({number(evaluation['excluded_rows'])} it trained on left out); improvement of {primary}: "
        f"{interval(evaluation['interval'])}"
        if evaluation["compared_with"] != UNKNOWN
        else "no champion to compare with at registration"
    )
    slices = [
        [
            item["name"],
            item["query"],
            item["rows"],
            item["candidate"],
            item["champion"],
            interval(item["interval"]),
            item["tolerance"],
            item["status"],
        ]
        for item in evaluation["slices"]
    ]
    measured, theirs = card["cost"]["measured"], card["cost"]["champion"]
    theirs = theirs if isinstance(theirs, dict) else {}
    cost = [
        [
            costs.LABELS.get(key, key),
            costs.formatted(key, value),
            costs.formatted(key, theirs.get(key)),
        ]
        for key, value in measured.items()
    ]
    files = card["files"]
    monitoring = card["monitoring"]
    baseline, last = monitoring["baseline"], monitoring["last_run"]
    return [
        ("Model", (["", ""], facts)),
        ("Gate", f"**{gate['verdict']}**: {gate['reason']}"),
        ("Data", (["", ""], [[key.replace("_", " "), value] for key, value in data.items()])),
        ("Schema", (["input", "type"], list(schema_rows(card["schema"])))),
        ("Metrics", (["metric", "this version", "champion (compared rows)"], metrics)),
        ("Comparison", compared),
        (
            "Slices",
            (
                ["slice", "query", "rows", "this version", "champion", "improvement", "tolerance", "status"],
                slices,
            )
            if slices
            else "none declared",
        ),
        ("Cost of serving", (["figure", "this version", "champion"], cost) if cost else UNKNOWN),
        (
            "Lineage",
            (["", ""], [[key.replace("_", " "), value] for key, value in lineage.items() if key != "config"]),
        ),
        ("Monitoring", (["", ""], [["baseline", flat(baseline)], ["last monitor run", flat(last)]])),
        (
            "Alias history",
            (
                ["when", "alias", "to", "from", "action", "by", "why"],
                [
                    [
                        m.get("at"),
                        m.get("alias"),
                        m.get("version"),
                        m.get("previous"),
                        m.get("action"),
                        m.get("by"),
                        m.get("reason"),
                    ]
                    for m in card["alias_history"]
                ],
            )
            if card["alias_history"]
            else "this version never held an alias",
        ),
        (
            "Files (sha256)",
            (["file", "sha256"], [[path, digest] for path, digest in files.items()])
            if isinstance(files, dict)
            else UNKNOWN,
        ),
        (
            "Config",
            f"```yaml\n{lineage['config'].rstrip()}\n```" if lineage["config"] != UNKNOWN else UNKNOWN,
        ),
    ]


def schema_rows(found: dict[str, Any]) -> Iterator[list[Any]]:
    """Yield the schema's input columns and the target as table rows."""
    inputs = found["inputs"]
    yield from (
        [[column, kind] for column, kind in inputs.items()] if isinstance(inputs, dict) else [[UNKNOWN, ""]]
    )
    yield [f"{found['target']} (target)", ""]


def interval(found: dict[str, Any] | None) -> str:
    """Return an improvement interval as the gate prints it."""
    from mlops.evaluation.uncertainty import Interval

    return str(Interval(**found)) if isinstance(found, dict) else ""


def flat(value: Any) -> str:
    """Return a mapping as ``key: value`` pairs on one line, anything else as it is."""
    if isinstance(value, dict):
        return "; ".join(f"{key.replace('_', ' ')}: {flat(item)}" for key, item in value.items())
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return number(value)


def markdown(card: dict[str, Any], parts: list[tuple[str, Table | str]]) -> str:
    """Return the card as Markdown."""
    lines = [f"# {card['model']} version {card['version']}", ""]
    for title, body in parts:
        lines += [f"## {title}", ""]
        if isinstance(body, str):
            lines += [body, ""]
            continue
        header, rows = body
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        lines += ["| " + " | ".join(cell(item) for item in row) + " |" for row in rows]
        lines.append("")
    return "\n".join(lines)


def cell(value: Any) -> str:
    """Return a value for one Markdown table cell: pipes and newlines escaped."""
    return number(value).replace("|", "\\|").replace("\n", " ")


def number(value: Any) -> str:
    """Return a number as a card prints it (4 significant digits), anything else as it is."""
    from mlops.reports import page as page_files

    if isinstance(value, bool) or not isinstance(value, int | float):
        return "" if value is None else str(value)
    return f"{value:,}" if isinstance(value, int) else page_files.number(value)


def page(card: dict[str, Any], parts: list[tuple[str, Table | str]]) -> str:
    """Return the card as one self-contained HTML page (inline CSS, no script)."""
    from mlops.reports import page as page_files

    return page_files.template("mlops.reports", TEMPLATE).render(
        title=f"{card['model']} version {card['version']}",
        sections=[section(heading, part) for heading, part in parts],
    )


def section(heading: str, part: Table | str) -> dict[str, Any]:
    """Return one section as the page prints it: its heading and a table (header, blank when every
    column is unnamed, and rows of printed cells), the code of a fenced text or a paragraph without
    ``**``."""
    found: dict[str, Any] = {"heading": heading, "table": None, "code": None, "text": None}
    if isinstance(part, str) and part.startswith("```"):
        found["code"] = part.split("\n", 1)[1].rsplit("```", 1)[0]
    elif isinstance(part, str):
        found["text"] = part.replace("**", "")
    else:
        header, rows = part
        found["table"] = {
            "header": header if any(header) else [],
            "rows": [[number(item) for item in row] for row in rows],
        }
    return found
