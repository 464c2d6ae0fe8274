"""Hostile input against a real local endpoint and the request parser: every kind of malformed or
abusive request gets its 4xx and one log line, never a 5xx or a traceback; any byte string parses to a
request or a 4xx (Hypothesis); and after ``kill -9`` under load every answered request has its records.
The CLI's hostile cases live beside their commands (test_cli.py, test_store.py)."""

import json
import os
import signal
import string
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from hostile import KINDS, Rows, generate, send
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlops.models import catalog
from mlops.models.features import feature_columns
from mlops.scoring import contract
from mlops.serving import endpoints
from mlops.serving import keys as endpoint_keys

TRAIN = ["data=generated", "data.n_rows=1500", "estimator.n_estimators=10"]
DEPLOY = "from mlops.cli import main; main()"


@pytest.fixture(scope="module")
def state(trained_state, use_state):
    folder = trained_state("hostile-state", [("taxi-fare", TRAIN)])
    with use_state(folder):
        yield folder


@pytest.fixture(autouse=True)
def isolated_state(state):
    return state


@pytest.fixture(scope="module")
def rows(state):
    cfg = catalog.load_config("taxi-fare")
    from taxi_fare.data import load

    frame = load(n_rows=40, seed=3)[feature_columns(cfg)]
    frame = frame.astype({column: "float64" for column in cfg.schema.numeric})
    return Rows(json.loads(frame.to_json(orient="records")), numeric="distance", integer="vendor")


def deploy() -> tuple[int, str, int]:
    """Start taxi-fare's endpoint in a real `mlops deploy` process; return port, key and server pid."""
    done = subprocess.run(
        [sys.executable, "-c", DEPLOY, "deploy", "taxi-fare", "--online"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    record = endpoints.read("taxi-fare")
    return record["port"], endpoint_keys.read(endpoints.folder("taxi-fare"))["primary"], record["pid"]


@pytest.fixture(scope="module")
def served(state):
    try:
        yield deploy()
    finally:
        endpoints.stop("taxi-fare")


def valid(rows: Rows) -> bytes:
    return json.dumps({"dataframe_records": rows.rows[:3]}).encode()


def score(port: int, key: str, body: bytes) -> tuple[int, dict, str]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
    status, answer, headers = endpoints.request(port, "POST", "/score", 30, body, headers)
    return status, answer, headers["x-request-id"]


def test_every_hostile_kind_gets_its_4xx_and_one_log_line(served, rows, state):
    port, key, _ = served
    log = endpoints.folder("taxi-fare") / endpoints.LOG
    before = len(log.read_text().splitlines())
    sent = generate(rows, 5 * len(KINDS), seed=1)
    wrong = [(h.kind, status) for h in sent if (status := send(port, key, h)) not in h.statuses]
    assert not wrong, wrong
    assert score(port, key, valid(rows))[0] == 200  # the server is fine afterwards
    lines = log.read_text().splitlines()[before:]
    assert "Traceback" not in "\n".join(lines)
    http = [h for h in sent if h.raw is None]
    assert len([line for line in lines if " refused " in line]) == len(http)  # one line per refusal


def test_a_refusal_names_the_column_and_row(served, rows):
    port, key, _ = served
    chosen = [dict(row) for row in rows.rows[:4]]
    chosen[3]["distance"] = 1e39
    status, answer, _ = score(port, key, json.dumps({"dataframe_records": chosen}).encode())
    assert status == 400 and answer["message"].startswith("column 'distance' row 3 is 1e+39")


COLUMNS = [contract.Column("distance", "double"), contract.Column("vendor", "long")]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
SHAPED = st.fixed_dictionaries(
    {},
    optional={
        "input_data": JSON | st.lists(st.lists(JSON, min_size=2, max_size=2), max_size=3),
        "dataframe_records": st.lists(
            st.fixed_dictionaries({"distance": JSON, "vendor": JSON}) | JSON, max_size=3
        ),
        "params": JSON,
    },
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.binary(max_size=200)
    | JSON.map(lambda v: json.dumps(v).encode())
    | SHAPED.map(lambda v: json.dumps(v).encode())
)
def test_any_body_parses_to_a_request_or_a_4xx(body):
    try:
        request = contract.parse(body, COLUMNS, classifier=False)
    except contract.RequestError as error:
        assert 400 <= error.status < 500 and str(error)
        return
    assert request.rows == len(request.values[0]) >= 1
    for column, values in zip(COLUMNS, request.values, strict=True):
        low, high = contract.RANGES[column.type]
        assert all(value is None or low <= value <= high for value in values)


@settings(max_examples=200, deadline=None)
@given(st.text(string.printable, max_size=60))
def test_text_near_json_never_escapes_the_contract(text):
    for body in (text.encode(), ('{"input_data": [[' + text + "]]}").encode()):
        try:
            contract.parse(body, COLUMNS, classifier=False)
        except contract.RequestError as error:
            assert 400 <= error.status < 500


def collected_ids(state: Path) -> dict[str, list[str]]:
    """Return the correlation ids of every collected record by collection (every line must parse)."""
    found: dict[str, list[str]] = {"model_inputs": [], "model_outputs": []}
    for path in (state / "collected" / "taxi-fare").rglob("*.jsonl"):
        collection = path.relative_to(state / "collected" / "taxi-fare").parts[1]
        found[collection] += [json.loads(line)["correlationid"] for line in path.read_text().splitlines()]
    return found


def test_after_kill_9_under_load_every_answer_has_its_records(served, rows, state):
    port, key, pid = served
    answered: list[str] = []
    body = valid(rows)

    def load() -> None:
        try:
            while True:
                status, _, request_id = score(port, key, body)
                if status == 200:
                    answered.append(request_id)
        except OSError:  # the server is gone
            return

    threads = [threading.Thread(target=load) for _ in range(6)]
    for thread in threads:
        thread.start()
    time.sleep(1.5)
    os.kill(pid, signal.SIGKILL)
    for thread in threads:
        thread.join(timeout=60)
    assert len(answered) > 50
    found = collected_ids(state)
    for collection, ids in found.items():
        assert set(answered) <= set(ids), (
            f"{len(set(answered) - set(ids))} answered requests lack {collection}"
        )
        assert len(ids) == len(set(ids))
    endpoints.stop("taxi-fare")  # records the dead server as stopped
