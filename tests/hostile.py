"""Hostile requests: every kind of malformed, out-of-range, unauthenticated or abusive request a scoring
endpoint must refuse with a 4xx naming the problem (never a 5xx, never a hang, never a traceback in its
log), each kind generated in endless variants from a seed. The hostile tests send a few of each kind;
``benchmarks/hostile.py`` sends tens of thousands and counts the answers."""

from __future__ import annotations

import contextlib
import json
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

MAX_BYTES = 1_048_576  # deployment.online.max_request_bytes by default


@dataclass(frozen=True)
class Hostile:
    """One request: its kind, what is sent (``raw`` bytes straight onto the socket, else an HTTP
    request), and the statuses the contract allows for it."""

    kind: str
    body: bytes | None = None
    method: str = "POST"
    path: str = "/score"
    headers: dict[str, str] = field(default_factory=lambda: {"Content-Type": "application/json"})
    key: bool = True  # send the endpoint's key
    raw: bytes | None = None
    statuses: tuple[int, ...] = (400,)


@dataclass
class Rows:
    """What the generator builds requests from: valid feature rows and the kinds of their columns."""

    rows: list[dict]
    numeric: str  # a double column
    integer: str  # a long column

    @property
    def columns(self) -> list[str]:
        return list(self.rows[0])


def body(payload) -> bytes:
    return json.dumps(payload).encode()


def records(rows: Rows, rng: random.Random, count: int | None = None) -> list[dict]:
    return [dict(rng.choice(rows.rows)) for _ in range(count or rng.randint(1, 5))]


def with_value(rows: Rows, rng: random.Random, column: str, literal: str) -> bytes:
    """A records body whose random row holds the raw JSON ``literal`` in ``column``."""
    chosen = records(rows, rng)
    chosen[rng.randrange(len(chosen))][column] = "HOSTILE"
    return body({"dataframe_records": chosen}).replace(b'"HOSTILE"', literal.encode())


def without(rows: Rows, rng: random.Random) -> dict:
    """A valid row less one of its columns."""
    dropped = rng.choice(rows.columns)
    return {column: value for column, value in rows.rows[0].items() if column != dropped}


def truncated(rows: Rows, rng: random.Random) -> Hostile:
    whole = body(
        {"input_data": {"columns": rows.columns, "data": [list(r.values()) for r in records(rows, rng)]}}
    )
    return Hostile("truncated-json", whole[: rng.randrange(1, len(whole) - 1)])


def value_kind(name: str, column: Callable[[Rows], str], literals: Callable[[random.Random], str]):
    return lambda rows, rng: Hostile(name, with_value(rows, rng, column(rows), literals(rng)))


def numeric(rows: Rows) -> str:
    return rows.numeric


def integer(rows: Rows) -> str:
    return rows.integer


def raw_http(name: str, make: Callable[[random.Random], bytes]):
    return lambda rows, rng: Hostile(name, raw=make(rng), statuses=(400, 0))  # 0: closed without answer


