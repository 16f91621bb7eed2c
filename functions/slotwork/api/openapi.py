"""The OpenAPI 3 document of the API, built from the route table (``routes.ROUTES``).

The ``process`` path parameter lists the deployment's processes: any other
name is a 404, and a fuzzer reading the document reaches real processes.
Every field is declared once, in lowerCamelCase (the server also reads the
snake_case spelling, as proto3 JSON parsers do, but declaring both makes
client generators emit each model twice).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from slotwork.api import routes, schemas
from slotwork.api.routes import Route

TITLE = "slotwork API"
VERSION = "1"
DESCRIPTION = (
    "Register work items of slotwork processes and look at their state. JSON in the "
    "proto3 JSON mapping: fields are declared lowerCamelCase, and requests may also "
    "spell them snake_case (not both in one object); responses use lowerCamelCase. "
    'Errors are {"error": {"code", "status", "message"}}. Authentication is IAM at the '
    "function's edge (a Google ID token whose audience is the function's URL); with "
    "SLOTWORK_API_AUTH=verified every request needs a verified caller (else 401) and "
    "writes need a caller listed in SLOTWORK_API_WRITERS (else 403)."
)
PROCESS_NAME = "ProcessName"
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Invalid argument (a bad name, parameter, field, query value or JSON body), or "
    "FAILED_PRECONDITION: the deployment cannot do this (:run without a scheduler).",
    401: "No verified caller, and this deployment needs one (SLOTWORK_API_AUTH=verified).",
    403: "The caller may read but not write: its email is not in SLOTWORK_API_WRITERS.",
    404: "Unknown process, work item or path.",
    409: "Concurrent writers kept changing the same documents; retry.",
    413: "The body is over this route's size limit.",
    415: "The body is not application/json.",
    500: "An internal error (logged with a reference the message gives).",
    503: "Firestore or Cloud Scheduler is unavailable; retry with backoff.",
}


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _path_parameter(name: str, processes: list[str]) -> dict[str, Any]:
    schema: dict[str, Any]
    if name == "process" and processes:
        # One component, so generated clients get one enum rather than one per operation.
        schema = schemas.ref(PROCESS_NAME)
        description = "A process of this deployment."
    else:
        schema = dict(schemas.NAME)
        description = "The work item's name, percent-encoded (decoded once)."
    return {
        "name": name,
        "in": "path",
        "required": True,
        "schema": schema,
        "description": description,
    }


def _operation(route: Route, processes: list[str]) -> dict[str, Any]:
    parameters = [
        _path_parameter(s.variable, processes) for s in route.segments if s.variable is not None
    ]
    parameters += [
        {
            "name": q.name,
            "in": "query",
            "required": False,
            "schema": q.schema,
            "description": q.description,
        }
        for q in route.query
    ]
    responses: dict[str, Any] = {
        str(code): {"description": _REASONS[code], "content": _json(schemas.ref(route.response))}
        for code in route.successes
    }
    for code in route.error_statuses:
        responses[str(code)] = {
            "description": _REASONS[code],
            "content": _json(schemas.ref("Error")),
        }
    operation: dict[str, Any] = {
        "operationId": route.operation_id,
        "summary": route.summary,
        "parameters": parameters,
        "responses": responses,
    }
    if route.request is not None:
        operation["requestBody"] = {
            "required": False,
            "description": f"At most {route.body_limit} bytes of application/json.",
            "content": _json(schemas.ref(route.request)),
        }
    return operation


def document(processes: Iterable[str], base: str = "") -> dict[str, Any]:
    """The OpenAPI 3.0 document for a deployment serving ``processes`` under ``base``
    (the path it is mounted at, "" at the root)."""
    names = sorted(processes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes.ROUTES:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route, names)
    components = schemas.components()
    if names:
        components[PROCESS_NAME] = {
            "type": "string",
            "enum": names,
            "description": "The processes of this deployment.",
        }
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        # A path: relative to wherever the document was fetched from, so the same
        # document is right behind any host name the function is reached by.
        "servers": [{"url": base or "/", "description": "this deployment"}],
        "paths": paths,
        # No securitySchemes: the token is IAM's business at the edge (the description
        # says so), and a declared scheme makes fuzzers send headers the server's own
        # HTTP layer refuses before the function sees them.
        "components": {"schemas": components},
    }
