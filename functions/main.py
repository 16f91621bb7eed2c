"""Cloud Functions entry points (functions-framework targets): ``run`` and ``api``.

``run`` is what Cloud Scheduler calls, one tick per request; ``api`` is the
HTTPS API. Both build the same App from the environment, once per instance,
when the instance starts: a configuration error is logged then, once, naming
the variable, and every request of either function answers it as JSON.
"""

from __future__ import annotations

import os
import sys

import flask
import functions_framework

# The deployed source directory is the import root: make it so locally too.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from slotwork import logs
from slotwork.api import Policy, handle
from slotwork.api.framework import install
from slotwork.deployment import StartFailure, run_tick, start

logs.configure()
# Answer what functions-framework's own routing rejects (a %0A in the path,
# a // redirect) with JSON errors too.
install(flask.current_app)

# Built here rather than on the first request, so that a bad environment shows
# in the log as the instance starts (and nothing touches Firestore yet: the
# client connects on first use, after the server has forked its worker).
STARTED = start(os.environ)
POLICY = Policy() if isinstance(STARTED, StartFailure) else Policy.from_config(STARTED.config)


def _failure(failure: StartFailure) -> flask.Response:
    return flask.make_response(flask.jsonify(failure.body()), failure.status)


@functions_framework.http
def run(request: flask.Request) -> flask.Response:
    """One tick of the process named in the body ``{"process": NAME, "shard": K}``.

    A GET is no tick: it answers whether the function started (a probe, not logged
    as a failed tick)."""
    if isinstance(STARTED, StartFailure):
        return _failure(STARTED)
    if request.method in ("GET", "HEAD"):
        return flask.make_response(flask.jsonify({"function": "run", "ready": True}), 200)
    status, body = run_tick(STARTED.app, request.get_data(cache=False))
    return flask.make_response(flask.jsonify(body), status)


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    """The HTTPS API (DESIGN.md's route table), under the deployment's authorization rule."""
    if isinstance(STARTED, StartFailure):
        return _failure(STARTED)
    return handle(STARTED.app, request, POLICY)
