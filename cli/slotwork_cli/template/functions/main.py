"""Cloud Functions entry points (functions-framework targets): ``run`` and ``api``.

``run`` is what Cloud Scheduler calls, one tick per request; ``api`` is the
HTTPS API. ``slotwork.functions`` does the work: importing it builds the App
from the environment once per instance and makes this directory the import
root, so ``SLOTWORK_PROCESSES`` (``processes`` by default) is a module here.
"""

import flask
import functions_framework

from slotwork import functions


@functions_framework.http
def run(request: flask.Request) -> flask.Response:
    """One tick of the process named in the body ``{"process": NAME, "shard": K}``."""
    return functions.run(request)


@functions_framework.http
def api(request: flask.Request) -> flask.Response:
    """The HTTPS API."""
    return functions.api(request)
