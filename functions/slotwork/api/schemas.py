"""JSON Schemas of the API's bodies, for the OpenAPI document.

Response schemas are derived from the proto descriptors (the same messages
``MessageToDict`` writes), so a field added to ``slotwork.proto`` appears in
the document without an edit here. Request schemas are written out, each
field once in lowerCamelCase: the parser also reads snake_case, and the
schema's description says so (declaring both spellings made client
generators emit every model twice, and skip the routes that used them).
"""

from __future__ import annotations

from typing import Any

from google.protobuf.descriptor import FieldDescriptor

from slotwork.api import limits
from slotwork.model import STATUS_WORDS
from slotwork.params import (
    MAX_PARAM_KEY_BYTES,
    MAX_PARAMS_BYTES,
    MAX_PARAMS_ENTRIES,
    MAX_STRING_PARAM_BYTES,
)
from slotwork.policies import MAX_ERRORS
from slotwork.schema import Process, RunRecord, Status, WorkResponse

Schema = dict[str, Any]
# Descriptors are typed Any here: the upb and pure-Python descriptor classes differ
# in their stubs, and only their documented attributes are read.

_INT32 = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_FIXED32,
}
_INT64 = {
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_SFIXED64,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_FIXED64,
}
DURATION: Schema = {
    "type": "string",
    "pattern": r"^-?[0-9]+(\.[0-9]{1,9})?s$",
    "description": 'A proto3 JSON Duration: seconds with an "s" suffix, such as "3600s".',
}
# proto3 JSON writes int64 as a decimal string (JavaScript numbers lose digits past 2^53).
INT64_OUT: Schema = {"type": "string", "pattern": r"^-?[0-9]{1,19}$", "format": "int64"}
# The range is the format's, not minimum/maximum: generators read those as doubles
# (9.223372036854776e+18, a bound past int64) and the format already says it.
INT64_IN: Schema = {
    "oneOf": [
        {"type": "integer", "format": "int64"},
        {"type": "string", "pattern": r"^-?[0-9]{1,19}$"},
    ]
}


def ref(name: str) -> Schema:
    """A reference to a component schema."""
    return {"$ref": f"#/components/schemas/{name}"}


def _scalar(field: Any, components: dict[str, Schema]) -> Schema:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        full = field.message_type.full_name
        if full == "google.protobuf.Timestamp":
            return {"type": "string", "format": "date-time"}
        if full == "google.protobuf.Duration":
            return dict(DURATION)
        return message_schema(field.message_type, components)
    if kind == FieldDescriptor.TYPE_ENUM:
        if field.enum_type.full_name == Status.State.DESCRIPTOR.full_name:
            # The codec answers the state words, not the stored enum's names.
            return {"type": "string", "enum": list(dict.fromkeys(STATUS_WORDS.values()))}
        return {"type": "string", "enum": [v.name for v in field.enum_type.values]}
    if kind == FieldDescriptor.TYPE_BOOL:
        return {"type": "boolean"}
    if kind in _INT32:
        return {"type": "integer", "format": "int32"}
    if kind in _INT64:
        return dict(INT64_OUT)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return {"type": "number"}
    if kind == FieldDescriptor.TYPE_BYTES:
        return {"type": "string", "format": "byte"}
    return {"type": "string"}


def _field(field: Any, components: dict[str, Schema]) -> Schema:
    entry = field.message_type
    if entry is not None and entry.GetOptions().map_entry:
        return {
            "type": "object",
            "additionalProperties": _scalar(entry.fields_by_name["value"], components),
        }
    if field.is_repeated:
        return {"type": "array", "items": _scalar(field, components)}
    return _scalar(field, components)


def message_schema(descriptor: Any, components: dict[str, Schema]) -> Schema:
    """A reference to the schema of ``descriptor``, adding it (and what it uses) to
    ``components``: proto3 JSON names, no other properties."""
    name = descriptor.name
    if name not in components:
        components[name] = {}  # placeholder: stops recursion on self-reference
        components[name] = {
            "type": "object",
            "description": f"The proto message slotwork.v1.{name} in the proto3 JSON mapping.",
            "properties": {f.json_name: _field(f, components) for f in descriptor.fields},
            "additionalProperties": False,
        }
    return ref(name)


SPELLING = (
    "Fields are lowerCamelCase; the server also reads each one spelt snake_case "
    "(as proto3 JSON parsers do), but not both spellings in one object."
)


def _request(properties: dict[str, Schema], required: tuple[str, ...] = ()) -> Schema:
    schema: Schema = {
        "type": "object",
        "description": SPELLING,
        "properties": properties,
        "additionalProperties": False,
    }
    if required:
        schema["required"] = list(required)
    return schema


