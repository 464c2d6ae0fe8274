"""Local online endpoints end to end: real models, real server processes on 127.0.0.1, real HTTP.

Starting a server costs seconds (imports, model load), so the module shares its endpoints: one state
folder for the whole module (set with a module-scoped MonkeyPatch, so it is restored afterwards) and
an ``isolated_state`` override that hands it to every test instead of conftest's fresh folder per test.
Tests that change an endpoint undo their change or run last. Every server started here is stopped by
its fixture, and the fixture checks that its process is gone.
"""

import concurrent.futures
import contextlib
import http.client
import json
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from mlops import registry
from mlops.cli import Group
from mlops.cli import serving as commands
from mlops.core.errors import MlopsError
from mlops.models import catalog
from mlops.models.features import feature_columns
from mlops.serving import endpoints
from mlops.serving import keys as endpoint_keys

REPO = Path(__file__).resolve().parents[1]
TRAIN = ["data=generated", "data.n_rows=2000", "estimator.n_estimators=10"]
# the endpoint commands as `mlops` will hold them (mlops.cli registers the same objects)
GROUP = Group(
    "mlops",
    commands=[commands.deploy, commands.list_endpoints, commands.stop, commands.keys, commands.invoke],
)
SUBPROCESS_CLI = (
    "from mlops.cli import Group; from mlops.cli import serving as c; "
    "Group('mlops', commands=[c.deploy, c.list_endpoints, c.stop, c.keys, c.invoke])(prog_name='mlops')"
)


def mlops(command: str) -> click.testing.Result:
    """Run an endpoint command in this process, as ``mlops COMMAND`` (words split on spaces)."""
    return CliRunner().invoke(GROUP, command.split(), catch_exceptions=False)


def servers_under(folder: Path) -> list[bytes]:
    """Return the command lines of the live processes that name ``folder`` (endpoint servers do)."""
    found = []
    for path in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):
            found.append(path.read_bytes())
    return [command for command in found if str(folder).encode() in command]


