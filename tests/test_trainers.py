"""The trainer route (``trainer:``, mlops.models.protocol): a model trained by its own function, checked
before anything is registered, saved as an MLflow pyfunc in its own format (never pickle) and handled
by every shared step as a scikit-learn pipeline is.

The module trains, into one store, disease-progression (a network trained by its own NumPy loop) twice
(version 2 is gated against version 1 with the paired interval) and parcel-delay (native LightGBM)
once; the bad trainers below are named by overrides (``trainer._target_=test_trainers.<name>``).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from azure_runtime import build_venv, run_bare
from mlflow.models import Model as MlflowModel

from mlops import registry
from mlops.core.errors import MlopsError
from mlops.models import catalog, trained
from mlops.models.features import feature_columns
from mlops.steps import prep, train
from mlops.training.run import train_model

REPO = Path(__file__).resolve().parents[1]
OWN, BOOSTER = "disease-progression", "parcel-delay"
PARCELS = ["data.n_rows=2000"]


class Constant:
    """A model of a bad trainer: predicts ``value`` for ``rows`` rows (None: one per row)."""

    def __init__(self, value: float = 1.0, rows: int | None = None) -> None:
        self.value, self.rows = value, rows

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return np.full(len(frame) if self.rows is None else self.rows, self.value)

    def save(self, folder: Path) -> None:
        (Path(folder) / "value.json").write_text(json.dumps(self.value))

    @classmethod
    def load(cls, folder: Path) -> Constant:
        return cls(json.loads((Path(folder) / "value.json").read_text()))


class Forgetful(Constant):
    """Saves nothing of what it predicts: loads back as a different model."""

    @classmethod
    def load(cls, folder: Path) -> Constant:
        return cls(-1.0)


class Unreadable(Constant):
    """Cannot read what it saved."""

    @classmethod
    def load(cls, folder: Path) -> Constant:
        raise FileNotFoundError("weights.bin")


def raises(train, config, **params):
    raise ValueError("the loss diverged at epoch 3")


def no_predict(train, config, **params):
    return object()


def wrong_rows(train, config, **params):
    return Constant(rows=3)


def not_finite(train, config, **params):
    return Constant(float("nan"))


def forgetful(train, config, **params):
    return Forgetful()


def unreadable(train, config, **params):
    return Unreadable()


SEEN: dict[str, tuple[int, int]] = {}  # what each trainer below was given: training and validation rows


def asks_for_validation(train, config, validation, **params):
    SEEN["asks_for_validation"] = (len(train), len(validation))
    return Constant(0.0)


def does_not_ask(train, config, **params):
    SEEN["does_not_ask"] = (len(train), 0)
    return Constant(0.0)


def constant(train, config, **params):
    """A valid trainer of the simplest model: the training mean, for every row."""
    return Constant(float(train[config.schema.target].mean()))


@pytest.fixture(scope="module")
def store(trained_state, use_state):
    """disease-progression versions 1 and 2 (the same network, retrained), parcel-delay version 1."""
    folder = trained_state("trainers-state", [(OWN, []), (OWN, []), (BOOSTER, PARCELS)])
    with use_state(folder):
        yield folder


@pytest.fixture
def isolated_state(store):
    """Tests here share the module's store."""
    return store


def downloaded(name: str, version: str, into: Path) -> Path:
    """Return the MLflow model folder of ``version`` of ``name``, downloaded into ``into``."""
    return registry.download(registry.get_version(name, version), into)


@pytest.mark.parametrize(
    ("name", "files"), [(OWN, ["inputs.json", "weights.npz"]), (BOOSTER, ["columns.json", "model.txt"])]
)
def test_a_version_is_a_pyfunc_in_the_models_own_format_never_a_pickle(name, files, tmp_path):
    folder = downloaded(name, "1", tmp_path)
    flavors = MlflowModel.load(str(folder / "MLmodel")).flavors
    assert "sklearn" not in flavors
    assert flavors["python_function"]["loader_module"] == "mlops.models.trained"
    data = folder / flavors["python_function"]["data"]
    assert sorted(path.name for path in (data / trained.FILES).iterdir()) == files
    assert not [path for path in folder.rglob("*") if path.suffix in (".pkl", ".pickle", ".skops", ".joblib")]
    assert (folder / "code" / "mlops" / "models" / "trained.py").is_file()  # its loader travels with it


def test_the_second_training_is_gated_against_the_first_with_the_paired_interval():
    version = registry.get_version(OWN, "2")
    assert version.tags["gate"] in ("rejected", "investigate")  # the same network again: no clear improvement
    evaluation = registry.client().download_artifacts(version.run_id, "evaluation/evaluation.json")
    report = json.loads(Path(evaluation).read_text())
    text = json.dumps(report)
    assert "interval" in text and '"champion_version": "1"' in text.replace(" ", "").replace('":"', '": "')


