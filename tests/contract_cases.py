"""The scoring contract as requests: every request shape and every kind of bad request an endpoint must
answer, built from a few feature rows. The local endpoint and Azure's scoring script are each sent the
whole list and must answer alike."""

from __future__ import annotations

import json
from dataclasses import dataclass

MAX_BYTES = 1_048_576  # deployment.online.max_request_bytes, the default both endpoints enforce


@dataclass(frozen=True)
class Case:
    """One request: its body, Content-Type and method, and the status the contract gives it (None: the
    model's own, as a value beyond float32 is a 400 for a forest on raw features and scored by one
    behind a scaler; every endpoint must still answer it alike)."""

    name: str
    body: bytes
    status: int | None
    content_type: str | None = "application/json"
    method: str = "POST"

    def headers(self) -> dict[str, str]:
        """Return the request headers (a missing Content-Type stays missing)."""
        return {"Content-Type": self.content_type} if self.content_type else {}


def encoded(payload) -> bytes:
    return json.dumps(payload).encode()


def with_literal(payload, literal: str) -> bytes:
    """Return ``payload`` as JSON with the string "LITERAL" replaced by raw JSON text ``literal``
    (numbers Python's encoder would not write: 1e400, a 400-digit integer)."""
    return encoded(payload).replace(b'"LITERAL"', literal.encode())


def cases(
    rows: list[dict],
    integer_column: str | None,
    classifier: bool,
    kinds: dict[str, str] | None = None,
    scaled: bool = False,
) -> list[Case]:
    """Return the contract's cases for a model whose feature rows look like ``rows`` (column: value,
    in signature order); ``integer_column`` is one of its integer (long) features, if it has one, and
    ``kinds`` names one of its columns of each other kind it has (``datetime``, ``boolean``, ``text``);
    ``scaled`` says its numbers go through a scaler, which brings a double near its maximum back into
    range (a forest on raw features refuses it)."""
    columns = list(rows[0])
    data = [list(row.values()) for row in rows]
    split = {"columns": columns, "data": data}
    first = dict(rows[0])
    numeric = next(name for name, value in first.items() if isinstance(value, float))
    with_null = {**first, numeric: None}
    good = [
        Case("input_data-split", encoded({"input_data": {**split, "index": list(range(len(data)))}}), 200),
        Case("input_data-rows", encoded({"input_data": data}), 200),
        Case("dataframe_split", encoded({"dataframe_split": split}), 200),
        Case("dataframe_records", encoded({"dataframe_records": rows}), 200),
        Case(
            "reordered-columns",
            encoded({"input_data": {"columns": columns[::-1], "data": [row[::-1] for row in data]}}),
            200,
        ),
        Case("null-value", encoded({"dataframe_records": [with_null]}), 200),
        Case(
            "content-type-with-charset", encoded({"input_data": data}), 200, "application/json; charset=utf-8"
        ),
    ]
    if classifier:
        good += [
            Case("probabilities", encoded({"input_data": data, "params": {"probabilities": True}}), 200),
            Case("no-probabilities", encoded({"input_data": data, "params": {"probabilities": False}}), 200),
        ]
    renamed = {(columns[0] + "x" if key == columns[0] else key): value for key, value in first.items()}
    bad = [
        Case("malformed-json", b'{"input_data": [[1, 2', 400),
        Case("empty-body", b"", 400),
        Case("not-an-object", encoded([1, 2]), 400),
        Case("nested-too-deep", b"[" * 100_000, 400),
        Case("nan-literal", b'{"input_data": [[NaN]]}', 400),
        Case("unknown-key", encoded({"instances": data}), 400),
        Case("no-shape", encoded({}), 400),
        Case("two-shapes", encoded({"input_data": data, "dataframe_records": rows}), 400),
        Case("no-rows", encoded({"input_data": []}), 400),
        Case("short-row", encoded({"input_data": [data[0][:-1]]}), 400),
        Case(
            "missing-column",
            encoded({"dataframe_split": {"columns": columns[1:], "data": [data[0][1:]]}}),
            400,
        ),
        Case("extra-column", encoded({"dataframe_records": [{**first, "tip": 1.0}]}), 400),
        Case("misspelled-column", encoded({"dataframe_records": [renamed]}), 400),
        Case(
            "repeated-column",
            encoded(
                {"dataframe_split": {"columns": [*columns, columns[0]], "data": [[*data[0], data[0][0]]]}}
            ),
            400,
        ),
        Case("text-for-number", encoded({"dataframe_records": [{**first, numeric: "eight"}]}), 400),
        Case("bool-for-number", encoded({"dataframe_records": [{**first, numeric: True}]}), 400),
        # numbers beyond their column's type, or beyond the float32 the forests compute in
        Case("beyond-float32", encoded({"dataframe_records": [{**first, numeric: 3.5e38}]}), None),
        Case("beyond-float32-negative", encoded({"dataframe_records": [{**first, numeric: -1e39}]}), None),
        Case(
            "near-float64-max",
            encoded({"dataframe_records": [{**first, numeric: 1e308}]}),
            200 if scaled else 400,
        ),
        Case(
            "overflowing-literal",
            with_literal({"dataframe_records": [{**first, numeric: "LITERAL"}]}, "1e400"),
            400,
        ),
        Case(
            "400-digit-integer",
            with_literal({"dataframe_records": [{**first, numeric: "LITERAL"}]}, "9" * 400),
            400,
        ),
        Case("records-not-a-list", encoded({"dataframe_records": first}), 400),
        Case("params-not-an-object", encoded({"input_data": data, "params": [1]}), 400),
        Case("unknown-parameter", encoded({"input_data": data, "params": {"threshold": 0.5}}), 400),
        Case("oversized", b"{" + b" " * MAX_BYTES + b"}", 413),
        Case("text-content-type", encoded({"input_data": data}), 415, "text/plain"),
        Case("no-content-type", encoded({"input_data": data}), 415, None),
        Case("get", b"", 405, None, "GET"),
    ]
    if integer_column is not None:
        bad += [
            Case("float-for-integer", encoded({"dataframe_records": [{**first, integer_column: 1.5}]}), 400),
            Case("beyond-int64", encoded({"dataframe_records": [{**first, integer_column: 2**63}]}), 400),
            Case("beyond-uint64", encoded({"dataframe_records": [{**first, integer_column: 2**64}]}), 400),
        ]
    good, bad = good + kind_cases(first, kinds or {}, 200), bad + kind_cases(first, kinds or {}, 400)
    if not classifier:
        bad.append(
            Case(
                "probabilities-of-a-regressor",
                encoded({"input_data": data, "params": {"probabilities": True}}),
                400,
            )
        )
    return good + bad


# values of each column kind a request may send (200) or must be refused (400)
KIND_VALUES = {
    "datetime": {
        200: {"with-zone": "2026-03-07T23:40:00+01:00", "date-only": "2026-03-07", "null": None},
        400: {"not-a-date": "next tuesday", "number": 20260307, "month-13": "2026-13-01"},
    },
    "boolean": {200: {"false": False, "null": None}, 400: {"as-text": "true", "as-number": 1}},
    "text": {200: {"empty": "", "unicode": "Rückerstattung für Rechnung", "null": None}, 400: {"number": 42}},
}


def kind_cases(first: dict, kinds: dict[str, str], status: int) -> list[Case]:
    """Return one case per value of ``KIND_VALUES`` with ``status`` for each column of ``kinds``."""
    return [
        Case(f"{kind}-{label}", encoded({"dataframe_records": [{**first, column: value}]}), status)
        for kind, column in kinds.items()
        for label, value in KIND_VALUES[kind][status].items()
    ]