def alive(pid: int) -> bool:
    """Return whether a process runs (a zombie left to a non-reaping init counts as gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def state(trained_state, use_state):
    """Train taxi-fare three times (versions 1-3) and credit-default once, in one folder for the module."""
    runs = [
        ("taxi-fare", TRAIN),
        ("taxi-fare", [*TRAIN, "split.seed=7"]),
        ("taxi-fare", [*TRAIN, "split.seed=11"]),
        ("credit-default", TRAIN),
    ]
    folder = trained_state("serving-state", runs)
    with use_state(folder):
        registry.make_champion("credit-default", "1")  # whatever the gate said: deploy's default alias
        yield folder
    assert not servers_under(folder), "a server of this module outlived it"


@pytest.fixture(autouse=True)
def isolated_state(state):
    """Override conftest's per-test state folder: tests here share the module's endpoints."""
    return state


class Served:
    """A deployed endpoint as a test sees it."""

    def __init__(self, name: str):
        self.name = name
        self.record = endpoints.read(name)
        self.port = self.record["port"]
        self.pid = self.record["pid"]

    def keys(self) -> dict[str, str]:
        return endpoint_keys.read(endpoints.folder(self.name))

    def call(self, body, headers=None, path="/score", method="POST", key="primary"):
        """Send a request (JSON-encoding ``body`` unless bytes) with a key; return status, answer, headers."""
        sent = {"Content-Type": "application/json"}
        if key:
            sent["Authorization"] = f"Bearer {self.keys()[key]}"
        data = body if isinstance(body, bytes | None) else json.dumps(body).encode()
        return endpoints.request(self.port, method, path, 30, data, {**sent, **(headers or {})})


def stop_and_check(name: str) -> None:
    """Stop an endpoint and check its process is gone."""
    pid = endpoints.read(name)["pid"]
    endpoints.stop(name)
    assert not pid or not alive(pid)


@pytest.fixture(scope="module")
def taxi(state):
    """taxi-fare: blue (version 1) deployed by a separate `mlops deploy` process that exits (the server
    outlives it), then green (version 2) with 10% of the traffic added to the running server."""
    first = subprocess.run(
        [sys.executable, "-c", SUBPROCESS_CLI, "deploy", "taxi-fare", "--online", "--version", "1"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    try:
        assert first.returncode == 0, first.stderr
        started = Served("taxi-fare")
        assert f"scoring URL: http://127.0.0.1:{started.port}/score" in first.stdout
        result = mlops("deploy taxi-fare --online --deployment green --version 2 --traffic blue=90,green=10")
        assert result.exit_code == 0, result.output
        assert "deployment green serves version 2 with 10% of the traffic" in result.output
        served = Served("taxi-fare")
        served.first = started
        served.issued = set(served.keys().values())  # every key the endpoint ever had
        yield served
    finally:
        stop_and_check("taxi-fare")


@pytest.fixture(scope="module")
def credit(state):
    """credit-default: its champion (version 1) as blue, the default deployment name."""
    result = mlops("deploy credit-default --online")
    try:
        assert result.exit_code == 0, result.output
        yield Served("credit-default")
    finally:
        stop_and_check("credit-default")


@pytest.fixture(scope="module")
def trips(state):
    """Taxi-fare feature rows unseen in training, numeric features as floats."""
    cfg = catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    frame = load(n_rows=50, seed=99)[feature_columns(cfg)]
    return frame.astype({column: "float64" for column in cfg.schema.numeric})


def split(frame) -> dict:
    return frame.to_dict(orient="split", index=False)


def records(state: Path, name: str) -> dict[str, list[dict]]:
    """Return every collected record of endpoint ``name`` by collection (each line must parse)."""
    found = {"model_inputs": [], "model_outputs": []}
    for path in sorted((state / "collected" / name).rglob("*.jsonl")):
        collection = path.relative_to(state / "collected" / name).parts[1]
        found[collection] += [json.loads(line) for line in path.read_text().splitlines()]
    return found


def wait_collected(state: Path, name: str, ids: set[str]) -> dict[str, list[dict]]:
    """Wait until the records of every request id are written (the writer is asynchronous)."""
    deadline = time.monotonic() + 20
    while True:
        found = records(state, name)
        seen = [{record["correlationid"] for record in found[kind]} for kind in found]
        if all(ids <= kind for kind in seen) or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def test_deploy_records_the_endpoint_and_adds_a_deployment_without_restart(taxi, state):
    record = taxi.record
    assert record["deployments"] == {"blue": "1", "green": "2"}
    assert record["traffic"] == {"blue": 90, "green": 10}
    assert record["started_at"] and record["revision"] == 2
    assert (taxi.pid, taxi.port) == (taxi.first.pid, taxi.first.port)  # the same server reloaded
    assert endpoints.running(taxi.pid)
    folder = state / "endpoints" / "taxi-fare"
    assert (folder / endpoint_keys.FILE).stat().st_mode & 0o777 == 0o600
    assert "revision 2 serves blue v1 90%, green v2 10%" in (folder / endpoints.LOG).read_text()


def test_every_request_shape_gets_the_same_predictions(taxi, trips):
    rows = trips.head(3)
    table = split(rows)
    shapes = [
        {"input_data": table},
        {"input_data": table["data"]},
        {"dataframe_split": table},
        {"dataframe_records": rows.to_dict(orient="records")},
        {"input_data": split(rows[rows.columns[::-1]])},  # columns matched by name, not position
    ]
    answers = []
    for shape in shapes:
        status, answer, headers = taxi.call(shape, {"azureml-model-deployment": "blue"})
        assert status == 200, answer
        assert headers["azureml-model-deployment"] == "blue"
        assert uuid.UUID(headers["x-request-id"]) == uuid.UUID(headers["azureml-correlation-id"])
        answers.append(answer)
    assert all(answer == answers[0] for answer in answers)
    assert list(answers[0]) == ["predictions"]
    assert len(answers[0]["predictions"]) == 3
    assert all(0 < value < 500 for value in answers[0]["predictions"])


def test_classifier_answers_probabilities_when_asked(credit):
    cfg = catalog.load_config("credit-default")
    from credit_default.data import load

    rows = load(n_rows=5, seed=3)[feature_columns(cfg)].to_dict(orient="records")
    status, answer, _ = credit.call({"dataframe_records": rows, "params": {"probabilities": True}})
    assert status == 200, answer
    assert all(value in (0, 1) for value in answer["predictions"])
    for predicted, probabilities in zip(answer["predictions"], answer["probabilities"], strict=True):
        assert set(probabilities) == {"0", "1"}
        assert sum(probabilities.values()) == pytest.approx(1)
        assert predicted == int(max(probabilities, key=probabilities.get))
    status, answer, _ = credit.call({"dataframe_records": rows})
    assert status == 200 and list(answer) == ["predictions"]


def test_key_auth_and_regeneration_without_restart(taxi, trips):
    body = {"input_data": split(trips.head(1))}
    status, answer, headers = taxi.call(body, key=None)
    assert (status, headers["www-authenticate"]) == (401, "Bearer")
    assert "no Authorization header" in answer["message"]
    status, answer, _ = taxi.call(body, {"Authorization": "Bearer not-a-key"}, key=None)
    assert status == 401 and "wrong key" in answer["message"]
    assert taxi.call(body, key="secondary")[0] == 200
    old = taxi.keys()
    result = mlops("keys taxi-fare --regenerate primary")
    assert result.exit_code == 0, result.output
    new = taxi.keys()
    taxi.issued |= set(new.values())
    assert result.output.splitlines() == [f"primary: {new['primary']}", f"secondary: {old['secondary']}"]
    assert new["primary"] != old["primary"]
    assert taxi.call(body)[0] == 200
    assert taxi.call(body, {"Authorization": f"Bearer {old['primary']}"}, key=None)[0] == 401
    assert taxi.call(body, key="secondary")[0] == 200
    assert endpoints.read("taxi-fare")["pid"] == taxi.pid


def test_health_and_ready_need_no_key_openapi_does(taxi):
    assert taxi.call(None, path="/health", method="GET", key=None)[:2] == (200, {"status": "alive"})
    status, answer, _ = taxi.call(None, path="/ready", method="GET", key=None)
    assert status == 200 and answer["ready"] and answer["revision"] >= 2
    assert taxi.call(None, path="/openapi.json", method="GET", key=None)[0] == 401
    status, document, _ = taxi.call(
        None, path="/openapi.json", method="GET", headers={"azureml-model-deployment": "green"}
    )
    assert status == 200
    assert document["info"]["title"] == "taxi-fare (green, version 2)"
    row = document["components"]["schemas"]["row"]["properties"]
    assert row["distance"]["type"] == "number" and row["vendor"]["type"] == "integer"


def test_traffic_split_and_pinned_deployment(taxi, trips):
    body = {"input_data": split(trips.head(1))}
    answered = [taxi.call(body)[2]["azureml-model-deployment"] for _ in range(200)]
    counts = {name: answered.count(name) for name in ("blue", "green")}
    assert sum(counts.values()) == 200
    assert 0 < counts["green"] < counts["blue"], counts  # 10% of 200: P(no green) = 0.9**200 < 1e-9
    assert {
        taxi.call(body, {"azureml-model-deployment": "green"})[2]["azureml-model-deployment"]
        for _ in range(10)
    } == {"green"}
    status, answer, _ = taxi.call(body, {"azureml-model-deployment": "red"})
    assert status == 404 and "no deployment 'red'; deployments: blue, green" in answer["message"]


def test_concurrent_load_is_collected_request_by_request(taxi, trips, state):
    bodies = [{"input_data": split(trips.iloc[n % 40 : n % 40 + 1 + n % 3])} for n in range(100)]

    def client(_: int) -> list[tuple[int, str, int]]:
        sent = []
        for body in bodies:
            status, answer, headers = taxi.call(body)
            sent.append((status, headers["x-request-id"], len(answer.get("predictions", []))))
        return sent

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        answers = [item for result in pool.map(client, range(8)) for item in result]
    assert len(answers) == 800 and {status for status, _, _ in answers} == {200}
    rows = {request_id: count for _, request_id, count in answers}
    assert sum(rows.values()) == 8 * sum(len(body["input_data"]["data"]) for body in bodies)
    found = wait_collected(state, "taxi-fare", set(rows))
    inputs = {r["correlationid"]: r for r in found["model_inputs"] if r["correlationid"] in rows}
    outputs = {r["correlationid"]: r for r in found["model_outputs"] if r["correlationid"] in rows}
    assert len([r for r in found["model_inputs"] if r["correlationid"] in rows]) == len(rows) == 800
    assert len([r for r in found["model_outputs"] if r["correlationid"] in rows]) == 800
    for request_id, count in rows.items():
        assert len(inputs[request_id]["data"]) == len(outputs[request_id]["data"]) == count
        assert set(inputs[request_id]["data"][0]) == set(trips.columns)
        assert set(outputs[request_id]["data"][0]) == {"prediction"}
        assert inputs[request_id]["xrequestid"] == request_id
        assert inputs[request_id]["id"] != outputs[request_id]["id"]
    versions = {(r["source"].rsplit("/", 1)[1], r["modelversion"]) for r in inputs.values()}
    assert versions == {("blue", "1"), ("green", "2")}
    layout = re.compile(
        r"taxi-fare/(blue|green)/(model_inputs|model_outputs)/(\d{4}/\d\d/\d\d/\d\d)/local-\d+\.jsonl"
    )
    found_paths = [
        path.relative_to(state / "collected").as_posix()
        for path in (state / "collected" / "taxi-fare").rglob("*.jsonl")
    ]
    matches = [layout.fullmatch(path) for path in found_paths]
    assert all(matches), found_paths
    assert {match.group(1, 2) for match in matches} == {
        (deployment, collection)
        for deployment in ("blue", "green")
        for collection in ("model_inputs", "model_outputs")
    }
    hours = {match.group(3) for match in matches}
    assert {record["time"][:13].replace("-", "/").replace("T", "/") for record in inputs.values()} <= hours


MAX_BYTES = 1_048_576


@pytest.mark.parametrize(
    ("body", "headers", "status", "fragment"),
    [
        (b'{"input_data": [[1, 2', {}, 400, "not valid JSON"),
        (b"", {}, 400, "body is empty"),
        ({"input_data": []}, {}, 400, "must hold rows"),
        ("drop:distance", {}, 400, "missing distance"),
        ("add:tip", {}, 400, "unexpected tip"),
        ("rename:distance=distanse", {}, 400, "unexpected distanse (did you mean distance?)"),
        ("set:pickup_hour=eight", {}, 400, "column 'pickup_hour' row 0 is \"eight\""),
        ("set:vendor=1.5", {}, 400, "column 'vendor' row 0 is 1.5"),
        (b"{" + b" " * MAX_BYTES + b"}", {}, 413, "over 1048576 bytes"),
        ("good", {"Content-Type": "text/plain"}, 415, "content type is text/plain"),
        ({"instances": [[1]]}, {}, 400, "unknown key instances"),
    ],
    ids=[
        "malformed-json",
        "empty-body",
        "no-rows",
        "missing-column",
        "extra-column",
        "misspelled-column",
        "wrong-type",
        "float-for-integer",
        "oversized",
        "wrong-content-type",
        "unknown-shape",
    ],
)
def test_invalid_requests_are_refused_not_collected_and_the_server_stays_up(
    taxi, trips, state, body, headers, status, fragment
):
    if isinstance(body, str):
        row = trips.head(1).to_dict(orient="records")[0]
        action, _, change = body.partition(":")
        if action == "drop":
            del row[change]
        elif action == "add":
            row[change] = 1.0
        elif action == "rename":
            old, new = change.split("=")
            row[new] = row.pop(old)
        elif action == "set":
            column, value = change.split("=")
            row[column] = float(value) if value[0].isdigit() else value
        body = {"dataframe_records": [row]}
    answered, answer, answered_headers = taxi.call(body, headers)
    assert answered == status, answer
    assert fragment in answer["message"]
    good, _, good_headers = taxi.call({"input_data": split(trips.head(1))})
    assert good == 200
    found = wait_collected(state, "taxi-fare", {good_headers["x-request-id"]})  # the writer keeps order
    collected = {record["correlationid"] for kind in found.values() for record in kind}
    assert answered_headers["x-request-id"] not in collected
    assert good_headers["x-request-id"] in collected


@pytest.mark.parametrize(
    ("literal", "fragment"),
    [
        ("3.5e38", "is 3.5e+38; once preprocessed it is beyond what the model computes with"),
        ("-1e39", "is -1e+39; once preprocessed"),
        ("1e308", "is 1e+308; once preprocessed"),
        ("1e400", "is a number that overflows 64-bit floats, beyond the double range"),
        ("9" * 400, "beyond the double range"),
    ],
    ids=["beyond-float32", "beyond-float32-negative", "near-float64-max", "overflow", "400-digits"],
)
def test_a_value_the_model_cannot_take_is_a_400_naming_column_and_row(taxi, trips, literal, fragment):
    rows = trips.head(3).to_dict(orient="records")
    rows[2]["distance"] = "LITERAL"
    body = json.dumps({"dataframe_records": rows}).encode().replace(b'"LITERAL"', literal.encode())
    status, answer, _ = taxi.call(body)
    assert status == 400
    assert answer["message"].startswith("column 'distance' row 2 ") and fragment in answer["message"]
    assert taxi.call({"input_data": split(trips.head(1))})[0] == 200


@pytest.mark.parametrize(("method", "path", "status"), [("GET", "/score", 405), ("POST", "/predict", 404)])
def test_wrong_route_or_method(taxi, method, path, status):
    answered, answer, _ = taxi.call(b"{}", method=method, path=path)
    assert answered == status and "/score" in answer["message"]


def test_endpoints_lists_deployments_traffic_and_health(taxi, credit):
    result = mlops("endpoints --json")
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)}
    assert rows["taxi-fare"]["state"] == "healthy"
    assert (rows["taxi-fare"]["port"], rows["taxi-fare"]["pid"]) == (taxi.port, taxi.pid)
    assert rows["taxi-fare"]["scoring_uri"] == f"http://127.0.0.1:{taxi.port}/score"
    assert rows["taxi-fare"]["deployments"] == [
        {"name": "blue", "version": "1", "traffic": 90},
        {"name": "green", "version": "2", "traffic": 10},
    ]
    assert rows["credit-default"]["deployments"] == [{"name": "blue", "version": "1", "traffic": 100}]
    table = mlops("endpoints").output.splitlines()
    assert table[0].split() == ["ENDPOINT", "DEPLOYMENT", "VERSION", "TRAFFIC", "PORT", "PID", "STATE"]
    assert ["taxi-fare", "green", "v2", "10%", str(taxi.port), str(taxi.pid), "healthy"] in [
        line.split() for line in table
    ]


def test_a_deployment_loads_and_goes_while_the_endpoint_keeps_answering(taxi, trips):
    body = {"input_data": split(trips.head(1))}
    done = threading.Event()
    statuses = []

    def client() -> None:
        while not done.is_set():
            statuses.append(taxi.call(body)[0])

    thread = threading.Thread(target=client)
    thread.start()
    try:
        time.sleep(0.3)
        result = mlops("deploy taxi-fare --online --deployment red --version 3")
        assert result.exit_code == 0, result.output
        assert "serves version 3 with 0% of the traffic" in result.output
        assert taxi.call(body, {"azureml-model-deployment": "red"})[2]["azureml-model-deployment"] == "red"
        result = mlops("stop taxi-fare --deployment red")
        assert result.exit_code == 0, result.output
        time.sleep(0.3)
    finally:
        done.set()
        thread.join()
    assert len(statuses) > 10 and set(statuses) == {200}
    record = endpoints.read("taxi-fare")
    assert (record["traffic"], record["pid"]) == ({"blue": 90, "green": 10}, taxi.pid)


def test_invoke_prints_the_answer_or_the_servers_message(taxi, trips, tmp_path):
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"input_data": split(trips.head(2))}))
    result = CliRunner().invoke(
        GROUP, ["invoke", "taxi-fare", "--file", str(request), "--deployment", "green"]
    )
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["predictions"]) == 2
    assert "answered by deployment green" in result.stderr
    request.write_text(json.dumps({"input_data": [[1, 2]]}))
    result = CliRunner().invoke(GROUP, ["invoke", "taxi-fare", "--file", str(request)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: endpoint 'taxi-fare' answered 400: input_data row 0 has 2 values; positional rows take 20 "
        f"values in this order: {', '.join(trips.columns)}"
    ]


def test_invoke_sends_the_input_example_logged_with_the_version(taxi):
    import mlflow.artifacts

    logged = json.loads(
        mlflow.artifacts.load_text(
            f"{registry.get_version('taxi-fare', '2').source}/serving_input_example.json"
        )
    )
    rows = logged["dataframe_split"]["data"]
    result = CliRunner().invoke(GROUP, ["invoke", "taxi-fare", "--example", "--deployment", "green"])
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.stdout)["predictions"]) == len(rows) == 5
    assert "answered by deployment green" in result.stderr
    status, expected, _ = taxi.call(logged, {"azureml-model-deployment": "green"})
    assert status == 200 and json.loads(result.stdout) == expected
    many = CliRunner().invoke(GROUP, ["invoke", "taxi-fare", "--example", "--rows", "12"])
    assert many.exit_code == 0, many.output
    answered = many.stderr.split("answered by deployment ")[1].strip()
    assert answered in ("blue", "green") and len(json.loads(many.stdout)["predictions"]) == 12


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            [],
            "error: pass --file REQUEST.json or --example (the input example logged with the version, e.g. "
            "mlops invoke taxi-fare --example)",
        ),
        (["--rows", "3"], "error: pass --file REQUEST.json or --example"),
        (
            ["--example", "--deployment", "red"],
            "error: endpoint 'taxi-fare' has no deployment 'red'; deployments: blue, green",
        ),
    ],
)
def test_invoke_without_a_body_says_how_to_get_one(taxi, args, message):
    result = CliRunner().invoke(GROUP, ["invoke", "taxi-fare", *args])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(message)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ("--online --version 1 --traffic blue=90,green=20", "sum to 110, not 100"),
        (
            "--online --version 1 --traffic blue=90,red=10",
            "names red, not deployments of endpoint 'taxi-fare'",
        ),
        ("--online --version 1 --traffic blue:100", "is not name=percent"),
        ("--online --version 1 --deployment b!", "deployment name 'b!' must be 3-32 letters"),
        ("--online --version 99", "no registered version '99'"),
        ("--online --alias staging", "no version with alias 'staging'"),
        ("--online --version 1 --alias champion", "not both"),
        ("--online --version 1 --port 1", "runs on port"),
        ("--version 1", "local online endpoints only"),
    ],
)
def test_deploy_refuses_mistakes_and_changes_nothing(taxi, args, fragment):
    before = endpoints.read("taxi-fare")
    result = mlops(f"deploy taxi-fare {args}")
    assert result.exit_code == 2
    assert fragment in result.stderr and result.stderr.count("\n") == 1
    assert endpoints.read("taxi-fare") == before


def test_removing_a_deployment_spreads_its_traffic(credit):
    result = mlops("deploy credit-default --online --deployment green --traffic blue=40,green=60")
    assert result.exit_code == 0, result.output
    result = mlops("stop credit-default --deployment green")
    assert result.exit_code == 0, result.output
    assert "traffic blue=100" in result.output
    record = endpoints.read("credit-default")
    assert record["deployments"] == {"blue": "1"} and record["traffic"] == {"blue": 100}
    assert record["pid"] == credit.pid
    status, answer, _ = credit.call({"input_data": [[0] * 14]}, {"azureml-model-deployment": "green"})
    assert status == 404 and "deployments: blue" in answer["message"]
    result = mlops("stop credit-default --deployment blue")
    assert result.exit_code == 2 and "takes all the traffic" in result.stderr
    assert endpoints.read("credit-default")["deployments"] == {"blue": "1"}


def test_a_version_that_fails_to_load_changes_nothing_and_leaves_no_process(credit):
    before = endpoints.read("credit-default")
    with pytest.raises(MlopsError, match=r"cannot serve revision \d+: model 'credit-default' has no .* '99'"):
        endpoints.deploy("credit-default", "green", "99", None, None, before["settings"], [])
    after = endpoints.read("credit-default")
    assert after["deployments"] == {"blue": "1"} and after["traffic"] == {"blue": 100}
    assert after["pid"] == credit.pid
    assert credit.call({"input_data": [[0] * 11 + ["1", "1", "1"]]})[0] == 200
    with pytest.raises(MlopsError, match="cannot serve revision 1: model 'breast-cancer' has no registered"):
        endpoints.deploy("breast-cancer", "blue", "1", None, None, before["settings"], [])
    assert "breast-cancer" not in endpoints.names()
    assert not servers_under(endpoints.folder("breast-cancer"))


def test_collected_files_removed_under_load_are_recreated_without_losing_a_record(taxi, trips, state):
    body = {"input_data": split(trips.head(2))}
    loading = threading.Event()

    def load() -> None:
        while not loading.is_set():
            taxi.call(body)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.5)
        for child in (state / "collected" / "taxi-fare").iterdir():  # rm -rf collected/taxi-fare/*
            shutil.rmtree(child, ignore_errors=True)
        ids = [taxi.call(body)[2]["x-request-id"] for _ in range(300)]
    finally:
        loading.set()
        for thread in threads:
            thread.join()
    found = wait_collected(state, "taxi-fare", set(ids))
    for collection in ("model_inputs", "model_outputs"):
        assert len([r for r in found[collection] if r["correlationid"] in ids]) == 300, collection
    log = (state / "endpoints" / "taxi-fare" / endpoints.LOG).read_text()
    assert "was removed or replaced; collecting into a new file" in log


def test_a_body_that_arrives_too_slowly_is_answered_408_and_its_connection_closed(taxi, trips):
    head = (
        "POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {taxi.keys()['primary']}\r\nContent-Length: 1000\r\n\r\n"
    )
    stalled = [socket.create_connection(("127.0.0.1", taxi.port)) for _ in range(5)]
    try:
        for connection in stalled:
            connection.sendall(head.encode() + b'{"input_data": [[1')  # then nothing more
        assert taxi.call({"input_data": split(trips.head(1))})[0] == 200  # others are served meanwhile
        for connection in stalled:
            connection.settimeout(30)
            answer = b""
            while chunk := connection.recv(65536):  # until the server closes the connection
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 408 ") and b"deployment.online.body_timeout_ms" in answer
    finally:
        for connection in stalled:
            connection.close()


def test_stop_drains_collection_leaves_no_process_and_keeps_keys_out_of_logs(taxi, trips, state):
    issued = set(taxi.keys().values())
    body = {"input_data": split(trips.head(1))}
    ids = []

    def client() -> None:  # until the stopping server refuses or drops the connection
        with contextlib.suppress(OSError, http.client.HTTPException):
            while (answer := taxi.call(body))[0] == 200:
                ids.append(answer[2]["x-request-id"])

    threads = [threading.Thread(target=client) for _ in range(8)]
    for thread in threads:
        thread.start()
    time.sleep(1)
    result = mlops("stop taxi-fare")
    for thread in threads:
        thread.join()
    assert result.exit_code == 0 and "taxi-fare: stopped" in result.output
    assert len(ids) > 8
    assert not alive(taxi.pid) and not endpoints.running(taxi.pid)
    found = records(state, "taxi-fare")  # no waiting: the server drained its queue before it exited
    assert set(ids) <= {record["correlationid"] for record in found["model_inputs"]}
    assert set(ids) <= {record["correlationid"] for record in found["model_outputs"]}
    rows = {row["name"]: row for row in json.loads(mlops("endpoints --json").output)}
    assert (rows["taxi-fare"]["state"], rows["taxi-fare"]["pid"]) == ("stopped", None)
    result = CliRunner().invoke(GROUP, ["invoke", "taxi-fare", "--file", __file__])
    assert result.exit_code == 2
    assert "is stopped; start it with: mlops deploy taxi-fare --online" in result.stderr
    # deploy starts it again on the same port with the same keys and deployments
    result = mlops("deploy taxi-fare --online --deployment green --version 2")
    assert result.exit_code == 0, result.output
    again = Served("taxi-fare")
    assert again.port == taxi.port and again.pid != taxi.pid and set(again.keys().values()) == issued
    assert again.record["traffic"] == {"blue": 90, "green": 10}
    assert again.call(body)[0] == 200
    assert mlops("stop taxi-fare").exit_code == 0
    assert not alive(again.pid)
    texts = [(state / "endpoints" / "taxi-fare" / endpoints.LOG).read_text()]
    texts += [path.read_text() for path in (state / "collected").rglob("*.jsonl")]
    assert not any(key in text for key in taxi.issued | {"not-a-key"} for text in texts)
    assert "Traceback" not in texts[0]  # every refused request above is one line, never a traceback
