"""``mlops train`` end to end on MLflow's real SQLite store: register, gate, sweep, promote, roll back."""

import re
import socket
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from omegaconf import OmegaConf

from mlops import registry
from mlops.core import project
from mlops.core.errors import MlopsError
from mlops.models import catalog, data
from mlops.registry import digests, modelio, trust
from mlops.training.run import expand, train_model

FAST = ["data=generated", "data.n_rows=1500", "estimator.n_estimators=20"]


def quiet(_line: str) -> None:
    pass


def train(name="credit-default", overrides=(), **options):
    return train_model(name, [*FAST, *overrides], echo=quiet, **options)


def test_first_version_becomes_champion_with_metrics_lineage_signature_and_example():
    outcome = train()
    assert outcome.version == "1"
    assert outcome.promoted
    version = registry.champion("credit-default")
    assert str(version.version) == "1"
    tags = version.tags
    assert tags["gate"] == "promoted"
    assert float(tags["metric.roc_auc"]) == pytest.approx(outcome.metrics["roc_auc"])
    assert len(tags["git_commit"]) == 40
    assert len(tags["data_fingerprint"]) == 64
    assert tags["split_seed"] == "42"
    assert tags["env"] == "dev"
    # the config tag names the run's logged config.yaml, whose sha256 is beside it
    import hashlib

    import mlflow

    config = Path(mlflow.artifacts.download_artifacts(tags["config"])).read_text()
    assert hashlib.sha256(config.encode()).hexdigest() == tags["config_sha256"]
    assert yaml.safe_load(config)["estimator"]["n_estimators"] == 20
    assert tags["overrides"] == " ".join(FAST)
    assert any((project.state_dir() / "artifacts" / "credit-default").rglob("model.skops"))

    from mlflow.models import Model

    model = Model.load(f"models:/credit-default/{version.version}")
    inputs = {column["name"]: column["type"] for column in model.signature.inputs.to_dict()}
    assert inputs["age"] == "double"
    assert inputs["sex"] == "string"
    assert model.saved_input_example_info is not None
    flavor = model.flavors["sklearn"]
    assert flavor["serialization_format"] == "skops"
    assert "sklearn.tree._tree.Tree" in flavor["skops_trusted_types"]
    assert all(name.startswith(trust.SAFE_PACKAGES) for name in flavor["skops_trusted_types"])


def test_a_clearly_worse_version_is_rejected_with_the_reason_and_the_champion_stays():
    train()
    outcome = train(overrides=["estimator.max_depth=1", "estimator.n_estimators=2", "~evaluation.thresholds"])
    assert outcome.version == "2"
    assert not outcome.promoted
    assert str(registry.champion("credit-default").version) == "1"
    rejected = registry.get_version("credit-default", "2")
    assert rejected.tags["gate"] == "rejected"
    assert "does not beat the champion" in rejected.tags["gate_reason"]
    assert rejected.tags["compared_with_champion"] == "1"


def test_a_better_version_takes_the_champion_alias():
    train(overrides=["estimator.max_depth=1", "estimator.n_estimators=2", "~evaluation.thresholds"])
    outcome = train()
    assert outcome.promoted
    assert str(registry.champion("credit-default").version) == "2"
    assert registry.history("credit-default") == ["1", "2"]


def test_thresholds_reject_a_first_version():
    outcome = train(overrides=["evaluation.thresholds.roc_auc=0.99"])
    assert not outcome.promoted
    assert registry.champion("credit-default") is None
    assert "below the threshold 0.99" in registry.get_version("credit-default", "1").tags["gate_reason"]


def test_sweep_fits_every_combination_and_registers_only_the_best():
    lines = []
    outcome = train_model(
        "credit-default",
        [*FAST, "estimator.max_depth=1,6"],
        multirun=True,
        echo=lines.append,
    )
    assert outcome.overrides[-1] == "estimator.max_depth=6"
    assert any(line.startswith("credit-default: best of 2 runs: ") for line in lines)
    versions = registry.client().search_model_versions("name='credit-default'")
    assert [str(version.version) for version in versions] == ["1"]
    import mlflow

    runs = mlflow.search_runs(experiment_names=["credit-default"])
    assert len(runs) == 3  # the parent run and two nested trials
    assert runs["metrics.validation_roc_auc"].notna().sum() == 2


def test_expand_follows_hydra_sweep_syntax():
    assert expand(["a=1", "b=x,y"], multirun=True) == [["a=1", "b=x"], ["a=1", "b=y"]]
    assert len(expand(["a=range(0,3)", "b=choice(x,y)"], multirun=True)) == 6
    with pytest.raises(MlopsError, match="'b=x,y' is a sweep; add -m"):
        expand(["b=x,y"], multirun=False)


