"""Cloud Functions entry points (functions-framework targets): ``run`` and ``api``.

``run`` is what Cloud Scheduler calls, one tick per request; ``api`` is the
HTTPS API. Both build the same App from the environment, once per instance.
"""

from __future__ import annotations

import functools
import os
import sys

import flask
import functions_framework

# The deployed source directory is the import root: make it so locally too.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from slotwork import App, logs
from slotwork.api.framework import install
from slotwork.deployment import build_app, run_tick

logs.configure()
# Answer what functions-framework's own routing rejects (a %0A in the path,
# a // redirect) with JSON errors too.
install(flask.current_app)


@functools.cache
def app() -> App:
    """This instance's App, built on first use from the environment."""
    return build_app(os.environ)


@functions_framework.http
def run(request: flask.Request) -> flask.Response:
    """One tick of the process named in the body ``{"process": NAME}``."""
    status, body = run_tick(app(), request.get_data(cache=False))
    return flask.make_response(flask.jsonify(body), status)


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    """The HTTPS API (DESIGN.md's route table)."""
    from slotwork.api import handle

    return handle(app(), request)
