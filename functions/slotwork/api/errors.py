"""Errors as HTTP answers: the one place an exception becomes a status and a body.

slotwork's own exceptions carry their HTTP status and google.rpc code on the
class (``slotwork.errors``: InvalidArgument 400 INVALID_ARGUMENT, NotFound 404
NOT_FOUND, Conflict 409 ABORTED, StoreUnavailable 503 UNAVAILABLE, ...); this
module adds the errors only the API has (401, 403, 405, 413, 415, and the
400 FAILED_PRECONDITION of an operation the deployment cannot do) and turns any exception
into the Google API error body ``{"error": {"code", "status", "message"}}``.
Anything unexpected becomes 500 INTERNAL with a generic message: the
traceback is logged, never echoed.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from dataclasses import dataclass, field
from typing import Any

from slotwork.errors import InvalidArgument, SlotworkError
from slotwork.logs import event


class FieldViolation(InvalidArgument):
    """A 400 that names the request field at fault (``items[3].name``).

    The body then carries a google.rpc.BadRequest detail, so clients (the CLI's
    ``register-file``) can point at the offending input.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.description = message


class Unauthenticated(SlotworkError):
    """No verified caller where the deployment needs one (HTTP 401)."""

    http_status = 401
    rpc_status = "UNAUTHENTICATED"


class PermissionDenied(SlotworkError):
    """A verified caller without the right the operation needs (HTTP 403)."""

    http_status = 403
    rpc_status = "PERMISSION_DENIED"


class FailedPrecondition(SlotworkError):
    """The request is well formed, but this deployment cannot do it as set up (HTTP 400)."""

    http_status = 400
    rpc_status = "FAILED_PRECONDITION"


class MethodNotAllowed(SlotworkError):
    """A known path asked with a method it does not serve (HTTP 405)."""

    http_status = 405
    rpc_status = "UNIMPLEMENTED"

    def __init__(self, method: str, path: str, allowed: list[str]) -> None:
        super().__init__(f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}")
        self.allowed = allowed


class PayloadTooLarge(SlotworkError):
    """A body over the route's size limit (HTTP 413)."""

    http_status = 413
    rpc_status = "INVALID_ARGUMENT"


class UnsupportedMediaType(SlotworkError):
    """A body that is not ``application/json`` (HTTP 415)."""

    http_status = 415
    rpc_status = "INVALID_ARGUMENT"


class RouteNotFound(SlotworkError):
    """A path no route serves (HTTP 404)."""

    http_status = 404
    rpc_status = "NOT_FOUND"


@dataclass(frozen=True)
class ErrorAnswer:
    """The status, JSON body and extra headers of an error response."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


def error_body(code: int, status: str, message: str) -> dict[str, Any]:
    """The Google API error body."""
    return {"error": {"code": code, "status": status, "message": message}}


def answer_for(err: BaseException, log_fields: dict[str, Any]) -> ErrorAnswer:
    """The HTTP answer for ``err``; unexpected errors are logged with their traceback."""
    if isinstance(err, SlotworkError):
        body = error_body(err.http_status, err.rpc_status, str(err))
        headers: dict[str, str] = {}
        if isinstance(err, FieldViolation):
            body["error"]["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.BadRequest",
                    "fieldViolations": [{"field": err.field, "description": err.description}],
                }
            ]
        if isinstance(err, MethodNotAllowed):
            headers["Allow"] = ", ".join(err.allowed)
        if isinstance(err, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"  # RFC 9110: a 401 names its scheme
        if isinstance(err, PayloadTooLarge | UnsupportedMediaType):
            # Close rather than drain a body we refused to read.
            headers["Connection"] = "close"
        if err.http_status >= 500:
            event(logging.ERROR, "api request failed", error=str(err), **log_fields)
        return ErrorAnswer(err.http_status, body, headers)
    # A bug or an unexpected library error: the caller gets a reference, not the details.
    reference = secrets.token_hex(8)
    event(
        logging.ERROR,
        "unhandled error in api request",
        reference=reference,
        error=repr(err),
        traceback="".join(traceback.format_exception(err)),
        **log_fields,
    )
    return ErrorAnswer(500, error_body(500, "INTERNAL", f"internal error (reference {reference})"))
