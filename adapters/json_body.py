"""JSON from outside: a malformed, non-UTF-8 or absurdly nested body is the sender's mistake (400), never ours.

`json.loads` raises RecursionError, not ValueError, on a body of thousands of nested `[[[…]]]`; every route
that reads JSON from the network goes through here so none of them turns that into a 500.
"""

from __future__ import annotations

import json

from bot.errors import PolicyBotError


class BadBody(PolicyBotError):
    """The request body could not be read as the JSON the route expects."""


def _no_constant(name: str) -> object:
    # Python reads NaN and Infinity, which JSON has not: echoed back, they made a reply no browser could parse.
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes | str) -> object:
    try:
        return json.loads(raw, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadBody(f"The request body is not valid JSON ({exc.__class__.__name__}).") from None


def parse_json_object(raw: bytes | str, shape: str = "a JSON object") -> dict:
    """The body as a JSON object; BadBody (saying what to send instead) for anything else."""
    payload = parse_json(raw)
    if not isinstance(payload, dict):
        raise BadBody(f"Send {shape}.")
    return payload
