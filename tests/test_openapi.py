"""GET /openapi.json and the route table agree: the same operations, and every
operation answers with a status and a body the document declares."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
import schemathesis
from flask.testing import FlaskClient
from google.cloud import firestore

import slotwork
from slotwork.api import openapi, routes
from slotwork.api.local import flask_app

from helpers import HOUR, FakeClock, RecordingTrigger, RecordingWorker, counter_ids

# DESIGN.md's route table, written out: the document must hold exactly these.
DESIGN_ROUTES = {
    ("GET", "/processes"),
    ("GET", "/processes/{process}"),
    ("PATCH", "/processes/{process}"),
    ("POST", "/processes/{process}:pause"),
    ("POST", "/processes/{process}:resume"),
    ("POST", "/processes/{process}:run"),
    ("GET", "/processes/{process}/work"),
    ("PUT", "/processes/{process}/work/{item}"),
    ("POST", "/processes/{process}/work:batchRegister"),
    ("GET", "/processes/{process}/work/{item}"),
    ("DELETE", "/processes/{process}/work/{item}"),
    ("GET", "/processes/{process}/runs"),
    ("GET", "/openapi.json"),
}


@pytest.fixture
def app(client: firestore.Client) -> slotwork.App:
    processes = [slotwork.Process("keys", RecordingWorker(), frequency=HOUR)]
    return slotwork.App(
        processes,
        client=client,
        clock=FakeClock(),
        min_frequency=60,
        ids=counter_ids(),
        trigger=RecordingTrigger(),
    )


@pytest.fixture
def http(app: slotwork.App) -> FlaskClient:
    return flask_app(app).test_client()


def operations(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_document_holds_exactly_the_design_routes_and_the_router_table() -> None:
    document = openapi.document(["keys"])
    assert operations(document) == DESIGN_ROUTES
    assert {(r.method, r.template) for r in routes.ROUTES} == DESIGN_ROUTES


def test_document_is_valid_openapi_3() -> None:
    # schemathesis validates the document against the OpenAPI 3.0 meta-schema on load.
    schema = schemathesis.from_dict(openapi.document(["keys"]), validate_schema=True)
    assert len(list(schema.get_all_operations())) == len(DESIGN_ROUTES)


def test_served_document_is_the_built_one_naming_the_processes(
    http: FlaskClient, app: slotwork.App
) -> None:
    served = http.get("/openapi.json").get_json()
    assert served == openapi.document(app.processes)
    process = served["paths"]["/processes/{process}"]["get"]["parameters"][0]
    assert process["schema"]["enum"] == ["keys"]


def check(document: dict[str, Any], method: str, path: str, response: Any) -> int:
    """Assert ``response`` has a documented status and a body matching its schema."""
    declared = document["paths"][path][method.lower()]["responses"]
    status = response.status_code
    assert str(status) in declared, f"{method} {path} answered undocumented {status}"
    schema = declared[str(status)]["content"]["application/json"]["schema"]
    jsonschema.validate(response.get_json(), {**schema, "components": document["components"]})
    return int(status)


def test_every_operation_answers_documented_statuses_and_bodies(
    http: FlaskClient, app: slotwork.App
) -> None:
    document = openapi.document(app.processes)
    item = "/processes/keys/work/a%20b"
    calls: list[tuple[str, str, str, dict[str, Any] | None, int]] = [
        (
            "PUT",
            "/processes/{process}/work/{item}",
            item,
            {"params": {"intParams": {"n": 1}, "stringParams": {"s": "x"}}},
            201,
        ),
        ("PUT", "/processes/{process}/work/{item}", item, {"params": {"intParams": {"n": 2}}}, 200),
        (
            "POST",
            "/processes/{process}/work:batchRegister",
            "/processes/keys/work:batchRegister",
            {"items": [{"name": "b"}, {"name": "c"}]},
            200,
        ),
        ("GET", "/processes/{process}/work/{item}", item, None, 200),
        ("GET", "/processes/{process}/work", "/processes/keys/work?pageSize=1", None, 200),
        ("GET", "/processes", "/processes", None, 200),
        (
            "PATCH",
            "/processes/{process}",
            "/processes/keys",
            {
                "scheduleFrequency": "7200s",
                "catchUp": {"policy": "RUN_LATE", "runLateWithin": "600s"},
            },
            200,
        ),
        ("POST", "/processes/{process}:pause", "/processes/keys:pause", {"reason": "r"}, 200),
        ("POST", "/processes/{process}:resume", "/processes/keys:resume", None, 200),
        ("POST", "/processes/{process}:run", "/processes/keys:run", {}, 202),
        ("GET", "/processes/{process}", "/processes/keys", None, 200),
        ("GET", "/processes/{process}/runs", "/processes/keys/runs", None, 200),
        ("DELETE", "/processes/{process}/work/{item}", item, None, 202),
        ("GET", "/openapi.json", "/openapi.json", None, 200),
        # and the documented errors
        ("GET", "/processes/{process}/work/{item}", "/processes/keys/work/zz", None, 404),
        ("PUT", "/processes/{process}/work/{item}", item, {"x": 1}, 400),
    ]
    covered: set[tuple[str, str]] = set()
    for method, template, url, body, expected in calls:
        if template == "/processes/{process}/runs":
            app.tick("keys")  # a run record to list
        response = http.open(url, method=method, json=body)
        assert check(document, method, template, response) == expected, response.get_json()
        covered.add((method, template))
    assert covered == DESIGN_ROUTES
