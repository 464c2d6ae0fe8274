"""Promotion on evidence, end to end on MLflow's real store: slices, cost of serving, the comparison
report, the model card, file digests checked by promote, deploy and batch, and the alias history."""

import hashlib
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlops import registry
from mlops.core.errors import MlopsError
from mlops.training.run import train_model

TAXI = ["data=generated", "data.n_rows=2000", "estimator.n_estimators=20", "estimator.n_jobs=1"]


def quiet(_line: str) -> None:
    pass


def trips_with_groups(path: Path) -> Path:
    """Write 1,000 rows where ``cost = 3x + 5 sin(w) + 8 g``: a model that sees ``w`` but not ``g`` is
    better on average and worse on the rows with ``g == 1``; ``rare`` marks 100 rows."""
    generator = np.random.default_rng(0)
    rows = 1000
    x, w = generator.uniform(0, 10, rows), generator.uniform(0, 2 * np.pi, rows)
    g = (generator.uniform(size=rows) < 0.15).astype(int)
    rare = np.zeros(rows, dtype=int)
    rare[generator.choice(rows, 100, replace=False)] = 1
    cost = 3 * x + 5 * np.sin(w) + 8 * g + generator.normal(0, 0.3, rows)
    pd.DataFrame({"x": x, "w": w, "g": g, "rare": rare, "cost": cost}).to_csv(path, index=False)
    return path


def grouped(path: Path, features: list[str]) -> list[str]:
    """Return the overrides that train taxi-fare on the grouped trips with ``features``."""
    return [
        "data=file",
        f"data.path={path}",
        f"schema.numeric=[{','.join(features)}]",
        "schema.categorical=[]",
        "~monitoring.feature_type_override",
        "~evaluation.thresholds",
        "estimator.n_estimators=30",
        "~evaluation.slices",
        "+evaluation.slices={with_g:{query:'g == 1',min_rows:20,tolerance:1.0},rare:{query:'rare == 1'}}",
    ]


def test_a_candidate_better_overall_but_worse_on_a_slice_is_rejected_naming_it(tmp_path, isolated_state):
    data = trips_with_groups(tmp_path / "trips.csv")
    champion = train_model("taxi-fare", grouped(data, ["x", "g"]), echo=quiet)
    assert champion.promoted
    candidate = train_model("taxi-fare", grouped(data, ["x", "w"]), echo=quiet)
    assert Path(candidate.report).is_file()
    evaluation = json.loads((logged(isolated_state, "2") / "evaluation" / "evaluation.json").read_text())
    primary = evaluation["interval"]
    assert primary["low"] > 0  # better overall: the whole interval of the improvement of rmse is above zero
    assert candidate.verdict == "reject"
    assert "on slice 'with_g' (g == 1," in candidate.reason
    assert "beyond its tolerance 1" in candidate.reason
    judged = {found["name"]: found for found in evaluation["slices"]}
    assert judged["with_g"]["status"] == "worse" and judged["with_g"]["gated"]
    assert judged["with_g"]["candidate"] > judged["with_g"]["champion"] + 1.0  # rmse: higher is worse
    rare = judged["rare"]
    assert 0 < rare["rows"] < 50 and rare["min_rows"] == 50
    assert rare["status"] == "too few rows" and not rare["gated"] and rare["interval"] is None
    assert rare["candidate"] is not None and rare["champion"] is not None  # reported all the same
    assert str(registry.champion("taxi-fare").version) == "1"


def test_a_slice_query_that_cannot_run_stops_the_train_before_anything_is_registered(tmp_path):
    bad = ["~evaluation.slices", "+evaluation.slices={far:{query:'distanse > 10'}}"]
    with pytest.raises(
        MlopsError, match=r"evaluation\.slices\.far\.query 'distanse > 10' cannot be evaluated"
    ):
        train_model("taxi-fare", [*TAXI, *bad], echo=quiet)
    with pytest.raises(MlopsError, match=r"evaluation\.slices\.far has unknown keys min_row"):
        train_model(
            "taxi-fare", [*TAXI, "+evaluation.slices.far={query:'distance > 1',min_row:5}"], echo=quiet
        )
    with pytest.raises(MlopsError, match=r"evaluation\.cost\.latency is not a cost; allowed: latency_p50"):
        train_model("taxi-fare", [*TAXI, "+evaluation.cost.latency=2"], echo=quiet)
    assert registry.champion("taxi-fare") is None


