"""The API as a plain Flask app, for tests and local tools that have an ``App``
at hand (the deployed function goes through functions-framework instead)."""

from __future__ import annotations

import flask

from slotwork.api import OPEN, Policy, handle
from slotwork.api.framework import install
from slotwork.app import App

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def flask_app(app: App, policy: Policy = OPEN) -> flask.Flask:
    """A Flask app answering every path with ``handle(app, request, policy)``."""
    server = flask.Flask("slotwork.api")
    install(server)

    def serve(path: str) -> flask.Response:
        return handle(app, flask.request, policy)

    server.add_url_rule("/", "root", serve, defaults={"path": ""}, methods=METHODS)
    server.add_url_rule("/<path:path>", "api", serve, methods=METHODS)
    return server
