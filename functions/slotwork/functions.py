"""The Cloud Functions entry points (functions-framework targets) ``run`` and ``api``.

A deployment's ``main.py`` hands its two targets to these::

    import flask

    from slotwork import functions


    def run(request: flask.Request) -> flask.Response:
        return functions.run(request)


    def api(request: flask.Request) -> flask.Response:
        return functions.api(request)

Importing this module is what an instance does once, as it starts: it puts
the function source directory first on ``sys.path`` (so ``SLOTWORK_PROCESSES``,
``processes`` by default, names a module of the deployment's own) and builds
the App from the environment. A configuration error is logged then, once,
naming the variable, and every request of either function answers it as JSON.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

import flask

from slotwork import logs
from slotwork.api import Policy, handle
from slotwork.api.framework import install
from slotwork.deployment import StartFailure, run_tick, start

# functions-framework loads the source file (main.py on Cloud Functions) as a
# module of that name.
SOURCE_MODULE = "main"
READY = {"function": "run", "ready": True}


def source_dir(env: Mapping[str, str]) -> Path:
    """The directory of the source file functions-framework serves.

    That is the loaded ``main`` module's folder; before functions-framework has
    loaded it, the folder of ``FUNCTION_SOURCE`` (``main.py`` in the working
    directory by default, as Cloud Functions runs it)."""
    loaded = getattr(sys.modules.get(SOURCE_MODULE), "__file__", None)
    source = loaded or env.get("FUNCTION_SOURCE") or "main.py"
    return Path(source).resolve().parent


def import_first(directory: Path) -> None:
    """Put ``directory`` at the front of ``sys.path``.

    functions-framework appends the source directory, after site-packages: a
    module of the deployment must win over an installed one of the same name,
    as it does on Cloud Functions, where the source directory is the import root."""
    entry = str(directory)
    if sys.path[:1] != [entry]:
        sys.path.insert(0, entry)


logs.configure()
import_first(source_dir(os.environ))
if flask.has_app_context():
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


def run(request: flask.Request) -> flask.Response:
    """One tick of the process named in the body ``{"process": NAME, "shard": K}``.

    A GET is no tick: it answers whether the function started (a probe, not logged
    as a failed tick)."""
    if isinstance(STARTED, StartFailure):
        return _failure(STARTED)
    if request.method in ("GET", "HEAD"):
        return flask.make_response(flask.jsonify(READY), 200)
    status, body = run_tick(STARTED.app, request.get_data(cache=False))
    return flask.make_response(flask.jsonify(body), status)


def api(request: flask.Request) -> flask.Response:
    """The HTTPS API (DESIGN.md's route table), under the deployment's authorization rule."""
    if isinstance(STARTED, StartFailure):
        return _failure(STARTED)
    return handle(STARTED.app, request, POLICY)
