"""Plain values across the sandbox boundary, as tagged JSON (standard library only).

The judge sends a candidate function's arguments into the sandbox and gets its return value back; both
directions carry only plain data (None, bool, int, float, str, bytes, list, tuple, set, dict), so nothing the
candidate returns can run code on the judge's side. This file is also copied verbatim into the sandbox's
server script, so it must stay self-contained.
"""

import json
import math

MAX_DEPTH = 64
# Integers cross the boundary as JSON text, so Python's default bound (4,300 digits) would fail a right answer
# such as factorial(2000); the judge still parses untrusted text, so the bound stays, generous and explicit.
MAX_INT_DIGITS = 100_000


def encode(value, depth=0):
    """A JSON-ready form of a plain value; anything else is a TypeError."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if value is None or type(value) in (bool, str, int):
        return value
    if type(value) is float:
        return value if math.isfinite(value) else {"float": repr(value)}
    if isinstance(value, (bool, int, str, float)):  # subclasses travel as their plain value
        return encode(
            bool(value)
            if isinstance(value, bool)
            else int(value)
            if isinstance(value, int)
            else str.__str__(value)
            if isinstance(value, str)
            else float(value),
            depth,
        )
    if isinstance(value, (bytes, bytearray)):
        return {"bytes": bytes(value).hex()}
    if isinstance(value, list):
        return [encode(v, depth + 1) for v in value]
    if isinstance(value, tuple):
        return {"tuple": [encode(v, depth + 1) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"set": [encode(v, depth + 1) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[encode(k, depth + 1), encode(v, depth + 1)] for k, v in value.items()]}
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return encode(value.tolist(), depth)
    raise TypeError(f"a {type(value).__name__} cannot cross the sandbox boundary")


def decode(data, depth=0):
    """The plain value a JSON-ready form stands for; only plain types are ever built."""
    if depth > MAX_DEPTH:
        raise ValueError("value nested too deeply")
    if data is None or type(data) in (bool, str, int, float):
        return data
    if type(data) is list:
        return [decode(v, depth + 1) for v in data]
    if type(data) is dict and len(data) == 1:
        ((tag, body),) = data.items()
        if tag == "float" and body in ("inf", "-inf", "nan"):
            return float(body)
        if tag == "bytes" and type(body) is str:
            return bytes.fromhex(body)
        if tag == "tuple" and type(body) is list:
            return tuple(decode(v, depth + 1) for v in body)
        if tag == "set" and type(body) is list:
            return {decode(v, depth + 1) for v in body}
        if tag == "dict" and type(body) is list:
            return {decode(k, depth + 1): decode(v, depth + 1) for k, v in body}
    raise ValueError("not a value the sandbox protocol knows")


def dumps(message: dict) -> str:
    return json.dumps(message, separators=(",", ":")) + "\n"


def loads(line: str) -> dict:
    message = json.loads(line)
    if type(message) is not dict:
        raise ValueError("a protocol message is a JSON object")
    return message
