"""The scoring contract: request shapes of Azure ML and MLflow, checked against the model signature."""

from __future__ import annotations

import difflib
import json
import math
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlops.core import jsonio
from mlops.core.errors import MlopsError

if TYPE_CHECKING:
    from mlflow.models import ModelSignature

SHAPES = ("input_data", "dataframe_split", "dataframe_records")
PARAMS = ("probabilities",)
# JSON value types each MLflow column type accepts; null (a missing value) is accepted everywhere
ACCEPTS: dict[str, tuple[type, ...]] = {
    "double": (int, float),
    "float": (int, float),
    "long": (int,),
    "integer": (int,),
    "string": (str,),
    "boolean": (bool,),
    "datetime": (str,),  # ISO 8601 text, read by ``check_datetimes``
}
WORDS = {
    "double": "numbers",
    "float": "numbers",
    "long": "integers",
    "integer": "integers",
    "boolean": "true or false",
    "datetime": 'ISO 8601 date-times such as "2016-01-31T14:05:00"',
}
FLOAT32_MAX = 3.4028234663852886e38
FLOAT64_MAX = 1.7976931348623157e308
# the values each numeric column type holds: a JSON number beyond them (1e39 for a float, 1e400 or a
# 400-digit integer for a double, 2**63 for a long) cannot be scored, so it is refused by column and row
RANGES: dict[str, tuple[float, float]] = {
    "double": (-FLOAT64_MAX, FLOAT64_MAX),
    "float": (-FLOAT32_MAX, FLOAT32_MAX),
    "long": (-(2**63), 2**63 - 1),
    "integer": (-(2**31), 2**31 - 1),
}
# the body of a 500: the log names the failure, the answer never shows internal exception text
FAILED = "scoring failed; the endpoint's server log has the details (request {request})"
OPENAPI_TYPES = {
    "double": {"type": "number", "format": "double"},
    "float": {"type": "number", "format": "float"},
    "long": {"type": "integer", "format": "int64"},
    "integer": {"type": "integer", "format": "int32"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
}


class RequestError(Exception):
    """A request the endpoint refuses: the HTTP status and a message naming the problem and the fix."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Column:
    """One input column of a model signature: its name and MLflow type."""

    name: str
    type: str


@dataclass
class Request:
    """A valid scoring request: values column by column in signature order, and its options."""

    values: list[list[Any]]
    rows: int
    probabilities: bool


def columns_of(signature: ModelSignature | None, model: str, version: str) -> list[Column]:
    """Return the input columns of a signature, or raise when the version cannot be served by column."""
    if signature is None or signature.inputs.is_tensor_spec() or not signature.inputs.has_input_names():
        raise MlopsError(
            f"model '{model}' version {version} has no column signature; register it with mlops train "
            "(it logs one) to serve it"
        )
    columns = [Column(spec.name, spec.type.name) for spec in signature.inputs.inputs]
    for column in columns:
        if column.type not in ACCEPTS:
            raise MlopsError(
                f"model '{model}' version {version}: column '{column.name}' has type {column.type}, which "
                f"the local endpoint does not serve ({', '.join(ACCEPTS)}); cast it in the model's data step"
            )
    return columns


def check_method(path: str, allowed: str, method: str) -> None:
    """Refuse (405) a request to ``path`` with another method than ``allowed``."""
    if method != allowed:
        raise RequestError(405, f"{path} takes {allowed}, not {method}")


def check_content_type(value: str | None) -> None:
    """Refuse (415) a request whose Content-Type is not application/json."""
    kind = (value or "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise RequestError(415, f"content type is {kind or 'none'}; send Content-Type: application/json")


def too_large(limit: int) -> RequestError:
    """Return the 413 error of a request body over ``limit`` bytes."""
    return RequestError(
        413, f"request body is over {limit} bytes (deployment.online.max_request_bytes); send fewer rows"
    )


def fail(message: str) -> RequestError:
    """Return a 400 error with ``message``."""
    return RequestError(400, message)


def no_constant(name: str) -> float:
    """Refuse the non-JSON constants NaN and Infinity that Python's parser would accept."""
    raise fail(f"the request holds {name}, which is not JSON; send null for a missing value")


def parse(body: bytes, columns: list[Column], classifier: bool) -> Request:
    """Parse a scoring request body and check it against the signature's columns; raise RequestError."""
    if not body.strip():
        raise fail(
            'the request body is empty; send JSON such as {"input_data": {"columns": [...], "data": [[...]]}}'
        )
    try:
        payload = jsonio.loads(body, parse_constant=no_constant)
    except (ValueError, RecursionError) as error:
        if "integer string conversion" in str(error):  # Python's guard against quadratic parsing
            raise fail("the request body holds an integer of over 4,300 digits; no column takes it") from None
        raise fail(f"the request body is not valid JSON: {error}") from None
    if not isinstance(payload, dict):
        raise fail(f"the request body must be a JSON object with one of {', '.join(SHAPES)}")
    unknown = sorted(set(payload) - {*SHAPES, "params"})
    if unknown:
        raise fail(f"unknown key {', '.join(unknown)} in the request; allowed: {', '.join(SHAPES)}, params")
    shapes = [key for key in SHAPES if key in payload]
    if len(shapes) != 1:
        raise fail(f"send exactly one of {', '.join(SHAPES)} (got {', '.join(shapes) or 'none'})")
    key = shapes[0]
    names = [column.name for column in columns]
    if key == "dataframe_records":
        values = from_records(payload[key], names)
    elif key == "input_data" and isinstance(payload[key], list):
        values = from_rows(payload[key], names)
    else:
        values = from_split(payload[key], names, key)
    check_types(columns, values)
    return Request(values, len(values[0]), wants_probabilities(payload.get("params"), classifier))


def from_split(value: Any, names: list[str], key: str) -> list[list[Any]]:
    """Return the column values of a split-oriented table ``{"columns", "data", "index"}``."""
    if not isinstance(value, dict):
        positional = " (or a list of rows in signature order)" if key == "input_data" else ""
        raise fail(f"{key} must be an object with columns and data{positional}")
    extra = sorted(set(value) - {"columns", "data", "index"})
    if extra:
        raise fail(f"unknown key {', '.join(extra)} in {key}; allowed: columns, data, index")
    given, data = value.get("columns"), value.get("data")
    if not isinstance(given, list) or not all(isinstance(name, str) for name in given):
        raise fail(f"{key}.columns must be a list of column names")
    if not isinstance(data, list) or not data or not all(isinstance(row, list) for row in data):
        raise fail(f"{key}.data must be a non-empty list of rows, each a list of values")
    match_columns(given, names, key)
    width = len(given)
    for number, row in enumerate(data):
        if len(row) != width:
            raise fail(f"{key}.data row {number} has {len(row)} values for {width} columns")
    table = list(zip(*data, strict=True))
    return [list(table[given.index(name)]) for name in names]


def from_rows(rows: list[Any], names: list[str]) -> list[list[Any]]:
    """Return the column values of positional rows given in signature order."""
    if not rows or not all(isinstance(row, list) for row in rows):
        raise fail("input_data as a list must hold rows, each a list of values in signature order")
    for number, row in enumerate(rows):
        if len(row) != len(names):
            raise fail(
                f"input_data row {number} has {len(row)} values; positional rows take {len(names)} "
                f"values in this order: {', '.join(names)}"
            )
    return [list(column) for column in zip(*rows, strict=True)]


def from_records(records: Any, names: list[str]) -> list[list[Any]]:
    """Return the column values of a list of row objects."""
    if not isinstance(records, list) or not records or not all(isinstance(row, dict) for row in records):
        raise fail("dataframe_records must be a non-empty list of objects (column: value)")
    expected = set(names)
    for number, record in enumerate(records):
        if record.keys() != expected:
            match_columns(list(record), names, f"dataframe_records[{number}]")
    return [[record[name] for record in records] for name in names]


def match_columns(given: list[str], names: list[str], where: str) -> None:
    """Raise naming the missing, unexpected (with the likely intended name) and repeated columns."""
    known = set(names)
    missing = [name for name in names if name not in given]
    unexpected = [name for name in dict.fromkeys(given) if name not in known]
    repeated = sorted(name for name, count in Counter(given).items() if count > 1)
    if not (missing or unexpected or repeated):
        return
    problems = []
    if missing:
        problems.append(f"missing {', '.join(missing)}")
    if unexpected:
        guesses = [
            f"{name} (did you mean {close[0]}?)"
            if (close := difflib.get_close_matches(name, missing or names, 1))
            else name
            for name in unexpected
        ]
        problems.append(f"unexpected {', '.join(guesses)}")
    if repeated:
        problems.append(f"repeated {', '.join(repeated)}")
    raise fail(f"{where} columns do not match the model signature: {'; '.join(problems)}")


def check_types(columns: list[Column], values: list[list[Any]]) -> None:
    """Raise naming the column and row of the first value of the wrong JSON type or beyond the range of
    its column's type (``RANGES``)."""
    for column, column_values in zip(columns, values, strict=True):
        accepted = {*ACCEPTS[column.type], type(None)}
        if not set(map(type, column_values)) <= accepted:
            row, value = next((n, v) for n, v in enumerate(column_values) if type(v) not in accepted)
            takes = WORDS.get(column.type, f"{column.type}s")
            where = f"column '{column.name}' row {row}"
            raise fail(f"{where} is {shown(value)}; it takes {takes} or null ({column.type})")
        if column.type in RANGES:
            check_range(column, column_values)
        if column.type == "datetime":
            check_datetimes(column, column_values)


def check_datetimes(column: Column, values: list[Any]) -> None:
    """Raise naming the column and row of the first text that is not an ISO 8601 date-time."""
    import pandas as pd

    from mlops.models.columns import to_datetimes

    texts = pd.Series(values, dtype=object)
    unread = to_datetimes(texts).isna() & texts.notna()
    if unread.any():
        row = int(unread.to_numpy().argmax())
        raise fail(
            f"column '{column.name}' row {row} is {shown(values[row])}, not a date-time; it takes "
            f"{WORDS['datetime']} or null (datetime)"
        )


def check_range(column: Column, values: list[Any]) -> None:
    """Raise naming the column and row of the first number outside its column type's range."""
    low, high = RANGES[column.type]
    numbers = [value for value in values if value is not None]
    if not numbers or (low <= min(numbers) and max(numbers) <= high):
        return
    row, value = next((n, v) for n, v in enumerate(values) if v is not None and not low <= v <= high)
    raise out_of_range(column, row, value)


def out_of_range(column: Column, row: int, value: Any) -> RequestError:
    """Return the 400 of a number beyond the range of its column's type."""
    low, high = RANGES[column.type]
    bounds = f"[{low}, {high}]" if isinstance(low, int) else f"[{low:.7g}, {high:.7g}]"
    return fail(
        f"column '{column.name}' row {row} is {shown(value)}, beyond the {column.type} range "
        f"{bounds}; send a value within it, or null for a missing value"
    )


def shown(value: Any) -> str:
    """Return a value as the client wrote it, near enough: JSON cut to 40 characters."""
    if value in (math.inf, -math.inf):
        return "a number that overflows 64-bit floats"  # 1e400 parses as infinity
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def wants_probabilities(params: Any, classifier: bool) -> bool:
    """Return the ``probabilities`` request parameter after checking ``params``."""
    if params is None:
        return False
    if not isinstance(params, dict):
        raise fail('params must be an object, e.g. {"probabilities": true}')
    unknown = sorted(set(params) - set(PARAMS))
    if unknown:
        raise fail(f"unknown parameter {', '.join(unknown)}; allowed: {', '.join(PARAMS)}")
    wanted = params.get("probabilities", False)
    if not isinstance(wanted, bool):
        raise fail("params.probabilities must be true or false")
    if wanted and not classifier:
        raise fail("params.probabilities applies to classifiers; this deployment serves a regressor")
    return wanted


def openapi(
    endpoint: str, deployment: str, version: str, columns: list[Column], classes: list[Any] | None
) -> dict[str, Any]:
    """Return the OpenAPI 3 document of the scoring route, derived from the signature."""
    names = [column.name for column in columns]
    row_object = {
        "type": "object",
        "properties": {column.name: {**OPENAPI_TYPES[column.type], "nullable": True} for column in columns},
        "required": names,
        "additionalProperties": False,
    }
    row_list = {"type": "array", "items": {}, "minItems": len(names), "maxItems": len(names)}
    split = {
        "type": "object",
        "required": ["columns", "data"],
        "properties": {
            "columns": {"type": "array", "items": {"type": "string", "enum": names}},
            "index": {"type": "array", "items": {}},
            "data": {"type": "array", "items": row_list},
        },
    }
    params = {"type": "object", "properties": {"probabilities": {"type": "boolean", "default": False}}}
    shapes = {
        "input_data": {"oneOf": [split, {"type": "array", "items": row_list}]},
        "dataframe_split": split,
        "dataframe_records": {"type": "array", "items": row_object},
    }
    request = {
        "oneOf": [
            {"type": "object", "required": [key], "properties": {key: shape, "params": params}}
            for key, shape in shapes.items()
        ]
    }
    prediction = {"type": "number"} if classes is None else {"enum": classes}
    response: dict[str, Any] = {
        "type": "object",
        "required": ["predictions"],
        "properties": {"predictions": {"type": "array", "items": prediction}},
    }
    if classes is not None:
        probability = {"type": "object", "properties": {str(label): {"type": "number"} for label in classes}}
        response["properties"]["probabilities"] = {"type": "array", "items": probability}
    message = {"type": "object", "properties": {"message": {"type": "string"}}}
    errors = {
        str(status): {"description": text, "content": {"application/json": {"schema": message}}}
        for status, text in (
            (400, "invalid request: the message names the problem"),
            (401, "missing or wrong key"),
            (404, "unknown deployment in the azureml-model-deployment header"),
            (408, "request body not received within the deployment's body_timeout_ms"),
            (413, "request body too large"),
            (415, "content type is not application/json"),
        )
    }
    return {
        "openapi": "3.0.1",
        "info": {"title": f"{endpoint} ({deployment}, version {version})", "version": str(version)},
        "paths": {
            "/score": {
                "post": {
                    "summary": "Score rows; columns in this order for positional rows: " + ", ".join(names),
                    "security": [{"key": []}],
                    "parameters": [
                        {
                            "name": "azureml-model-deployment",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": request}}},
                    "responses": {
                        "200": {
                            "description": "predictions",
                            "content": {"application/json": {"schema": response}},
                        },
                        **errors,
                    },
                }
            },
            "/health": {"get": {"summary": "liveness", "responses": {"200": {"description": "alive"}}}},
            "/ready": {
                "get": {"summary": "readiness: models loaded", "responses": {"200": {"description": "ready"}}}
            },
        },
        "components": {
            "securitySchemes": {"key": {"type": "http", "scheme": "bearer"}},
            "schemas": {"row": row_object},
        },
    }
