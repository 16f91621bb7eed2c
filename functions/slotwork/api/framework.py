"""Fitting the API into the Flask app that serves it (functions-framework's, or
``local.flask_app``).

Some requests never reach ``handle``: Flask's own routing refuses them first
(a path with a newline does not match functions-framework's ``/<path:path>``
rule; ``//`` is redirected). ``install`` makes those answers JSON errors in
the documented shape too, and keeps ``//`` as sent.
"""

from __future__ import annotations

import flask
from werkzeug.exceptions import HTTPException

from slotwork.api.errors import error_body

# google.rpc code names of the statuses Flask itself can answer.
_RPC_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    405: "UNIMPLEMENTED",
    409: "ABORTED",
    413: "INVALID_ARGUMENT",
    415: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    503: "UNAVAILABLE",
}


def framework_error(err: HTTPException) -> flask.Response:
    """A Flask-level HTTP error as the API's JSON error body."""
    code = err.code or 500
    status = _RPC_STATUS.get(code, "INTERNAL" if code >= 500 else "INVALID_ARGUMENT")
    message = "no route for this path" if code == 404 else (err.name or "error").lower()
    response = flask.jsonify(error_body(code, status, message))
    response.status_code = code
    return response


def install(app: flask.Flask) -> None:
    """Make ``app``'s own errors JSON and keep ``//`` in paths (call before it serves).

    In ``functions/main.py``, at import time: ``install(flask.current_app)``
    (functions-framework runs the source inside its app's context).
    """
    # Rules read this when they are bound, after the source module has run.
    app.url_map.merge_slashes = False
    app.register_error_handler(HTTPException, framework_error)
