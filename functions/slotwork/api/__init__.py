"""The HTTPS API (the ``api`` function): DESIGN.md's route table over ``slotwork.App``.

``handle(app, request, policy)`` answers one Flask request: it finds the
caller the platform verified and applies the deployment's rule (``auth``),
routes method and path (``routes``), reads and checks the body (``codec``),
calls the operation's handler (``handlers``), and turns any error into the
Google API error body (``errors``), logging one structured line per request
with the verified caller (never one a header merely claims).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from typing import Any

import flask

from slotwork.api import codec, openapi, paths, routes
from slotwork.api.auth import Caller, Policy
from slotwork.api.errors import MethodNotAllowed, RouteNotFound, answer_for
from slotwork.api.handlers import Call
from slotwork.app import App
from slotwork.errors import InvalidArgument
from slotwork.logs import event

OPEN = Policy()  # no rule of its own: IAM at the edge decides (SLOTWORK_API_AUTH=none)


@functools.lru_cache(maxsize=8)
def _document(processes: tuple[str, ...], base: str) -> dict[str, Any]:
    return openapi.document(processes, base)


def _query(request: flask.Request, route: routes.Route) -> dict[str, str]:
    known = {q.name: q.name for q in route.query}
    known |= {codec.snake_case(q.name): q.name for q in route.query}
    values: dict[str, str] = {}
    for key, given in request.args.lists():
        name = known.get(key)
        if name is None:
            raise InvalidArgument(f"unknown query parameter {key[:80]!r}")
        if name in values or len(given) != 1:
            raise InvalidArgument(f"the query parameter {name} is given more than once")
        values[name] = given[0]
    return values


def _json_response(status: int, body: dict[str, Any], headers: dict[str, str]) -> flask.Response:
    response = flask.Response(
        json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        status=status,
        mimetype="application/json",
    )
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _dispatch(
    app: App, request: flask.Request, log: dict[str, Any], policy: Policy, caller: Caller | None
) -> tuple[int, dict[str, Any]]:
    policy.authenticate(caller)
    method = "GET" if request.method == "HEAD" else request.method
    segments = paths.segments(request)
    match, allowed = routes.resolve(method, segments)
    if match is None:
        if allowed:
            raise MethodNotAllowed(request.method, request.path, allowed)
        raise RouteNotFound(f"no route for {request.path[:200]}")
    route = match.route
    log["operation"] = route.operation_id
    log.update({k: v for k, v in match.path.items() if k in ("process", "item")})
    # Before the body is read: a refused write has written (and parsed) nothing.
    policy.authorize(caller, route.operation_id, route.writes)
    body: dict[str, Any] = {}
    if route.request is not None:
        body = codec.parse_json_object(request, codec.read_body(request, route.body_limit))
    base = request.script_root
    call = Call(
        app,
        match.path,
        _query(request, route),
        body,
        document=lambda: _document(tuple(sorted(app.processes)), base),
        base=base,
    )
    reply = route.handler(call)
    return reply.status, reply.body


def handle(app: App, request: flask.Request, policy: Policy = OPEN) -> flask.Response:
    """Answer one API request (the ``api`` function's body) under ``policy``."""
    started = time.monotonic()
    log: dict[str, Any] = {"method": request.method, "path": request.path[:500]}
    headers: dict[str, str] = {}
    try:
        caller = policy.caller(request.headers)
        if caller is not None:
            log["caller"] = caller.email
            log["caller_via"] = caller.via
        status, body = _dispatch(app, request, log, policy, caller)
    except Exception as err:  # every error becomes a JSON answer; unexpected ones a 500
        answer = answer_for(err, log)
        status, body, headers = answer.status, answer.body, answer.headers
    latency = time.monotonic() - started
    level = logging.INFO if status < 400 else logging.WARNING if status < 500 else logging.ERROR
    event(
        level,
        f"{request.method} {request.path[:200]} {status}",
        status=status,
        latency_ms=round(latency * 1000, 1),
        httpRequest={
            "requestMethod": request.method,
            "requestUrl": request.full_path[:500],
            "status": status,
            "latency": f"{latency:.6f}s",
            "userAgent": request.user_agent.string[:200],
        },
        **log,
    )
    return _json_response(status, body, headers)


__all__ = ["OPEN", "Policy", "handle"]
