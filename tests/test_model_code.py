"""A model brings its own code (ticket-routing, the example): its feature transformer fitted and served
with it, text, date-time and boolean columns, three string classes, its own metric as the gate's, and
LightGBM as its estimator; the logged version carries its code and loads where only the model's
requirements are installed; a mistake in any of it is one line naming the key.

The module trains ticket-routing twice into one store: version 1 with its logistic regression, version
2 with LightGBM, gated against version 1 on misrouting_cost.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml
from azure_runtime import build_venv, run_bare
from click.testing import CliRunner
from mlflow.models import Model as MlflowModel

from mlops import registry
from mlops.cli import Group
from mlops.cli import batch as batch_commands
from mlops.core.errors import MlopsError
from mlops.models import catalog, columns
from mlops.models.features import feature_columns, normalize
from mlops.registry import artifacts
from mlops.scoring import contract
from mlops.serving import endpoints, keys
from mlops.steps import validate
from mlops.training.run import train_model

NAME = "ticket-routing"
REPO = Path(__file__).resolve().parents[1]
FOLDER = REPO / "data-science" / "models" / NAME
BATCH = FOLDER / "data" / "tickets-batch.csv"
RAW = [  # what a caller sends: text, ISO 8601 date-times (one with a zone), booleans, nulls
    {
        "subject": "Refund for an invoice charged twice",
        "opened_at": "2026-03-02T10:15:00",
        "premium": True,
        "account_age_days": 400,
        "attachments": 1,
        "channel": "email",
    },
    {
        "subject": "App crashes with an error on login",
        "opened_at": "2026-03-07T23:40:00+01:00",
        "premium": False,
        "account_age_days": 20,
        "attachments": 2,
        "channel": "chat",
    },
    {
        "subject": None,
        "opened_at": None,
        "premium": None,
        "account_age_days": 100,
        "attachments": 0,
        "channel": "phone",
    },
]


def always_nan(y_true, y_pred) -> float:
    """A metric that cannot be measured (named by a test's evaluation.metrics)."""
    return math.nan


@pytest.fixture(scope="module")
def store(trained_state, use_state):
    """ticket-routing: version 1 (logistic regression, the champion), version 2 (LightGBM)."""
    folder = trained_state("model-code-state", [(NAME, []), (NAME, ["estimator=lightgbm"])])
    with use_state(folder):
        yield folder


@pytest.fixture
def isolated_state(store):
    """Tests here share the module's store."""
    return store


def downloaded(version: str, into: Path) -> Path:
    """Return the MLflow model folder of ``version``, downloaded into ``into``."""
    return registry.download(registry.get_version(NAME, version), into)


def frame_of(rows: list[dict]) -> pd.DataFrame:
    """Return request rows as the model's training frame holds them (date-times and booleans read)."""
    cfg = catalog.load_config(NAME)
    return normalize(cfg, pd.DataFrame(rows)[feature_columns(cfg)])


def test_a_version_carries_its_code_and_the_signature_of_the_raw_columns(tmp_path):
    folder = downloaded("1", tmp_path)
    assert (folder / "code" / "ticket_routing" / "features.py").is_file()
    assert (folder / "code" / "mlops" / "models" / "columns.py").is_file()  # the framework's, carried
    assert not list((folder / "code").rglob("__pycache__"))
    assert sorted(path.name for path in (folder / "code" / "mlops").rglob("*.py")) == [
        "__init__.py",
        "__init__.py",
        "boosters.py",
        "columns.py",
        "trained.py",
    ]
    flavor = yaml.safe_load((folder / "MLmodel").read_text())["flavors"]["sklearn"]
    assert "ticket_routing.features.AfterHours" in flavor["skops_trusted_types"]
    assert "mlops.models.columns.Text" in flavor["skops_trusted_types"]
    signature = MlflowModel.load(str(folder)).signature
    types = {spec.name: spec.type.name for spec in signature.inputs.inputs}
    assert types == {  # the columns a caller sends, never the transformer's derived ones
        "account_age_days": "double",
        "attachments": "double",
        "channel": "string",
        "premium": "boolean",
        "opened_at": "datetime",
        "subject": "string",
    }


def test_string_classes_are_trained_gated_on_the_models_own_metric_and_reported(tmp_path):
    second = registry.get_version(NAME, "2")
    assert second.tags["gate"] in ("promoted", "rejected", "investigate")
    assert "misrouting_cost" in second.tags["gate_reason"]
    run = registry.client().get_run(second.run_id)
    assert {"test_misrouting_cost", "test_f1", "test_roc_auc", "test_log_loss"} <= set(run.data.metrics)
    assert 0 < run.data.metrics["test_misrouting_cost"] < 1.5  # the threshold it passed
    saved = Path(
        registry.client().download_artifacts(second.run_id, artifacts.EVALUATION_ARTIFACT_PATH, tmp_path)
    )
    evaluation = json.loads((saved / artifacts.EVALUATION_FILE).read_text())
    assert evaluation["directions"]["misrouting_cost"] is False and evaluation["directions"]["f1"] is True
    assert evaluation["interval"]["rows"] == 600
    assert [item["name"] for item in evaluation["slices"]] == ["premium"]
    page = (saved / artifacts.COMPARISON_FILE).read_text()
    row = page[page.index('<td class="metric">misrouting_cost') :].split("</tr>")[0]
    assert '<span class="tag">primary</span><span class="direction">lower is better</span>' in row
    assert row.endswith(">+0.045 worse</td>")  # 0.7167 against the champion's 0.6717: the candidate is worse


def test_the_lightgbm_version_serves_raw_values_on_the_local_endpoint(tmp_path):
    cfg = catalog.load_config(NAME)
    settings = dict(cfg.deployment.online)
    record = endpoints.deploy(NAME, "blue", "2", None, None, settings, catalog.trusted(cfg))
    try:
        key = keys.read(endpoints.folder(NAME))["primary"]

        def score(payload) -> tuple[int, dict]:
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            status, answer, _ = endpoints.request(
                record["port"], "POST", "/score", 30, json.dumps(payload).encode(), headers
            )
            return status, answer

        status, answer = score({"dataframe_records": RAW, "params": {"probabilities": True}})
        assert status == 200, answer
        pipeline = registry.load(registry.get_version(NAME, "2"), catalog.trusted(cfg))
        assert type(pipeline[-1]).__module__.startswith("lightgbm")
        assert answer["predictions"] == pipeline.predict(frame_of(RAW)).tolist()
        assert set(answer["predictions"]) <= {"billing", "technical", "account"}
        for predicted, probabilities in zip(answer["predictions"], answer["probabilities"], strict=True):
            assert set(probabilities) == {"account", "billing", "technical"}
            assert predicted == max(probabilities, key=probabilities.get)
        refused = {
            "opened_at": ("yesterday", "column 'opened_at' row 0 is \"yesterday\", not a date-time"),
            "premium": ("yes", "column 'premium' row 0 is \"yes\"; it takes true or false or null"),
            "subject": (42, "column 'subject' row 0 is 42; it takes strings or null"),
        }
        for column, (value, message) in refused.items():
            status, answer = score({"dataframe_records": [{**RAW[0], column: value}]})
            assert (status, answer["message"][: len(message)]) == (400, message)
        schema = endpoints.request(
            record["port"], "GET", "/openapi.json", 30, None, {"Authorization": f"Bearer {key}"}
        )
        row = schema[1]["components"]["schemas"]["row"]["properties"]
        assert row["opened_at"]["format"] == "date-time" and row["premium"]["type"] == "boolean"
    finally:
        endpoints.stop(NAME)


def test_batch_reads_parquets_own_datetime_and_boolean_types_as_it_reads_csv_text(tmp_path):
    frame = pd.read_csv(BATCH).head(60)
    frame.to_csv(tmp_path / "tickets.csv", index=False)
    typed = normalize(catalog.load_config(NAME), frame)
    assert str(typed["opened_at"].dtype).startswith("datetime64") and str(typed["premium"].dtype) == "boolean"
    typed.to_parquet(tmp_path / "tickets.parquet")
    group = Group("mlops", commands=[batch_commands.batch])
    predictions = {}
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"out-{suffix}"
        result = CliRunner().invoke(
            group, ["batch", NAME, "--input", str(tmp_path / f"tickets.{suffix}"), "--output", str(out)]
        )
        assert result.exit_code == 0, result.output
        predictions[suffix] = pd.read_csv(out / "predictions.csv")
    assert len(predictions["csv"]) == 60
    assert predictions["csv"]["prediction"].tolist() == predictions["parquet"]["prediction"].tolist()
    assert set(predictions["csv"]["prediction"]) <= {"billing", "technical", "account"}
    written, read = predictions["csv"]["opened_at"].fillna(""), frame["opened_at"].fillna("")
    assert written.tolist() == read.tolist()  # ISO 8601 text, as in the file


def test_a_bad_datetime_or_boolean_in_a_batch_file_is_an_error_row_not_a_failure(tmp_path):
    frame = pd.read_csv(BATCH).head(5)
    frame.loc[1, "opened_at"] = "next tuesday"
    frame.loc[3, "premium"] = "maybe"
    frame.to_csv(tmp_path / "bad.csv", index=False)
    group = Group("mlops", commands=[batch_commands.batch])
    out = tmp_path / "out"
    result = CliRunner().invoke(
        group, ["batch", NAME, "--input", str(tmp_path / "bad.csv"), "--output", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert len(pd.read_csv(out / "predictions.csv")) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["errors"] == 2
    errors = summary["first_errors"]
    reasons = {entry["line"]: entry["reason"] for entry in errors}
    assert reasons == {
        3: "column 'opened_at' holds 'next tuesday', not an ISO 8601 date-time",
        5: "column 'premium' holds 'maybe', not true or false",
    }


def test_a_fresh_venv_with_only_the_models_requirements_loads_and_predicts_identically(tmp_path):
    """The logged folder alone, in an environment built from environment/requirements.txt: no repo on
    the path, no framework installed (MLflow's own loader puts the folder's code/ first)."""
    folder = downloaded("1", tmp_path / "model")
    rows = frame_of(RAW + pd.read_csv(BATCH).head(40).to_dict("records"))
    rows = rows.astype({"account_age_days": "float64", "attachments": "float64"})  # doubles, as signed
    rows.to_parquet(tmp_path / "rows.parquet")
    expected = registry.load(registry.get_version(NAME, "1"), catalog.trusted(catalog.load_config(NAME)))
    requirements = (FOLDER / "environment" / "requirements.txt").read_text().splitlines()
    python = build_venv([*requirements, "pyarrow"], tmp_path / "venv") / "python"
    # MLflow's own loaders: the sklearn flavor's pipeline on every row, and the pyfunc (which enforces
    # the signature, and refuses a null in a boolean column) on the rows whose premium is known
    script = (
        "import json, sys, importlib.util, mlflow.pyfunc, mlflow.sklearn, pandas as pd\n"
        "assert importlib.util.find_spec('mlops') is None, 'the framework must not be installed'\n"
        "rows = pd.read_parquet(sys.argv[2])\n"
        "pipeline = mlflow.sklearn.load_model(sys.argv[1])\n"
        "known = rows[rows['premium'].notna()]\n"
        "signed = mlflow.pyfunc.load_model(sys.argv[1]).predict(known.astype({'premium': bool}))\n"
        "print(json.dumps([pipeline.predict(rows).tolist(), list(signed)]))\n"
    )
    result = run_bare(python, script, str(folder), str(tmp_path / "rows.parquet"), cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    every, signed = json.loads(result.stdout.splitlines()[-1])
    assert every == expected.predict(rows).tolist()
    assert signed == expected.predict(rows[rows["premium"].notna()]).tolist()
    assert len(signed) < len(every) == 43


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            ["features=[{_target_: ticket_routing.features.Missing}]"],
            "features[0]: cannot build ticket_routing.features.Missing",
        ),
        (
            ["schema.datetime=[]", "schema.categorical=[channel,opened_at]"],
            "features[0] (ticket_routing.features.AfterHours) failed to fit: AttributeError",
        ),
        (
            ["schema.categorical=[channel,subject]"],
            "lists 'subject' under schema.categorical and schema.text",
        ),
        (
            ["schema.text=[account_age_days]", "schema.numeric=[attachments]", "features=[]"],
            "column 'account_age_days' (schema.text) in ticket_routing.data.read_tickets holds only numbers",
        ),
        (
            ["+evaluation.metrics.nothing={_target_: test_model_code.always_nan, greater_is_better: true}"],
            "evaluation.metrics.nothing returned nan on the test rows, not a finite number",
        ),
        (
            ["evaluation.metrics.misrouting_cost._target_=ticket_routing.metrics.nowhere"],
            "evaluation.metrics.misrouting_cost._target_ 'ticket_routing.metrics.nowhere' does not import",
        ),
        (
            ["evaluation.metrics.misrouting_cost.needs=labels"],
            "evaluation.metrics.misrouting_cost.needs is 'labels'",
        ),
        (
            ["estimator=lightgbm", "estimator.n_estimators=many"],
            "estimator (lightgbm.LGBMClassifier) failed to fit",
        ),
    ],
)
def test_a_mistake_in_the_models_code_or_config_is_one_line_naming_it(overrides, expected, isolated_state):
    before = registry.client().search_model_versions(f"name='{NAME}'")
    with pytest.raises(MlopsError) as error:
        train_model(NAME, overrides, echo=lambda _line: None)
    message = str(error.value)
    assert expected in message and "\n" not in message and "Traceback" not in message
    assert len(registry.client().search_model_versions(f"name='{NAME}'")) == len(before)  # nothing registered


def test_the_cli_says_a_broken_transformer_in_one_line_and_exits_non_zero(run_mlops, tmp_path):
    result = run_mlops("train", NAME, "features=[{_target_: ticket_routing.features.Missing}]")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert (
        result.stderr.strip().splitlines()[-1].startswith("error: ticket-routing: features[0]: cannot build")
    )


def test_validation_names_a_bad_datetime_or_boolean_value_and_its_line():
    cfg = catalog.load_config(NAME)
    frame = pd.read_csv(BATCH).head(20).assign(queue="billing")
    frame.index = pd.RangeIndex(2, 22, name="line")
    frame.loc[5, "opened_at"] = "soon"
    frame.loc[9, "premium"] = "perhaps"
    found = validate.problems(cfg, normalize(cfg, frame), "tickets.csv")
    assert (
        "column 'opened_at' (schema.datetime) in tickets.csv is not a date-time: value 'soon' at line 5; "
        "write ISO 8601, such as 2016-01-31T14:05:00"
    ) in found
    assert (
        "column 'premium' (schema.boolean) in tickets.csv is not true or false: value 'perhaps' at line 9; "
        "write true/false or 1/0"
    ) in found


def test_the_column_transformers_read_every_form_of_their_kind():
    when = pd.Series(["2026-03-07T23:40:00+01:00", "2026-03-08T01:00:00", None, "garbage"], dtype=object)
    read = columns.to_datetimes(when)
    assert read.tolist()[:2] == [pd.Timestamp("2026-03-07T22:40:00"), pd.Timestamp("2026-03-08T01:00:00")]
    assert read.isna().tolist() == [False, False, True, True]
    parts = columns.DatetimeParts(parts=["weekday", "hour"]).fit(when.to_frame("opened"))
    assert parts.get_feature_names_out().tolist() == ["opened_weekday", "opened_hour"]
    assert parts.transform(when.to_frame("opened"))[:2].tolist() == [[5.0, 22.0], [6.0, 1.0]]
    with pytest.raises(ValueError, match="parts \\['fortnight'\\] are not allowed"):
        columns.DatetimeParts(parts=["fortnight"]).fit(when.to_frame("opened"))
    assert (
        columns.Epoch().fit(when.to_frame()).transform(when.to_frame())[0, 0]
        == pd.Timestamp("2026-03-07T22:40:00").timestamp()
    )
    truth = pd.Series([True, "FALSE", 1, "0", None, "maybe"], dtype=object)
    assert columns.to_booleans(truth).tolist() == [True, False, True, False, pd.NA, pd.NA]
    text = pd.DataFrame({"subject": ["refund my card", None, "card refund", "login error"]})
    vectorizer = columns.Text(min_df=1).fit(text)
    assert "subject_refund" in vectorizer.get_feature_names_out().tolist()
    assert vectorizer.transform(text).shape[0] == 4 and vectorizer.transform(text)[1].nnz == 0


def test_a_metric_of_the_models_own_takes_its_other_keys_as_keyword_arguments():
    import numpy as np
    from sklearn.metrics import fbeta_score

    from mlops.evaluation import metrics

    own = (
        "+evaluation.metrics.f2={_target_: sklearn.metrics.fbeta_score, greater_is_better: true, "
        "beta: 2, average: macro}"
    )
    chosen = metrics.suite(catalog.load_config(NAME, [own]))
    truth = np.array(["billing", "technical", "account", "billing"])
    found = metrics.Outputs(np.array(["billing", "account", "account", "technical"]))
    assert chosen.names()[-2:] == ["misrouting_cost", "f2"] and chosen.higher_is_better("f2")
    expected = fbeta_score(truth, found.predicted, beta=2, average="macro")
    assert metrics.measure(chosen, "f2", found, truth) == pytest.approx(expected)
    assert metrics.measure(chosen, "misrouting_cost", found, truth) == pytest.approx((5 + 4) / 4)


def test_the_contract_reads_datetime_and_boolean_columns():
    signature = [contract.Column("opened_at", "datetime"), contract.Column("premium", "boolean")]
    body = json.dumps({"input_data": [["2026-03-02T10:15:00Z", True], [None, None]]}).encode()
    assert contract.parse(body, signature, classifier=True).values == [
        ["2026-03-02T10:15:00Z", None],
        [True, None],
    ]
    for row, message in (
        (["2026-13-45", True], "column 'opened_at' row 0 is \"2026-13-45\", not a date-time"),
        ([20260302, True], "column 'opened_at' row 0 is 20260302; it takes ISO 8601 date-times"),
        (["2026-03-02", "true"], "column 'premium' row 0 is \"true\"; it takes true or false or null"),
    ):
        with pytest.raises(contract.RequestError, match=message.replace("(", "\\(")):
            contract.parse(json.dumps({"input_data": [row]}).encode(), signature, classifier=True)
    # the libraries its estimator options and its transformer come from
    assert catalog.trusted(catalog.load_config(NAME)) == ["lightgbm.", "sklearn.", "ticket_routing."]
    features = feature_columns(catalog.load_config(NAME))
    assert features == ["account_age_days", "attachments", "channel", "premium", "opened_at", "subject"]