KINDS: dict[str, Callable[[Rows, random.Random], Hostile]] = {
    "truncated-json": truncated,
    "empty-body": lambda rows, rng: Hostile("empty-body", rng.choice([b"", b" ", b"\n\t "])),
    "random-bytes": lambda rows, rng: Hostile("random-bytes", rng.randbytes(rng.randint(1, 400))),
    "invalid-utf8": lambda rows, rng: Hostile(
        "invalid-utf8", b'{"input_data": "\xff\xfe' + rng.randbytes(8) + b'"}'
    ),
    "not-an-object": lambda rows, rng: Hostile(
        "not-an-object", rng.choice([b"[]", b"[1, 2]", b"42", b'"text"', b"null", b"true"])
    ),
    "nested-too-deep": lambda rows, rng: Hostile("nested-too-deep", b"[" * rng.randint(10_000, 200_000)),
    "non-json-constant": lambda rows, rng: Hostile(
        "non-json-constant",
        with_value(rows, rng, rows.numeric, rng.choice(["NaN", "Infinity", "-Infinity"])),
    ),
    "unknown-key": lambda rows, rng: Hostile(
        "unknown-key", body({rng.choice(["instances", "inputs", "data", "rows"]): records(rows, rng)})
    ),
    "no-shape": lambda rows, rng: Hostile("no-shape", b"{}"),
    "two-shapes": lambda rows, rng: Hostile(
        "two-shapes",
        body({"dataframe_records": records(rows, rng), "input_data": [list(rows.rows[0].values())]}),
    ),
    "duplicate-key": lambda rows, rng: Hostile(
        "duplicate-key", b'{"params": {}, "params": 7, "input_data": []}'
    ),
    "no-rows": lambda rows, rng: Hostile(
        "no-rows", body({rng.choice(["input_data", "dataframe_records"]): []})
    ),
    "ragged-row": lambda rows, rng: Hostile(
        "ragged-row",
        body({"input_data": [list(rows.rows[0].values())[: rng.randrange(len(rows.columns))]]}),
    ),
    "missing-column": lambda rows, rng: Hostile(
        "missing-column", body({"dataframe_records": [without(rows, rng)]})
    ),
    "extra-column": lambda rows, rng: Hostile(
        "extra-column", body({"dataframe_records": [{**rows.rows[0], f"x{rng.randrange(99)}": 1}]})
    ),
    "huge-column-name": lambda rows, rng: Hostile(
        "huge-column-name",
        body({"dataframe_records": [{**rows.rows[0], "n" * rng.randint(1000, 100_000): 1}]}),
    ),
    "repeated-column": lambda rows, rng: Hostile(
        "repeated-column",
        body(
            {
                "dataframe_split": {
                    "columns": [*rows.columns, rows.columns[0]],
                    "data": [[*rows.rows[0].values(), next(iter(rows.rows[0].values()))]],
                }
            }
        ),
    ),
    "text-for-number": value_kind(
        "text-for-number", numeric, lambda rng: json.dumps(rng.choice(["ten", "", "1,5"]))
    ),
    "bool-for-number": value_kind("bool-for-number", numeric, lambda rng: rng.choice(["true", "false"])),
    "object-for-number": value_kind(
        "object-for-number", numeric, lambda rng: rng.choice(["{}", "[1]", '{"a": 1}'])
    ),
    "float-for-integer": value_kind("float-for-integer", integer, lambda rng: repr(rng.random() + 0.5)),
    "beyond-float32": value_kind(
        "beyond-float32",
        numeric,
        lambda rng: rng.choice(["", "-"]) + f"{rng.uniform(3.5, 9.9):.2f}e{rng.randint(38, 307)}",
    ),
    "overflowing-literal": value_kind(
        "overflowing-literal", numeric, lambda rng: rng.choice(["", "-"]) + f"1e{rng.randint(309, 99_999)}"
    ),
    "huge-integer": value_kind("huge-integer", numeric, lambda rng: "9" * rng.randint(310, 4300)),
    "too-many-digits": value_kind("too-many-digits", integer, lambda rng: "1" * rng.randint(4301, 20_000)),
    "beyond-int64": value_kind(
        "beyond-int64", integer, lambda rng: str(rng.choice([1, -1]) * (2**63 + rng.randrange(2**70)))
    ),
    "records-not-a-list": lambda rows, rng: Hostile(
        "records-not-a-list", body({"dataframe_records": rows.rows[0]})
    ),
    "bad-params": lambda rows, rng: Hostile(
        "bad-params",
        body(
            {
                "dataframe_records": records(rows, rng),
                "params": rng.choice([[1], "yes", {"threshold": 0.5}, {"probabilities": "yes"}]),
            }
        ),
    ),
    "oversized": lambda rows, rng: Hostile(
        "oversized",
        b'{"input_data": "' + b"x" * (MAX_BYTES + rng.randrange(1, 4096)) + b'"}',
        statuses=(413,),
    ),
    "lying-content-length": lambda rows, rng: Hostile(
        "lying-content-length",
        body({"dataframe_records": records(rows, rng)}),
        headers={"Content-Type": "application/json", "Content-Length": str(MAX_BYTES * 8)},
        statuses=(413,),
    ),
    "wrong-content-type": lambda rows, rng: Hostile(
        "wrong-content-type",
        body({"dataframe_records": records(rows, rng)}),
        headers={
            "Content-Type": rng.choice(
                ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data"]
            )
        },
        statuses=(415,),
    ),
    "no-content-type": lambda rows, rng: Hostile(
        "no-content-type", body({"dataframe_records": records(rows, rng)}), headers={}, statuses=(415,)
    ),
    "wrong-method": lambda rows, rng: Hostile(
        "wrong-method", b"", method=rng.choice(["GET", "PUT", "DELETE", "PATCH"]), statuses=(405,)
    ),
    "unknown-route": lambda rows, rng: Hostile(
        "unknown-route",
        b"{}",
        path=rng.choice(["/predict", "/score/../admin", "/%2e%2e/keys.json", "/score?x=" + "a" * 2000]),
        statuses=(404, 400),  # a path the HTTP parser refuses is a 400
    ),
    "no-key": lambda rows, rng: Hostile(
        "no-key", body({"dataframe_records": records(rows, rng)}), key=False, statuses=(401,)
    ),
    "wrong-key": lambda rows, rng: Hostile(
        "wrong-key",
        body({"dataframe_records": records(rows, rng)}),
        headers={
            "Content-Type": "application/json",
            "Authorization": rng.choice(["Bearer nope", "Basic Zm9v", "Bearer"]),
        },
        key=False,
        statuses=(401,),
    ),
    "unknown-deployment": lambda rows, rng: Hostile(
        "unknown-deployment",
        body({"dataframe_records": records(rows, rng)}),
        headers={"Content-Type": "application/json", "azureml-model-deployment": f"red{rng.randrange(9)}"},
        statuses=(404,),
    ),
    "not-http": raw_http("not-http", lambda rng: rng.randbytes(rng.randint(16, 256)) + b"\r\n\r\n"),
    "bad-request-line": raw_http("bad-request-line", lambda rng: b"POST /score HTTP/9.9 extra\r\n\r\n"),
    "header-without-colon": raw_http(
        "header-without-colon", lambda rng: b"POST /score HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n"
    ),
}


def generate(rows: Rows, count: int, seed: int = 0) -> list[Hostile]:
    """Return ``count`` hostile requests, every kind in turn, each a fresh variant."""
    rng = random.Random(seed)
    makers = list(KINDS.values())
    return [makers[n % len(makers)](rows, rng) for n in range(count)]


def send(port: int, key: str, hostile: Hostile, timeout: float = 30) -> int:
    """Send a hostile request to a local endpoint; return its status (0: closed without an answer)."""
    from mlops.serving import endpoints

    if hostile.raw is not None:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as connection:
            # as endpoints.request does: an answer sent before all of it was taken is still read
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                connection.sendall(hostile.raw)
            answer = b""
            while chunk := connection.recv(65536):
                answer += chunk
                if b"\r\n" in answer:
                    break
        return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    headers = dict(hostile.headers)
    if hostile.key:
        headers["Authorization"] = f"Bearer {key}"
    status, _, _ = endpoints.request(
        port, hostile.method, hostile.path, timeout, hostile.body or None, headers
    )
    return status