def test_ten_times_the_trees_is_rejected_by_a_latency_bound_and_a_same_size_model_is_not():
    first = train_model("taxi-fare", TAXI, echo=quiet)
    assert first.promoted
    bounds = [f"evaluation.cost.{key}=1.5" for key in ("latency_p50", "latency_p95", "throughput", "size")]
    same = train_model("taxi-fare", [*TAXI, "estimator.random_state=1", *bounds], echo=quiet)
    assert "evaluation.cost" not in same.reason
    bigger = train_model(
        "taxi-fare", [*TAXI, "estimator.n_estimators=200", "evaluation.cost.latency_p95=1.5"], echo=quiet
    )
    assert bigger.verdict == "reject", bigger.reason
    assert "above evaluation.cost.latency_p95 1.5x" in bigger.reason
    assert "the champion's (version 1)" in bigger.reason
    tags = registry.get_version("taxi-fare", bigger.version).tags
    figures = {key: float(value) for key, value in tags.items() if key.startswith("cost.")}
    assert set(figures) == {
        "cost.latency_p50_ms",
        "cost.latency_p95_ms",
        "cost.rows_per_second",
        "cost.size_bytes",
        "cost.load_memory_bytes",
    }
    assert all(value > 0 for value in figures.values())
    small = registry.get_version("taxi-fare", "1").tags
    assert figures["cost.size_bytes"] > 5 * float(small["cost.size_bytes"])
    run = registry.client().get_run(registry.get_version("taxi-fare", bigger.version).run_id)
    assert run.data.metrics["cost_latency_p95_ms"] == pytest.approx(figures["cost.latency_p95_ms"])


@pytest.fixture(scope="module")
def carded(tmp_path_factory, use_state):
    """A store with two versions of taxi-fare: the first champion, the second promoted by hand."""
    folder = tmp_path_factory.mktemp("carded")
    with use_state(folder):
        outcomes = [train_model("taxi-fare", TAXI, echo=quiet)]
        outcomes.append(train_model("taxi-fare", [*TAXI, "estimator.random_state=3"], echo=quiet))
        registry.promote("taxi-fare", "2", "tried by hand")
    return folder, outcomes


def logged(state: Path, version: str) -> Path:
    """Return the artifacts folder of the run that registered ``version`` of taxi-fare."""
    run_id = registry.get_version("taxi-fare", version).run_id
    return state / "artifacts" / "taxi-fare" / run_id / "artifacts"


def logged_model(state: Path, version: str) -> Path:
    """Return the folder of the logged model of ``version`` of taxi-fare in the store's artifacts."""
    return logged(state, version) / "model"


