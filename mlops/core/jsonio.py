"""JSON for the request path: orjson where it can (several times faster than the standard library on
the bodies and records endpoints handle), the standard library where orjson refuses, so every value
reads and writes exactly as it always did (integers beyond 64 bits, NaN refused with its own message,
nesting too deep for orjson)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import orjson

# orjson reads an integer beyond 64 bits as a float (2**70 becomes 1.1805916207174113e+21): a body with
# a run of 19 digits or more, which every such integer has, is read by the standard library, exactly
LONG_DIGITS = re.compile(rb"[0-9]{19}")


def loads(text: bytes | str, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """Parse JSON; ``parse_constant`` is called, as by ``json.loads``, for NaN and Infinity. Integers
    are read exactly, whatever their size."""
    if LONG_DIGITS.search(text.encode() if isinstance(text, str) else text):
        return json.loads(text, parse_constant=parse_constant)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # also a ValueError: the standard library decides, with its message
        return json.loads(text, parse_constant=parse_constant)


def dumps(value: Any) -> bytes:
    """Return ``value`` as compact UTF-8 JSON."""
    try:
        return orjson.dumps(value)
    except TypeError:  # an integer beyond 64 bits, or text holding a lone surrogate ("\ud800")
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        try:
            return text.encode()
        except UnicodeEncodeError:  # a lone surrogate has no UTF-8 form: write it escaped, as JSON allows
            return json.dumps(value, separators=(",", ":")).encode()
