"""Params (``int_params``/``string_params``) and names: conversion and validation.

The limits keep every document far below Firestore's 1 MiB: an item's params
take at most ``MAX_PARAMS_BYTES``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from slotwork.errors import InvalidArgument
from slotwork.schema.slotwork_pb2 import Params

# Firestore document ids: at most 1,500 bytes, no "/", not "." or "..", not __x__.
MAX_NAME_BYTES = 1500
MAX_PARAM_KEY_BYTES = 256
MAX_STRING_PARAM_BYTES = 16 * 1024
MAX_PARAMS_ENTRIES = 256
MAX_PARAMS_BYTES = 64 * 1024  # per item: 1/16 of the 1 MiB document limit
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
INT64_DIGITS = 19
# The one spelling of an integer in a string (proto3 JSON writes int64 so): ASCII
# digits, an optional "-". Python's int() would also take " 12 ", "1_000" and
# Arabic-Indic digits, which no other proto3 JSON parser reads as the same number.
DECIMAL = re.compile(r"-?[0-9]+")
# Unicode's format characters (zero-width spaces and joiners, bidi embeddings,
# overrides and isolates, the byte-order mark, the soft hyphen): invisible, so
# two names that look the same would name different items.
_INVISIBLE_CATEGORY = "Cf"

ParamsLike = Params | Mapping[str, Any] | None


def validate_name(name: object, kind: str = "name") -> str:
    """``name`` in Unicode NFC if it can be a Firestore document id, else InvalidArgument.

    Names that differ only by normalisation (a precomposed "é" and "e" with a
    combining accent) are one name: the NFC form is the one stored. Names with
    invisible or bidi-control characters are refused, so a name cannot hide a
    difference from the people reading it.
    """
    if not isinstance(name, str):
        raise InvalidArgument(f"{kind} must be a string")
    if not name:
        raise InvalidArgument(f"{kind} must not be empty")
    name = normalise(name, kind)
    if len(name.encode("utf-8")) > MAX_NAME_BYTES:
        raise InvalidArgument(f"{kind} must be at most {MAX_NAME_BYTES} bytes in UTF-8")
    if "/" in name:
        raise InvalidArgument(f"{kind} must not contain '/'")
    if name in (".", ".."):
        raise InvalidArgument(f"{kind} must not be '.' or '..'")
    if name.startswith("__") and name.endswith("__"):
        raise InvalidArgument(f"{kind} must not have the reserved form __name__")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise InvalidArgument(f"{kind} must not contain control characters")
    return name


def normalise(text: str, what: str) -> str:
    """``text`` in NFC; InvalidArgument if it is not valid Unicode or holds a format
    character (category Cf: zero-width, bidi control, byte-order mark)."""
    _check_utf8(text, what)
    for index, char in enumerate(text):
        if unicodedata.category(char) == _INVISIBLE_CATEGORY:
            raise InvalidArgument(
                f"{what} must not contain invisible or bidi-control characters "
                f"(U+{ord(char):04X} at position {index})"
            )
    return unicodedata.normalize("NFC", text)


def _check_utf8(text: str, what: str) -> None:
    # An unpaired surrogate (a JSON escape like "\ud800") cannot be stored.
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgument(f"{what} is not valid Unicode (unpaired surrogate)") from None


def check_map_key(key: object, field: str) -> str:
    """``key`` in NFC if Firestore can store it as a map key (params, stats), else
    InvalidArgument (the same Unicode rules as ``validate_name``)."""
    if not isinstance(key, str) or not key:
        raise InvalidArgument(f"{field} keys must be non-empty strings")
    key = normalise(key, f"{field} key {shorten(key)}")
    if len(key.encode("utf-8")) > MAX_PARAM_KEY_BYTES:
        raise InvalidArgument(
            f"{field} key {shorten(key)} is longer than {MAX_PARAM_KEY_BYTES} bytes"
        )
    if key.startswith("__") and key.endswith("__"):
        raise InvalidArgument(f"{field} key {shorten(key)} has the reserved form __name__")
    return key


def shorten(name: str, limit: int = 80) -> str:
    """``name`` quoted for a message, cut so that no message or log line grows with it."""
    return repr(name) if len(name) <= limit else repr(name[:limit]) + f"... ({len(name)} chars)"


def _int_value(key: str, value: object) -> int:
    if isinstance(value, bool):
        raise InvalidArgument(f"int_params[{key!r}] must be an integer, not a boolean")
    if isinstance(value, str):
        value = parse_decimal(value, f"int_params[{key!r}]")
    if not isinstance(value, int):
        raise InvalidArgument(f"int_params[{key!r}] must be an integer")
    if not INT64_MIN <= value <= INT64_MAX:
        raise InvalidArgument(f"int_params[{key!r}] does not fit in 64 bits")
    return value


def parse_decimal(text: str, what: str) -> int:
    """The integer a proto3 JSON int64 string spells (``DECIMAL``), else InvalidArgument."""
    if not DECIMAL.fullmatch(text):
        raise InvalidArgument(
            f"{what} must be an integer: a JSON number, or a string of ASCII digits"
        )
    if len(text.lstrip("-").lstrip("0")) > INT64_DIGITS:
        # Refused before int(), which grows slow on long digit strings.
        raise InvalidArgument(f"{what} does not fit in 64 bits")
    return int(text)


def _string_value(key: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidArgument(f"string_params[{key!r}] must be a string")
    _check_utf8(value, f"string_params[{key!r}]")
    if len(value.encode("utf-8")) > MAX_STRING_PARAM_BYTES:
        raise InvalidArgument(
            f"string_params[{key!r}] is longer than {MAX_STRING_PARAM_BYTES} bytes"
        )
    return value


def _field(data: Mapping[str, Any], snake: str, camel: str) -> Mapping[str, Any]:
    if snake in data and camel in data:
        raise InvalidArgument(f"params has both {snake} and {camel}")
    value = data.get(snake, data.get(camel, {}))
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidArgument(f"params.{snake} must be an object")
    return value


def to_params(value: ParamsLike) -> Params:
    """A validated ``Params`` message from a message, a dict (snake or camelCase) or None."""
    if value is None:
        return Params()
    if isinstance(value, Params):
        data: Mapping[str, Any] = {
            "int_params": dict(value.int_params),
            "string_params": dict(value.string_params),
        }
    elif isinstance(value, Mapping):
        data = value
    else:
        raise InvalidArgument("params must be an object with int_params and string_params")
    unknown = set(data) - {"int_params", "intParams", "string_params", "stringParams"}
    if unknown:
        raise InvalidArgument(f"params has unknown fields: {', '.join(sorted(map(str, unknown)))}")
    ints = _field(data, "int_params", "intParams")
    strings = _field(data, "string_params", "stringParams")
    if len(ints) + len(strings) > MAX_PARAMS_ENTRIES:
        raise InvalidArgument(f"params may hold at most {MAX_PARAMS_ENTRIES} entries")
    params = Params()
    for key, raw in ints.items():
        params.int_params[_new_key(params.int_params, key, "int_params")] = _int_value(key, raw)
    for key, raw in strings.items():
        name = _new_key(params.string_params, key, "string_params")
        params.string_params[name] = _string_value(key, raw)
    if params.ByteSize() > MAX_PARAMS_BYTES:
        raise InvalidArgument(f"params are larger than {MAX_PARAMS_BYTES} bytes")
    return params


def _new_key(seen: Mapping[str, object], key: object, field: str) -> str:
    name = check_map_key(key, field)
    if name in seen:
        # Two spellings of one key (NFC and NFD): keeping either would drop a value silently.
        raise InvalidArgument(f"{field} has the key {shorten(name)} twice (as written and in NFC)")
    return name


def params_to_doc(params: Params) -> dict[str, dict[str, Any]]:
    """The Firestore map of a Params message."""
    return {
        "int_params": dict(params.int_params),
        "string_params": dict(params.string_params),
    }


def params_from_doc(data: Mapping[str, Any] | None) -> Params:
    """A Params message from its Firestore map (missing fields are empty)."""
    params = Params()
    if data:
        params.int_params.update(data.get("int_params") or {})
        params.string_params.update(data.get("string_params") or {})
    return params
