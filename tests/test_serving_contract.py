"""The parts of local endpoints that need no server: request contract, collector records, keys, traffic."""

import json
import os
import stat
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from mlops.core.errors import MlopsError
from mlops.scoring import contract
from mlops.scoring.contract import Column, RequestError
from mlops.serving import endpoints, keys
from mlops.serving.collector import Collector, Scored

COLUMNS = [Column("distance", "double"), Column("vendor", "long"), Column("kind", "string")]
NAMES = [column.name for column in COLUMNS]
ROWS = [[1.5, 1, "a"], [2, 2, None]]
VALUES = [[1.5, 2], [1, 2], ["a", None]]


def parse(payload, classifier=False):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return contract.parse(body, COLUMNS, classifier)


def refused(payload, *fragments, status=400, classifier=False):
    with pytest.raises(RequestError) as error:
        parse(payload, classifier)
    assert error.value.status == status
    for fragment in fragments:
        assert fragment in str(error.value)


@pytest.mark.parametrize(
    "payload",
    [
        {"input_data": {"columns": NAMES, "index": [0, 1], "data": ROWS}},
        {"input_data": {"columns": NAMES[::-1], "data": [row[::-1] for row in ROWS]}},  # matched by name
        {"input_data": ROWS},  # positional, in signature order
        {"dataframe_split": {"columns": NAMES, "data": ROWS}},
        {"dataframe_records": [dict(zip(NAMES, row, strict=True)) for row in ROWS]},
    ],
    ids=[
        "input_data-split",
        "input_data-reordered",
        "input_data-rows",
        "dataframe_split",
        "dataframe_records",
    ],
)
def test_every_request_shape_gives_the_same_columns(payload):
    request = parse(payload)
    assert request.values == VALUES
    assert request.rows == 2
    assert request.probabilities is False


def test_probabilities_parameter():
    assert parse({"input_data": ROWS, "params": {"probabilities": True}}, classifier=True).probabilities
    refused({"input_data": ROWS, "params": {"probabilities": True}}, "classifiers", "regressor")
    refused({"input_data": ROWS, "params": {"probabilities": "yes"}}, "true or false", classifier=True)
    refused({"input_data": ROWS, "params": {"threshold": 0.5}}, "unknown parameter threshold")


@pytest.mark.parametrize(
    ("payload", "fragments"),
    [
        (b"", ["body is empty"]),
        (b'{"input_data": [', ["not valid JSON"]),
        (b"[" * 100_000, ["not valid JSON"]),
        (b'{"input_data": [[NaN, 1, "a"]]}', ["NaN", "null for a missing value"]),
        ([1, 2], ["JSON object"]),
        ({"inputs": ROWS}, ["unknown key inputs"]),
        ({}, ["exactly one of", "got none"]),
        ({"input_data": ROWS, "dataframe_records": []}, ["got input_data, dataframe_records"]),
        ({"input_data": []}, ["list of values in signature order"]),
        ({"input_data": [[1.5, 1]]}, ["row 0 has 2 values", "distance, vendor, kind"]),
        ({"input_data": {"columns": NAMES}}, ["input_data.data must be a non-empty list"]),
        ({"input_data": {"columns": NAMES, "data": ROWS, "orient": "split"}}, ["unknown key orient"]),
        ({"dataframe_split": {"columns": NAMES, "data": [[1.5, 1]]}}, ["row 0 has 2 values for 3 columns"]),
        ({"dataframe_split": {"columns": ["distance", "vendor"], "data": [[1, 1]]}}, ["missing kind"]),
        ({"dataframe_split": {"columns": [*NAMES, "tip"], "data": [[1, 1, "a", 2]]}}, ["unexpected tip"]),
        (
            {"dataframe_split": {"columns": ["distanse", "vendor", "kind"], "data": [[1, 1, "a"]]}},
            ["missing distance", "unexpected distanse (did you mean distance?)"],
        ),
        ({"dataframe_split": {"columns": [*NAMES, "kind"], "data": [[1, 1, "a", "b"]]}}, ["repeated kind"]),
        ({"dataframe_records": [{"distance": 1, "vendor": 1}]}, ["dataframe_records[0]", "missing kind"]),
        ({"dataframe_records": {"distance": 1}}, ["non-empty list of objects"]),
        (
            {"input_data": [[1.5, 1, "a"], ["far", 1, "a"]]},
            ["column 'distance' row 1 is \"far\"", "numbers or null"],
        ),
        ({"input_data": [[True, 1, "a"]]}, ["column 'distance' row 0 is true"]),
        ({"input_data": [[1.5, 1.5, "a"]]}, ["column 'vendor' row 0 is 1.5", "integers or null"]),
        ({"input_data": [[1.5, 1, 7]]}, ["column 'kind' row 0 is 7", "strings or null"]),
        (b'{"input_data": [[1, 1, "a"], [1e400, 1, "a"]]}', ["column 'distance' row 1", "overflows"]),
        (b'{"input_data": [[-' + b"9" * 400 + b', 1, "a"]]}', ["column 'distance' row 0", "double range"]),
        (b'{"input_data": [[1, 1' + b"0" * 5000 + b', "a"]]}', ["integer of over 4,300 digits"]),
        ({"input_data": [[1, 2**63, "a"]]}, ["column 'vendor' row 0 is 9223372036854775808", "long range"]),
        ({"input_data": [[1, -(2**63) - 1, "a"]]}, ["column 'vendor' row 0", "long range"]),
        ({"input_data": [[1, 1, "a"], [1, 2**64, "a"]]}, ["column 'vendor' row 1", "long range"]),
        (
            {"input_data": [[1, 2**70, "a"]]},
            ["column 'vendor' row 0 is 1180591620717411303424", "long range"],
        ),
        ({"input_data": [[1, 1, 2**64]]}, ["column 'kind' row 0 is 18446744073709551616", "strings or null"]),
    ],
)
def test_invalid_requests_name_the_problem(payload, fragments):
    refused(payload, *fragments)