def leaves(node, path=""):
    """Yield every leaf of a JSON document with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from leaves(value, f"{path}[{index}]")
    else:
        yield path, node


def test_the_card_fills_every_field_or_says_unknown_and_its_digests_are_the_files(
    carded, use_state, run_mlops, tmp_path
):
    state, _ = carded
    with use_state(state):
        result = run_mlops("card", "taxi-fare", "--output", str(tmp_path / "card"))
        assert result.returncode == 0, result.stderr
        written = result.stdout.split()
        assert written == [str(tmp_path / "card" / name) for name in ("card.json", "card.md", "card.html")]
        card = json.loads((tmp_path / "card" / "card.json").read_text())
        empty = [path for path, value in leaves(card) if value is None or value == ""]
        assert not empty
        assert card["version"] == "2" and card["aliases"] == ["champion"]
        assert card["owner"] == "data-science" and card["task"] == "regression"
        assert card["intended_use"].startswith("An example of the framework")
        assert card["data"]["source"] != "unknown" and len(card["data"]["fingerprint"]) == 64
        assert card["data"]["train_rows"] + card["data"]["test_rows"] == 2000
        assert card["schema"]["inputs"]["distance"] == "double" and card["schema"]["target"] == "cost"
        assert (
            card["evaluation"]["compared_with"] == "1" and card["evaluation"]["interval"]["resamples"] == 1000
        )
        assert {found["name"] for found in card["evaluation"]["slices"]} == {"long_trips", "vendor_2"}
        assert card["cost"]["measured"]["latency_p95_ms"] > 0
        assert card["gate"]["verdict"] in ("promoted", "rejected", "investigate")
        assert len(card["lineage"]["git_commit"]) == 40
        assert card["monitoring"]["baseline"]["training_rows"] == card["data"]["train_rows"]
        assert card["monitoring"]["last_run"] == "never monitored"
        assert [(move["action"], move["previous"]) for move in card["alias_history"]] == [("promote", "1")]
        assert card["alias_history"][-1]["reason"] == "tried by hand"
        on_disk = {
            path.relative_to(logged_model(state, "2")).as_posix(): hashlib.sha256(
                path.read_bytes()
            ).hexdigest()
            for path in logged_model(state, "2").rglob("*")
            if path.is_file()
        }
        assert card["files"] == on_disk
        text = (tmp_path / "card" / "card.md").read_text()
        assert "# taxi-fare version 2" in text and "| model.skops | " in text and "tried by hand" in text
        assert re.search(r"\| batch throughput \| [\d,]+ rows/s \|", text)  # the figure and its unit
        page = (tmp_path / "card" / "card.html").read_text()
        assert "<title>taxi-fare version 2: model card</title>" in page and "<script" not in page
        # the card written at registration is logged with the version's run
        assert json.loads((logged(state, "2") / "card" / "card.json").read_text())["version"] == "2"
        assert (logged(state, "2") / "evaluation" / "comparison.html").is_file()


def test_history_lists_every_alias_move_and_never_rewrites_one(carded, use_state, run_mlops):
    state, _ = carded
    with use_state(state):
        before = dict(registry.client().get_registered_model("taxi-fare").tags)
        registry.rollback("taxi-fare", "back to the gate's choice")
        after = dict(registry.client().get_registered_model("taxi-fare").tags)
        moved = sorted(key for key in after if key.startswith(registry.MOVE_TAG_PREFIX))
        assert len(moved) == 3
        assert all(after[key] == value for key, value in before.items() if key in moved)  # append-only
        result = run_mlops("history", "taxi-fare", "--json")
        assert result.returncode == 0, result.stderr
        moves = json.loads(result.stdout)
        assert [(move["action"], move["version"], move["previous"]) for move in moves] == [
            ("gate", "1", None),
            ("promote", "2", "1"),
            ("rollback", "1", "2"),
        ]
        assert all(move["by"] and move["at"] for move in moves)
        assert registry.history("taxi-fare") == ["1"]
        table = run_mlops("history", "taxi-fare")
        assert "back to the gate's choice" in table.stdout and table.stdout.startswith("when")
        registry.promote("taxi-fare", "2", "again")  # leave version 2 the champion for the next tests
        unknown = run_mlops("history", "no-such-model")
        assert unknown.returncode == 2 and "unknown model 'no-such-model'" in unknown.stderr


def test_a_flipped_byte_in_a_logged_model_is_refused_by_promote_deploy_and_batch(
    carded, use_state, run_mlops, tmp_path
):
    state, _ = carded
    with use_state(state):
        model = logged_model(state, "2") / "model.skops"
        original = model.read_bytes()
        flipped = bytearray(original)
        flipped[len(flipped) // 2] ^= 0x01
        model.write_bytes(bytes(flipped))
        try:
            csv = Path("data-science/models/taxi-fare/data/taxi-batch.csv")
            for command in (
                ("promote", "taxi-fare", "2", "--reason", "check"),
                ("deploy", "taxi-fare", "--online", "--version", "2"),
                (
                    "batch",
                    "taxi-fare",
                    "--version",
                    "2",
                    "--input",
                    str(csv),
                    "--output",
                    str(tmp_path / "out"),
                ),
            ):
                result = run_mlops(*command)
                assert result.returncode == 2, (command, result.stdout, result.stderr)
                assert (
                    "version 2 of 'taxi-fare': file 'model.skops' of the logged model changed since"
                    in result.stderr
                )
                assert "Traceback" not in result.stderr
            assert not (tmp_path / "out").exists()
            (logged_model(state, "2") / "extra.txt").write_text("added")
            model.write_bytes(original)
            added = run_mlops("promote", "taxi-fare", "2", "--reason", "check")
            assert added.returncode == 2 and "file 'extra.txt' was added" in added.stderr
        finally:
            model.write_bytes(original)
            (logged_model(state, "2") / "extra.txt").unlink(missing_ok=True)
        assert run_mlops("promote", "taxi-fare", "2", "--reason", "restored").returncode == 0


@pytest.mark.parametrize(
    ("override", "message"),
    [
        (
            "evaluation.slices.long_trips.tolerance=-1",
            r"evaluation\.slices\.long_trips\.tolerance is -1; it must be a number",
        ),
        (
            "evaluation.slices.long_trips.min_rows=0",
            r"evaluation\.slices\.long_trips\.min_rows is 0; it must be a whole",
        ),
        (
            "evaluation.slices.long_trips.query=''",
            r"evaluation\.slices\.long_trips\.query is ''; write a pandas query",
        ),
        ("+evaluation.slices.far=10", r"evaluation\.slices\.far must be a mapping with a query"),
        ("evaluation.cost.latency_p95=0", r"evaluation\.cost\.latency_p95 is 0; it must be a ratio above 0"),
    ],
)
def test_a_malformed_slice_or_cost_bound_names_the_key_and_the_file(override, message):
    from mlops.models import catalog

    with pytest.raises(MlopsError, match=r"data-science/models/taxi-fare/config/model\.yaml: " + message):
        catalog.load_config("taxi-fare", [override])


def test_a_slice_over_a_column_with_missing_values_leaves_those_rows_out():
    from mlops.evaluation.slices import Slice

    frame = pd.DataFrame({"vendor": pd.array([1, 2, None, 2], dtype="Int64")})
    assert Slice("vendor_2", "vendor == 2").mask(frame).tolist() == [False, True, False, True]