def test_promote_and_rollback_record_who_why_and_when(monkeypatch):
    monkeypatch.setenv("GITHUB_ACTOR", "ana")
    train()
    train(overrides=["estimator.max_depth=1", "estimator.n_estimators=2"])
    registry.promote("credit-default", "2", "hotfix for holiday traffic")
    promoted = registry.get_version("credit-default", "2")
    assert str(registry.champion("credit-default").version) == "2"
    assert promoted.tags["promoted_by"] == "ana"
    assert promoted.tags["promoted_reason"] == "hotfix for holiday traffic"
    assert promoted.tags["promoted_at"].startswith("20")

    assert registry.rollback("credit-default", "worse in production") == ("2", "1")
    assert str(registry.champion("credit-default").version) == "1"
    demoted = registry.get_version("credit-default", "2")
    assert demoted.tags["rolled_back_reason"] == "worse in production"
    assert demoted.tags["rolled_back_by"] == "ana"
    with pytest.raises(MlopsError, match="no earlier champion than version 1"):
        registry.rollback("credit-default", "again")


def test_promote_unknown_version_and_rollback_without_champion_are_clear():
    train()
    with pytest.raises(MlopsError, match="has no registered version '9'"):
        registry.promote("credit-default", "9", "why")
    with pytest.raises(MlopsError, match="no champion to roll back"):
        registry.rollback("breast-cancer", "why")


def test_data_without_the_target_registers_nothing(tmp_path):
    table = tmp_path / "clients.csv"
    from credit_default.data import load

    load(200).drop(columns="default_next_month").to_csv(table, index=False)
    with pytest.raises(MlopsError) as error:
        train_model("credit-default", ["data=file", f"data.path={table}"], echo=quiet)
    assert (
        str(error.value) == f"credit-default: column 'default_next_month' (schema.target) is not in {table}"
    )
    assert not (project.state_dir() / "mlflow.db").exists()


def test_tracking_uri_from_the_environment_is_honoured(tmp_path, monkeypatch):
    uri = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.setenv("MLOPS_ROOT", str(project.root()))
    monkeypatch.chdir(tmp_path)  # MLflow's default artifact root (./mlruns) for a SQLite URI
    assert project.tracking_uri() == uri
    train_model("breast-cancer", echo=quiet)
    assert (tmp_path / "elsewhere.db").is_file()
    assert str(registry.champion("breast-cancer").version) == "1"