def test_integers_of_any_size_are_read_exactly():
    from mlops.core import jsonio

    assert jsonio.loads(b"[1180591620717411303424, -18446744073709551617, 7]") == [2**70, -(2**64) - 1, 7]
    text = b'{"x": 0.1234567890123456789, "y": "12345678901234567890"}'
    assert jsonio.loads(text) == json.loads(text)  # long digit runs elsewhere read as before
    assert parse({"input_data": [[2**70, 1, "a"]]}).rows == 1  # a double column takes it as a number


def test_type_ranges_are_inclusive():
    assert parse({"input_data": [[1.7976931348623157e308, 2**63 - 1, "a"]]}).rows == 1
    assert parse({"input_data": [[-1.7976931348623157e308, -(2**63), "a"]]}).rows == 1
    columns = [Column("small", "float"), Column("count", "integer")]
    limits = json.dumps({"input_data": [[3.4e38, 2**31 - 1]]}).encode()
    assert contract.parse(limits, columns, False).rows == 1
    for row, fragment in (([3.5e38, 1], "float range"), ([1.0, 2**31], "integer range")):
        with pytest.raises(RequestError, match=fragment):
            contract.parse(json.dumps({"input_data": [row]}).encode(), columns, False)


def test_columns_of_refuses_a_version_without_column_signature():
    with pytest.raises(MlopsError, match="no column signature"):
        contract.columns_of(None, "taxi-fare", "3")


def test_openapi_lists_columns_with_types_shapes_and_response():
    document = contract.openapi("credit-default", "blue", "2", COLUMNS, [0, 1])
    post = document["paths"]["/score"]["post"]
    row = document["components"]["schemas"]["row"]["properties"]
    assert row["distance"]["type"] == "number"
    assert row["vendor"] == {"type": "integer", "format": "int64", "nullable": True}
    assert row["kind"]["type"] == "string"
    shapes = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [next(iter(shape["required"])) for shape in shapes] == list(contract.SHAPES)
    response = post["responses"]["200"]["content"]["application/json"]["schema"]["properties"]
    assert response["predictions"]["items"] == {"enum": [0, 1]}
    assert set(response["probabilities"]["items"]["properties"]) == {"0", "1"}
    assert "401" in post["responses"]