def _params_input() -> Schema:
    # (OpenAPI 3.0 has no propertyNames: the key limit is stated in words.)
    keys = f"Keys are 1..{MAX_PARAM_KEY_BYTES} bytes; at most {MAX_PARAMS_ENTRIES} entries "
    keys += f"in all, {MAX_STRING_PARAM_BYTES} bytes per string, {MAX_PARAMS_BYTES} per item."
    schema = _request(
        {
            "intParams": {
                "type": "object",
                "maxProperties": MAX_PARAMS_ENTRIES,
                "additionalProperties": INT64_IN,
            },
            "stringParams": {
                "type": "object",
                "maxProperties": MAX_PARAMS_ENTRIES,
                "additionalProperties": {"type": "string"},
            },
        }
    )
    schema["description"] = f"Params. {schema['description']} {keys}"
    return schema


NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 1500,
    "description": (
        "A Firestore document id: at most 1,500 bytes of UTF-8, no '/', not '.' or '..', "
        "not of the form __name__, no control characters."
    ),
}


def components() -> dict[str, Schema]:
    """Every schema the document names, by name."""
    found: dict[str, Schema] = {}
    for message in (Process, WorkResponse, RunRecord):
        message_schema(message.DESCRIPTOR, found)
    found.update(
        {
            "ParamsInput": _params_input(),
            "RegisterWorkRequest": _request({"params": ref("ParamsInput")}),
            "BatchRegisterRequest": _request(
                {
                    "items": {
                        "type": "array",
                        "maxItems": limits.MAX_BATCH_ITEMS,
                        "items": _request({"name": NAME, "params": ref("ParamsInput")}, ("name",)),
                    }
                },
                ("items",),
            ),
            "UpdateProcessRequest": _request(
                {
                    "scheduleFrequency": DURATION,
                    "settings": ref("ParamsInput"),
                    "catchUp": _request(
                        {
                            "policy": {"type": "string", "enum": ["SKIP", "RUN_LATE"]},
                            "runLateWithin": DURATION,
                        }
                    ),
                    "pauseAfterAborts": {
                        "type": "integer",
                        "minimum": 0,
                        "maximum": limits.MAX_PAUSE_AFTER_ABORTS,
                    },
                    "rateLimit": _request(
                        {
                            "count": {
                                "type": "number",
                                "exclusiveMinimum": True,
                                "minimum": 0,
                                "description": "Items per period (the whole process's).",
                            },
                            "per": {**DURATION, "description": "The period (default 1s)."},
                        },
                        ("count",),
                    ),
                    "errorBudget": _request(
                        {
                            "perItem": {"type": "integer", "minimum": 0, "maximum": MAX_ERRORS},
                            "perRun": {
                                "type": "number",
                                "minimum": 0,
                                "maximum": MAX_ERRORS,
                                "description": (
                                    "Errors a run tolerates: a whole number, or a fraction "
                                    "(0 < f < 1) of the items the run started with."
                                ),
                            },
                        }
                    ),
                }
            ),
            "BatchNamesRequest": _request(
                {"names": {"type": "array", "maxItems": limits.MAX_BATCH_ITEMS, "items": NAME}},
                ("names",),
            ),
            "BatchChangeResponse": _response(
                {
                    "results": _array(
                        _response({"name": {"type": "string"}, "changed": {"type": "boolean"}})
                    )
                }
            ),
            "PauseRequest": _request(
                {"reason": {"type": "string", "maxLength": limits.MAX_REASON_BYTES}}
            ),
            "EmptyRequest": _request({}),
            "ListProcessesResponse": _response({"processes": _array(ref("Process"))}),
            "ListWorkResponse": _response(
                {"items": _array(ref("WorkResponse")), "nextPageToken": {"type": "string"}}
            ),
            "ListRunsResponse": _response(
                {"runs": _array(ref("RunRecord")), "nextPageToken": {"type": "string"}}
            ),
            "BatchRegisterResponse": _response(
                {
                    "results": _array(
                        _response(
                            {
                                "name": {"type": "string"},
                                "created": {"type": "boolean"},
                                "changed": {"type": "boolean"},
                            }
                        )
                    )
                }
            ),
            "RunNowResponse": _response(
                {"process": {"type": "string"}, "requested": {"type": "boolean"}}
            ),
            "ApiIndex": _response(
                {
                    "title": {"type": "string"},
                    "openapi": {"type": "string", "description": "The OpenAPI document's path."},
                    "processes": {"type": "string", "description": "The process list's path."},
                }
            ),
            "OpenApiDocument": {"type": "object", "required": ["openapi", "paths"]},
            "Error": _error(),
        }
    )
    return found


def _array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def _response(properties: dict[str, Schema]) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": list(properties),
        "additionalProperties": False,
    }


def _error() -> Schema:
    return {
        "type": "object",
        "description": "A Google API error: the HTTP status, the google.rpc code name, a message.",
        "properties": {
            "error": {
                "type": "object",
                "properties": {
                    "code": {"type": "integer"},
                    "status": {"type": "string"},
                    "message": {"type": "string"},
                    "details": {"type": "array", "items": {"type": "object"}},
                },
                "required": ["code", "status", "message"],
                "additionalProperties": False,
            }
        },
        "required": ["error"],
        "additionalProperties": False,
    }