def test_loading_refuses_a_model_that_trusts_an_unsafe_type(tmp_path):
    train_model("breast-cancer", echo=quiet)
    folder = registry.download(registry.champion("breast-cancer"), tmp_path)
    rows = data.load_sklearn_dataset("load_breast_cancer").drop(columns="target").head(3)
    assert list(modelio.load(folder, [], "breast-cancer").predict(rows)) == [0, 0, 0]
    mlmodel = yaml.safe_load((folder / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"].append("builtins.eval")
    (folder / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    with pytest.raises(MlopsError, match=r"holds type builtins\.eval"):
        modelio.load(folder, [], "breast-cancer")


def test_types_outside_sklearn_numpy_scipy_must_be_declared():
    with pytest.raises(MlopsError, match=r"add it to serialization\.trusted_types"):
        trust.check(["mypackage.Encoder", "sklearn.tree._tree.Tree"], [], "m")
    assert trust.check(["mypackage.Encoder"], ["mypackage.Encoder"], "m") == ["mypackage.Encoder"]


def test_a_champion_that_cannot_score_the_new_test_rows_blocks_promotion(tmp_path):
    train()
    from credit_default.data import load

    table = tmp_path / "clients.csv"
    load(1500).drop(columns="age").to_csv(table, index=False)
    kinds = ("pay_status", "bill_amount", "pay_amount")
    numeric = [f"{kind}_{month}" for kind in kinds for month in (1, 2, 3)]
    outcome = train_model(
        "credit-default",
        [
            "data=file",
            f"data.path={table}",
            f"schema.numeric=[limit_balance,{','.join(numeric)}]",
            "~evaluation.slices",  # its slice is over the dropped age
        ],
        echo=quiet,
    )
    assert not outcome.promoted
    assert "the champion (version 1) could not be scored on this test split" in outcome.reason
    assert "age" in outcome.reason
    assert str(registry.champion("credit-default").version) == "1"


def test_a_missing_text_value_is_missing_whether_none_or_nan():
    """pandas 2 keeps None in an object column and scikit-learn's imputers skip it; prep, mlops batch
    and the endpoint all turn it into NaN, so the model imputes it wherever it came from."""
    from mlops.models.features import fit, missing_as_nan

    frame = pd.DataFrame(
        {"x": [1.0, 2.0, 3.0, 4.0], "colour": pd.Series(["red", None, "red", np.nan], dtype=object)}
    )
    normalized = missing_as_nan(frame, ["colour", "absent"])
    assert normalized["colour"].isna().tolist() == [False, True, False, True]
    assert all(value != value for value in normalized["colour"][[1, 3]])  # NaN, not None
    assert normalized["x"].equals(frame["x"]) and frame["colour"][1] is None  # the input is left alone
    cfg = OmegaConf.create(
        {
            "name": "t",
            "task": "classification",
            "schema": {"target": "y", "numeric": ["x"], "categorical": ["colour"]},
            "preprocessing": OmegaConf.load(
                Path(__file__).parents[1] / "mlops" / "conf" / "preprocessing" / "standard.yaml"
            ),
            "estimator": {"_target_": "sklearn.linear_model.LogisticRegression"},
        }
    )
    pipeline = fit(cfg, normalized.assign(y=[0, 1, 0, 1]))
    imputed = pipeline.named_steps["preprocess"].transform(normalized)
    assert (imputed[1, 1:] == imputed[0, 1:]).all()  # the missing colour became the most frequent, red


def test_a_store_that_fails_to_answer_is_an_error_never_no_champion(monkeypatch):
    """The gate would read "no champion" as a first version and promote with nothing compared."""
    from mlops.steps import evaluate, prep, register, validate
    from mlops.steps import train as train_step

    assert registry.champion("credit-default") is None  # no registered model: not found
    train()
    registry.client().delete_registered_model_alias("credit-default", registry.CHAMPION)
    assert registry.champion("credit-default") is None  # a model without the alias: not found
    registry.make_champion("credit-default", "1")
    cfg = catalog.load_config("credit-default", FAST)
    split = prep.run(cfg)
    validate.run(cfg, split)
    pipeline = train_step.run(cfg, split.train)
    with socket.socket() as closed:  # a tracking server that is down: nothing listens on this port
        closed.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{closed.getsockname()[1]}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(
        MlopsError, match=r"cannot read the champion of 'credit-default': the registry store http"
    ):
        evaluate.run(cfg, pipeline, split.test)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert str(registry.champion("credit-default").version) == "1"  # nothing was promoted
    # the store answers the evaluation, then fails before the version is registered
    evaluation = evaluate.run(cfg, pipeline, split.test)
    assert evaluation.champion_version == "1"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", dead)
    with pytest.raises(
        MlopsError, match=r"cannot register a version of 'credit-default': the registry store"
    ):
        register.run(cfg, pipeline, split, evaluation)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    assert str(registry.champion("credit-default").version) == "1"
    assert len(registry.client().search_model_versions("name='credit-default'")) == 1


def test_concurrent_trains_end_with_the_best_passing_version_each_compared_with_its_moment():
    """Moving the alias is a compare-and-set: without it the last train to finish took the alias."""
    import subprocess
    import sys

    depths = [12, 2, 6, 4]
    trains = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mlops",
                "train",
                "taxi-fare",
                "data=generated",
                "data.n_rows=3000",
                "estimator.n_estimators=20",
                f"estimator.max_depth={depth}",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for depth in depths
    ]
    for train in trains:
        _, stderr = train.communicate(timeout=600)
        assert train.returncode == 0, stderr
    versions = registry.client().search_model_versions("name='taxi-fare'")
    assert len(versions) == 4
    tags = {str(v.version): v.tags for v in versions}
    passing = {n: float(t["metric.rmse"]) for n, t in tags.items() if float(t["metric.r2"]) >= 0.7}
    champion = str(registry.champion("taxi-fare").version)
    assert champion == min(passing, key=passing.get)
    history = registry.history("taxi-fare")
    assert history[-1] == champion
    for position, version in enumerate(history):  # each promotion beat the champion of its moment
        assert tags[version]["compared_with_champion"] == (history[position - 1] if position else "none")
        assert tags[version]["gate"] == "promoted"
    for version in set(tags) - set(history):
        assert tags[version]["gate"] == "rejected"
        assert tags[version]["compared_with_champion"] in history


def test_the_champion_is_compared_only_on_test_rows_it_did_not_train_on():
    from mlops.evaluation import overlap
    from mlops.steps import prep

    train()  # version 1, split seed 42
    same = train(overrides=["estimator.n_estimators=30"])  # same split: every test row is fair
    assert "test rows the champion did not train on" not in same.reason
    other = train(overrides=["split.seed=7", "~evaluation.thresholds"])
    cfg = catalog.load_config("credit-default", [*FAST, "split.seed=7"])
    test = prep.run(cfg).test
    with tempfile.TemporaryDirectory() as folder:
        downloaded = registry.download(registry.get_version("credit-default", "1"), folder)
        columns, trained = overlap.read(downloaded)
    seen = int(np.isin(overlap.digests(test, columns), trained).sum())
    assert 0 < seen < len(test)  # another seed: some of these test rows trained version 1
    fair = len(test) - seen
    expected = f"(on the {fair:,} test rows the champion did not train on ({seen:,} it trained on left out))"
    assert expected in other.reason
    tags = registry.get_version("credit-default", other.version).tags
    assert tags["gate_reason"] == other.reason


def test_a_champion_whose_training_rows_are_unknown_is_compared_on_every_row_and_says_so():
    train()
    champion = registry.get_version("credit-default", "1")
    recorded = next((project.state_dir() / "artifacts").rglob("training_rows.npz"))
    recorded.unlink()  # a version registered before the rows (and the file digests) were recorded
    registry.client().delete_model_version_tag("credit-default", "1", digests.TAG)
    outcome = train(overrides=["split.seed=7", "~evaluation.thresholds"])
    assert "the champion's training rows are not recorded: compared on every test row" in outcome.reason
    assert str(champion.version) == "1"


def interval_of(reason: str) -> tuple[float, float]:
    found = re.search(r"95% interval \[([-+0-9.e]+), ([-+0-9.e]+)\]", reason)
    assert found, reason
    return float(found.group(1)), float(found.group(2))


def test_a_clearly_better_retrain_is_promoted_and_a_seed_only_one_is_left_to_a_person():
    def taxi(*overrides):
        return train("taxi-fare", ["data.n_rows=3000", "~evaluation.thresholds", *overrides])

    weak = taxi("estimator.n_estimators=3", "estimator.max_depth=2")
    assert weak.promoted
    stronger = taxi()  # 20 trees of depth 12
    assert stronger.promoted, stronger.reason
    assert interval_of(stronger.reason)[0] > 0  # the whole interval on the better side
    reseeded = taxi("estimator.random_state=1")
    assert reseeded.verdict == "investigate", reseeded.reason
    low, high = interval_of(reseeded.reason)
    assert low < 0 < high and "mlops promote" in reseeded.reason
    assert registry.get_version("taxi-fare", reseeded.version).tags["gate"] == "investigate"
    assert str(registry.champion("taxi-fare").version) == stronger.version


def test_the_bootstrap_is_paired_and_seeded():
    from mlops.evaluation.metrics import Outputs
    from mlops.evaluation.uncertainty import improvement

    rng = np.random.default_rng(0)
    target = rng.normal(size=400)
    close = Outputs(target + rng.normal(scale=0.5, size=400))
    same = improvement("regression", "rmse", target, close, close, level=0.9, resamples=200, seed=3)
    assert (same.estimate, same.low, same.high) == (0, 0, 0)  # paired: identical outputs never differ
    better = Outputs(target + rng.normal(scale=0.2, size=400))
    first = improvement("regression", "rmse", target, better, close, level=0.9, resamples=200, seed=3)
    again = improvement("regression", "rmse", target, better, close, level=0.9, resamples=200, seed=3)
    assert first == again and 0 < first.low < first.estimate < first.high
    assert str(first).startswith(f"{first.estimate:+.4g}, 90% interval [")


def test_an_improvement_within_rounding_is_zero_so_an_identical_retrain_is_rejected():
    from mlops.evaluation import gate
    from mlops.evaluation.metrics import Outputs
    from mlops.evaluation.uncertainty import improvement

    rng = np.random.default_rng(2)
    target = rng.normal(size=400)
    champion = target + rng.normal(scale=0.5, size=400)
    retrained = np.nextafter(champion, np.inf)  # one unit in the last place: trees summed in another order
    found = improvement(
        "regression", "rmse", target, Outputs(retrained), Outputs(champion), level=0.95, resamples=200, seed=3
    )
    assert (found.estimate, found.low, found.high) == (0, 0, 0)
    decision = gate.decide(
        "regression",
        {"rmse": 0.5},
        primary_metric="rmse",
        thresholds={},
        min_improvement=0.0,
        champion={"rmse": 0.5},
        champion_version="1",
        interval=found,
    )
    assert (
        decision.verdict == "reject"
        and "does not beat the champion (improvement 0, 95% interval [0, 0]" in (decision.reason)
    )


def test_the_bootstrap_auc_of_a_resample_is_scikit_learns():
    from sklearn.metrics import roc_auc_score

    from mlops.evaluation.uncertainty import Ranked

    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, 2000)
    scores = np.round(rng.random(2000) * 0.7 + labels * 0.3, 2)  # rounded: many ties
    ranked = Ranked(scores, labels.astype(float))
    for _ in range(20):
        rows = rng.integers(0, 2000, 2000)
        weights = np.bincount(rows, minlength=2000).astype(float)
        assert ranked.auc(weights) == pytest.approx(roc_auc_score(labels[rows], scores[rows]), abs=1e-12)
    assert np.isnan(ranked.auc((labels == 1).astype(float)))  # one class drawn: undefined