def test_collector_writes_one_input_and_one_output_record_per_request(tmp_path):
    collector = Collector(tmp_path / "taxi-fare", "taxi-fare")
    when = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    for number in range(3):
        probabilities = [{"0": 0.25, "1": 0.75}, {"0": 1.0, "1": 0.0}]
        collector.collect(Scored("blue", "7", NAMES, VALUES, [1, 0], probabilities, f"id-{number}", when))
    collector.close()
    folder = tmp_path / "taxi-fare" / "blue"
    files = sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*.jsonl"))
    instance = f"local-{os.getpid()}.jsonl"
    assert files == [f"model_inputs/2026/01/02/03/{instance}", f"model_outputs/2026/01/02/03/{instance}"]
    inputs = [json.loads(line) for line in (folder / files[0]).read_text().splitlines()]
    outputs = [json.loads(line) for line in (folder / files[1]).read_text().splitlines()]
    assert [record["correlationid"] for record in inputs] == ["id-0", "id-1", "id-2"]
    assert [record["correlationid"] for record in outputs] == ["id-0", "id-1", "id-2"]
    first = inputs[0]
    assert first["data"] == [
        {"distance": 1.5, "vendor": 1, "kind": "a"},
        {"distance": 2, "vendor": 2, "kind": None},
    ]
    assert outputs[0]["data"][0] == {"prediction": 1, "probability_0": 0.25, "probability_1": 0.75}
    size = len(json.dumps(first["data"], separators=(",", ":")).encode())
    assert first["contentrange"] == f"bytes 0-{size - 1}/{size}"
    assert first["type"] == "azureml.inference.model_inputs"
    assert outputs[0]["type"] == "azureml.inference.model_outputs"
    assert {
        key: first[key] for key in ("specversion", "datacontenttype", "time", "xrequestid", "modelversion")
    } == {
        "specversion": "1.0",
        "datacontenttype": "application/json",
        "time": "2026-01-02T03:04:05.678Z",
        "xrequestid": "id-0",
        "modelversion": "7",
    }
    assert first["collectdatatype"] == "pandas.core.frame.DataFrame"
    assert first["agent"] == "azureml-ai-monitoring/local"
    assert first["source"].endswith("/onlineEndpoints/taxi-fare/deployments/blue")
    assert len({record["id"] for record in inputs + outputs}) == 6


def test_keys_are_private_and_a_regenerated_key_is_accepted_at_once(tmp_path):
    keys.ensure(tmp_path)
    assert stat.S_IMODE((tmp_path / keys.FILE).stat().st_mode) == 0o600
    first = keys.read(tmp_path)
    assert set(first) == {"primary", "secondary"} and first["primary"] != first["secondary"]
    keys.ensure(tmp_path)
    assert keys.read(tmp_path) == first
    ring = keys.KeyRing(tmp_path)
    assert ring.accepts(f"Bearer {first['primary']}".encode())
    assert ring.accepts(f"bearer {first['secondary']}".encode())
    assert not ring.accepts(None)
    assert not ring.accepts(first["primary"].encode())
    assert not ring.accepts(b"Bearer " + first["primary"].encode()[:-1])
    second = keys.regenerate(tmp_path, "primary")
    assert second["secondary"] == first["secondary"]
    assert stat.S_IMODE((tmp_path / keys.FILE).stat().st_mode) == 0o600
    assert ring.accepts(f"Bearer {second['primary']}".encode())
    assert not ring.accepts(f"Bearer {first['primary']}".encode())


def test_traffic_is_parsed_checked_and_renormalised():
    assert endpoints.parse_traffic("blue=90, green=10") == {"blue": 90, "green": 10}
    with pytest.raises(MlopsError, match="'blue:90' is not name=percent"):
        endpoints.parse_traffic("blue:90")
    deployments = {"blue": "1", "green": "2", "red": "3"}
    assert endpoints.check_traffic({"blue": 100}, deployments, "e") == {"blue": 100, "green": 0, "red": 0}
    with pytest.raises(MlopsError, match="sum to 110, not 100"):
        endpoints.check_traffic({"blue": 100, "green": 10}, deployments, "e")
    with pytest.raises(MlopsError, match="names gren, not deployments of endpoint 'e'"):
        endpoints.check_traffic({"blue": 90, "gren": 10}, deployments, "e")
    assert endpoints.renormalised({"a": 50, "b": 30, "c": 20}, "a", "e") == {"b": 60, "c": 40}
    assert endpoints.renormalised({"a": 10, "b": 45, "c": 44, "d": 1}, "a", "e") == {"b": 50, "c": 49, "d": 1}
    assert endpoints.renormalised({"a": 1, "b": 33, "c": 33, "d": 33}, "a", "e") == {
        "b": 34,
        "c": 33,
        "d": 33,
    }
    with pytest.raises(MlopsError, match="takes all the traffic"):
        endpoints.renormalised({"a": 100, "b": 0}, "a", "e")


def test_the_server_log_is_capped_rotated_and_catches_what_the_process_prints(tmp_path):
    log = tmp_path / "server.log"
    script = (
        "import logging, os, warnings\n"
        "from mlops.serving.app import log_to\n"
        f"log_to(__import__('pathlib').Path({str(log)!r}), max_bytes=2000)\n"
        "for n in range(500):\n"
        "    logging.getLogger('mlops.serving').info('request %d refused 400: %s', n, 'x' * 40)\n"
        "warnings.warn('a library warning')\n"
        "os.write(2, b'fatal: the last words\\n')\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    assert sorted(path.name for path in tmp_path.iterdir()) == ["server.log", "server.log.1", "server.log.2"]
    assert all(path.stat().st_size <= 2000 for path in tmp_path.iterdir())
    text = log.read_text()
    assert "a library warning" in text and text.endswith("fatal: the last words\n")
    assert "request 499 refused" in text