def test_mlflows_own_loader_predicts_as_the_framework_does(tmp_path):
    cfg = catalog.load_config(BOOSTER, PARCELS)
    rows = prep.run(cfg).test.head(50)[feature_columns(cfg)]
    loaded = registry.load(registry.get_version(BOOSTER, "1"), catalog.trusted(cfg))
    import mlflow.pyfunc

    pyfunc = mlflow.pyfunc.load_model(str(downloaded(BOOSTER, "1", tmp_path)))
    np.testing.assert_array_equal(pyfunc.predict(rows), loaded.predict(rows))
    assert loaded.predict_proba(rows).shape == (50, 2) and list(loaded.classes_) == [0, 1]


def test_a_fresh_venv_with_only_the_models_requirements_loads_both_examples(tmp_path):
    """The logged folders alone, in an environment built from environment/requirements.txt: no repo on
    the path, no framework installed; MLflow's pyfunc loader runs mlops.models.trained from code/."""
    expected = {}
    for name, overrides in ((OWN, []), (BOOSTER, PARCELS)):
        cfg = catalog.load_config(name, overrides)
        rows = prep.run(cfg).test.head(30)[feature_columns(cfg)]
        numeric = {column: "float64" for column in cfg.schema.numeric}
        rows = rows.astype(numeric)
        if name == BOOSTER:
            rows = rows.astype({"fragile": bool, "shipped_at": "datetime64[ns]"})
        rows.to_parquet(tmp_path / f"{name}.parquet")
        expected[name] = registry.load(registry.get_version(name, "1"), catalog.trusted(cfg)).predict(rows)
        downloaded(name, "1", tmp_path / name)
    requirements = (REPO / "data-science" / "models" / OWN / "environment" / "requirements.txt").read_text()
    python = build_venv([*requirements.splitlines(), "pyarrow"], tmp_path / "venv") / "python"
    script = (
        "import json, sys, importlib.util, mlflow.pyfunc, pandas as pd\n"
        "assert importlib.util.find_spec('mlops') is None, 'the framework must not be installed'\n"
        "model = mlflow.pyfunc.load_model(sys.argv[1])\n"
        "print(json.dumps(list(map(float, model.predict(pd.read_parquet(sys.argv[2]))))))\n"
    )
    for name in (OWN, BOOSTER):
        folder = next((tmp_path / name).rglob("MLmodel")).parent
        result = run_bare(python, script, str(folder), str(tmp_path / f"{name}.parquet"), cwd=tmp_path)
        assert result.returncode == 0, result.stderr[-3000:]
        np.testing.assert_allclose(json.loads(result.stdout.splitlines()[-1]), expected[name].astype(float))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("raises", "trainer (test_trainers.raises) failed: ValueError: the loss diverged at epoch 3"),
        ("no_predict", "returned a object without predict, save, load; return an object with the methods"),
        (
            "wrong_rows",
            "predict failed: ValueError: predict returned 3 values for 200 rows; return one per row",
        ),
        ("not_finite", "returned 200 non-finite values (NaN or infinity) for 200 rows"),
        ("forgetful", "the model loaded from what its save wrote predicts differently"),
        ("unreadable", "its model's load failed: FileNotFoundError: weights.bin"),
        ("nowhere", "trainer: cannot build test_trainers.nowhere"),
    ],
)
def test_a_trainer_that_breaks_the_protocol_is_one_line_and_nothing_is_registered(target, expected):
    before = len(registry.client().search_model_versions(f"name='{OWN}'"))
    with pytest.raises(MlopsError) as error:
        train_model(OWN, [f"trainer._target_=test_trainers.{target}"], echo=lambda _line: None)
    message = str(error.value)
    assert message.startswith(f"{OWN}: ") and expected in message and "\n" not in message, message
    assert len(registry.client().search_model_versions(f"name='{OWN}'")) == before


def test_a_classifier_without_probabilities_is_refused_naming_what_is_missing():
    with pytest.raises(MlopsError, match=r"without predict_proba, classes_; return an object"):
        train_model(BOOSTER, [*PARCELS, "trainer._target_=test_trainers.constant"], echo=lambda _line: None)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["+estimator._target_=sklearn.linear_model.Ridge"],
            "model.yaml: trainer and estimator are both set: keep one",
        ),
        (
            ["+features=[{_target_: sklearn.preprocessing.StandardScaler}]"],
            "features apply to an estimator's",
        ),
        (
            ["trainer._target_=sklearn.linear_model.Ridge"],
            "trainer sklearn.linear_model.Ridge is not a function",
        ),
    ],
)
def test_a_config_that_mixes_the_routes_is_refused_naming_the_key(overrides, expected):
    with pytest.raises(MlopsError) as error:
        train_model(OWN, overrides, echo=lambda _line: None)
    assert expected in str(error.value)


def test_the_cli_says_a_broken_trainer_in_one_line_and_exits_non_zero(run_mlops):
    result = run_mlops("train", OWN, "trainer._target_=disease_progression.network.missing")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error: {OWN}: trainer: cannot build")


