"""JSON in and out, in the proto3 JSON mapping.

Responses are ``MessageToDict`` of the schema's messages: lowerCamelCase
names, int64 as strings, Timestamps as RFC 3339, Durations as ``"3600s"``,
and a double that holds a whole number as a JSON integer (stats are counts).
Requests are parsed explicitly (there is no request message in the schema)
and accept both lowerCamelCase and snake_case field names, as the proto3
JSON parsers do; unknown fields, duplicate keys, NaN and lone surrogates are
refused with a 400.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import flask
from google.protobuf.duration_pb2 import Duration
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message

from slotwork.api.errors import FieldViolation, PayloadTooLarge, UnsupportedMediaType
from slotwork.errors import InvalidArgument
from slotwork.model import STATUS_WORDS
from slotwork.params import parse_decimal

JSON_TYPES = ("application/json",)


def to_json(message: Message) -> dict[str, Any]:
    """``message`` in the proto3 JSON mapping, with scalar defaults shown
    (``paused: false`` says more than a missing field)."""
    data = MessageToDict(
        message,
        preserving_proto_field_name=False,
        always_print_fields_with_no_presence=True,
    )
    # One vocabulary of states: ``status.state`` answers the words of
    # ``slotwork.model`` (queued, active, completed ...), as ``WorkResponse.state`` does.
    answer: dict[str, Any] = _status_words({k: whole_numbers(v) for k, v in data.items()})
    return answer


def _status_words(value: Any) -> Any:
    """Every ``status.state`` (a stored ``Status.State`` name) as its state word."""
    if isinstance(value, dict):
        found = {key: _status_words(item) for key, item in value.items()}
        status = found.get("status")
        if isinstance(status, dict) and isinstance(status.get("state"), str):
            status["state"] = STATUS_WORDS.get(status["state"], status["state"])
        return found
    if isinstance(value, list):
        return [_status_words(item) for item in value]
    return value


def whole_numbers(value: Any) -> Any:
    """``value`` with every integral float made an int, at any depth.

    Stats are ``map<string, double>`` (a stat may be fractional), so
    ``MessageToDict`` writes a count of items as ``1150.0``; JSON has one number
    type, and ``1150`` is the same number, written as people and typed clients
    expect a count. NaN and infinities are strings in proto3 JSON already.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: whole_numbers(item) for key, item in value.items()}
    if isinstance(value, list):
        return [whole_numbers(item) for item in value]
    return value


def snake_case(camel: str) -> str:
    """``scheduleFrequency`` -> ``schedule_frequency``."""
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in camel)


def read_body(request: flask.Request, limit: int) -> bytes:
    """The raw body, refused with 413 past ``limit`` bytes (without reading it all)."""
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLarge(f"the body is {length} bytes; this route takes at most {limit}")
    data = request.stream.read(limit + 1)
    if len(data) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    return data


def _refuse_constant(name: str) -> Any:
    raise InvalidArgument(f"the body is not valid JSON: {name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise InvalidArgument(f"the body has the key {key[:80]!r} twice in one object")
        result[key] = value
    return result


def parse_json_object(request: flask.Request, raw: bytes) -> dict[str, Any]:
    """The JSON object of a body; an empty body is ``{}``."""
    if not raw:
        return {}
    if request.mimetype not in JSON_TYPES:
        shown = request.content_type or "no Content-Type"
        raise UnsupportedMediaType(f"send the body as application/json, not {shown}")
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"send the body as UTF-8, not {charset}")
    try:
        text = raw.decode("utf-8")
        body = json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_unique_keys)
        # Lone surrogates (\ud800) decode fine but cannot be stored: refuse them here.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
    except UnicodeError:
        raise InvalidArgument("the body is not valid UTF-8 text") from None
    except RecursionError:
        raise InvalidArgument("the body nests too deeply") from None
    except ValueError as err:
        raise InvalidArgument(f"the body is not valid JSON: {err}") from None
    if not isinstance(body, dict):
        raise InvalidArgument("the body must be a JSON object")
    return body


def fields_of(
    data: object, allowed: tuple[str, ...], where: str = "", required: tuple[str, ...] = ()
) -> dict[str, Any]:
    """``data``'s fields by lowerCamelCase name, from either spelling; unknown ones refused."""
    label = where or "the body"
    if not isinstance(data, Mapping):
        raise _violation(where, f"{label} must be a JSON object")
    spelled = {name: name for name in allowed} | {snake_case(name): name for name in allowed}
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = spelled.get(key)
        if name is None:
            raise _violation(where, f"unknown field {str(key)[:80]!r} in {label}")
        if name in result:
            raise _violation(where, f"{label} has both {name} and {snake_case(name)}")
        result[name] = value
    for name in required:
        if name not in result:
            raise _violation(where, f"{label} needs the field {name}")
    return result


def _violation(where: str, message: str) -> InvalidArgument:
    return FieldViolation(where, message) if where else InvalidArgument(message)


def duration(value: object, field: str, maximum: timedelta) -> timedelta:
    """A positive proto3 JSON Duration (``"3600s"``, ``"1.5s"``) up to ``maximum``."""
    if not isinstance(value, str):
        raise InvalidArgument(f'{field} must be a duration string such as "3600s"')
    parsed = Duration()
    try:
        parsed.FromJsonString(value)
        delta = parsed.ToTimedelta()
    except (ValueError, OverflowError):
        raise InvalidArgument(
            f'{field} must be a duration string such as "3600s", not {value[:40]!r}'
        ) from None
    if delta <= timedelta(0):
        raise InvalidArgument(f"{field} must be positive")
    if delta > maximum:
        raise InvalidArgument(f"{field} must be at most {int(maximum.total_seconds())}s")
    return delta


def integer(value: object, field: str, low: int, high: int) -> int:
    """An integer (a JSON number or, as proto3 JSON allows, a decimal string) in range."""
    if isinstance(value, str):
        value = parse_decimal(value, field)
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidArgument(f"{field} must be an integer")
    if not low <= value <= high:
        raise InvalidArgument(f"{field} must be within {low}..{high}")
    return value
