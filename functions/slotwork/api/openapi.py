"""The OpenAPI 3 document of the API, built from the route table (``routes.ROUTES``).

The ``process`` path parameter lists the deployment's processes: any other
name is a 404, and a fuzzer reading the document reaches real processes.
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
    "proto3 JSON mapping: requests may spell fields lowerCamelCase or snake_case; "
    "responses use lowerCamelCase. Errors are "
    '{"error": {"code", "status", "message"}}. Authentication is IAM at the '
    "function's edge (an ID token for the function's URL)."
)
_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    400: "Invalid argument: a bad name, parameter, field, query value or JSON body.",
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
        schema = {"type": "string", "enum": processes}
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
    for code in route.errors:
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


def document(processes: Iterable[str]) -> dict[str, Any]:
    """The OpenAPI 3.0 document for a deployment serving ``processes``."""
    names = sorted(processes)
    paths: dict[str, dict[str, Any]] = {}
    for route in routes.ROUTES:
        paths.setdefault(route.template, {})[route.method.lower()] = _operation(route, names)
    return {
        "openapi": "3.0.3",
        "info": {"title": TITLE, "version": VERSION, "description": DESCRIPTION},
        "paths": paths,
        "components": {"schemas": schemas.components()},
    }