def test_the_trainer_gets_the_validation_share_only_when_it_asks_for_it():
    from mlops.models import trainer

    cfg = catalog.load_config(OWN)
    rows = prep.run(cfg).train
    for target in ("asks_for_validation", "does_not_ask"):
        trainer.fit(catalog.load_config(OWN, [f"trainer._target_=test_trainers.{target}"]), rows)
    fitted, held = SEEN["asks_for_validation"]
    assert fitted + held == len(rows) and held == pytest.approx(len(rows) * cfg.split.validation_size, abs=1)
    assert SEEN["does_not_ask"] == (len(rows), 0)


@pytest.mark.parametrize("library", ["lightgbm", "xgboost"])
def test_each_booster_stops_early_saves_its_own_file_and_ranks_every_raw_column(library, tmp_path):
    cfg = catalog.load_config(
        BOOSTER,
        [
            *PARCELS,
            f"trainer._target_=mlops.models.boosters.{library}",
            "~trainer.params",
            "+trainer.params.seed=1",
        ],
    )
    split = prep.run(cfg)
    model = train.run(cfg, split.train)
    booster = model.model
    rounds = booster.model.num_trees() if library == "lightgbm" else booster.model.num_boosted_rounds()
    assert 0 < rounds < cfg.trainer.num_boost_round  # stopped on the validation share
    trained.write(model, tmp_path / "saved")
    saved = sorted(path.name for path in (tmp_path / "saved" / trained.FILES).iterdir())
    assert saved == ["columns.json", "model.txt" if library == "lightgbm" else "model.json"]
    again = trained.read(tmp_path / "saved")
    rows = split.test[feature_columns(cfg)]
    np.testing.assert_allclose(again.predict_proba(rows), model.predict_proba(rows))
    assert set(model.importances()) == set(feature_columns(cfg)) and model.importances()["distance_km"] > 0


def test_a_booster_reads_an_unseen_category_and_missing_values_as_missing():
    cfg = catalog.load_config(BOOSTER, PARCELS)
    split = prep.run(cfg)
    model = train.run(cfg, split.train)
    rows = split.test[feature_columns(cfg)].head(3).copy()
    rows["carrier"] = ["a new carrier", None, rows["carrier"].iloc[2]]
    rows["distance_km"] = [np.nan, 10.0, 10.0]
    assert np.isfinite(model.predict_proba(rows)).all()


def test_a_text_column_is_refused_by_a_booster_in_one_line():
    with pytest.raises(MlopsError, match=r"text column carrier cannot go to a booster raw"):
        train_model(
            BOOSTER,
            [*PARCELS, "schema.categorical=[service, destination_zone]", "schema.text=[carrier]"],
            echo=lambda _line: None,
        )


def test_the_card_shows_the_boosters_own_importance(run_mlops, tmp_path):
    result = run_mlops("card", BOOSTER, "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    card = (tmp_path / "card.md").read_text()
    assert "model importance: distance_km " in card
    assert "| environment | local |" in card and "lightgbm==" in card  # where it trained, with what


@pytest.mark.parametrize(
    ("name", "batch"),
    [(OWN, "diabetes-batch.csv"), (BOOSTER, "parcels-batch.csv")],
)
def test_the_readme_loop_runs_on_each_example(name, batch, run_mlops, tmp_path):
    """Deploy online and invoke with the logged example, batch a file, monitor it, validate for Azure."""
    data = REPO / "data-science" / "models" / name / "data" / batch
    deployed = run_mlops("deploy", name, "--online")
    try:
        assert deployed.returncode == 0, deployed.stderr
        invoked = run_mlops("invoke", name, "--example")
        assert invoked.returncode == 0, invoked.stderr
        answer = json.loads(invoked.stdout[: invoked.stdout.rindex("}") + 1])
        assert len(answer["predictions"]) == 5
    finally:
        assert run_mlops("stop", name).returncode == 0
    scored = run_mlops("batch", name, "--input", str(data), "--output", str(tmp_path / "batch"))
    assert scored.returncode == 0, scored.stderr
    predictions = pd.read_csv(tmp_path / "batch" / "predictions.csv")
    assert len(predictions) == len(pd.read_csv(data)) and predictions["prediction"].notna().all()
    monitored = run_mlops(
        "monitor", name, "--production", str(data), "--stamp", "now", "--out", str(tmp_path / "monitor")
    )
    assert monitored.returncode in (0, 1), monitored.stderr  # 1: a breach; either way a report
    assert (tmp_path / "monitor" / "report.html").is_file() and "Traceback" not in monitored.stderr
    validated = run_mlops("azure", "validate", name)
    assert validated.returncode == 0, validated.stdout + validated.stderr


def test_the_trainers_package_is_trusted_and_the_framework_never_wholesale():
    assert catalog.trusted(catalog.load_config(OWN)) == ["disease_progression."]  # lightgbm's is mlops.
    assert catalog.trusted(catalog.load_config(BOOSTER)) == []
