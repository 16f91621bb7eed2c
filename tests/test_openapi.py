"""GET /openapi.json and the route table agree: the same operations, and every
operation answers with a status and a body the document declares; and the
document is one that client generators take whole."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
import schemathesis
from flask.testing import FlaskClient
from google.cloud import firestore

import slotwork
from slotwork.api import openapi, routes
from slotwork.api.codec import snake_case
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
# Beyond the design's table: the root answers where the document is.
# Beyond DESIGN.md's table: the index, and the bulk and release routes of issue 14.
EXTRA_ROUTES = {
    ("GET", "/"),
    ("POST", "/processes/{process}/work:batchUnregister"),
    ("POST", "/processes/{process}/work:batchRelease"),
    ("POST", "/processes/{process}/work/{item}:release"),
}
ALL_ROUTES = DESIGN_ROUTES | EXTRA_ROUTES


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
    assert operations(document) == ALL_ROUTES
    assert {(r.method, r.template) for r in routes.ROUTES} == ALL_ROUTES


def test_document_is_valid_openapi_3() -> None:
    # schemathesis validates the document against the OpenAPI 3.0 meta-schema on load.
    schema = schemathesis.from_dict(openapi.document(["keys"]), validate_schema=True)
    assert len(list(schema.get_all_operations())) == len(ALL_ROUTES)


def test_exactly_the_routes_that_are_not_get_write() -> None:
    assert {r.operation_id for r in routes.ROUTES if r.writes} == {
        r.operation_id for r in routes.ROUTES if r.method not in ("GET", "HEAD")
    }


def test_every_operation_documents_401_and_every_write_403() -> None:
    document = openapi.document(["keys"])
    for route in routes.ROUTES:
        responses = document["paths"][route.template][route.method.lower()]["responses"]
        assert "401" in responses, route.operation_id
        assert ("403" in responses) == route.writes, route.operation_id


def properties_of(schema: Any) -> list[str]:
    """Every property name declared anywhere in ``schema``."""
    found: list[str] = []
    if isinstance(schema, dict):
        found += list(schema.get("properties", {})) if isinstance(schema.get("type"), str) else []
        for value in schema.values():
            found += properties_of(value)
    elif isinstance(schema, list):
        for value in schema:
            found += properties_of(value)
    return found


def test_every_field_is_declared_once_in_lower_camel_case() -> None:
    components = openapi.document(["keys"])["components"]["schemas"]
    names = properties_of(components)
    assert "scheduleFrequency" in names and "intParams" in names
    assert [n for n in names if "_" in n] == []
    assert all(snake_case(n) not in names for n in names if snake_case(n) != n)
    assert "snake_case" in components["UpdateProcessRequest"]["description"]


def test_int64_bounds_are_written_exactly_or_not_at_all() -> None:
    text = json.dumps(openapi.document(["keys"]))
    assert "e+18" not in text and "9.22" not in text


def test_the_document_names_its_server_relative_to_where_it_is_served(http: FlaskClient) -> None:
    served = http.get("/openapi.json").get_json()
    assert served["servers"] == [{"url": "/", "description": "this deployment"}]
    mounted = http.get("/openapi.json", environ_overrides={"SCRIPT_NAME": "/api"}).get_json()
    assert mounted["servers"][0]["url"] == "/api"


def test_served_document_is_the_built_one_naming_the_processes(
    http: FlaskClient, app: slotwork.App
) -> None:
    served = http.get("/openapi.json").get_json()
    assert served == openapi.document(app.processes)
    process = served["paths"]["/processes/{process}"]["get"]["parameters"][0]
    assert process["schema"] == {"$ref": "#/components/schemas/ProcessName"}
    assert served["components"]["schemas"]["ProcessName"]["enum"] == ["keys"]


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
        (
            "POST",
            "/processes/{process}/work:batchUnregister",
            "/processes/keys/work:batchUnregister",
            {"names": ["b", "nobody"]},
            200,
        ),
        (
            "POST",
            "/processes/{process}/work:batchRelease",
            "/processes/keys/work:batchRelease",
            {"names": ["c"]},
            200,
        ),
        ("POST", "/processes/{process}/work/{item}:release", item + ":release", None, 200),
        (
            "PATCH",
            "/processes/{process}",
            "/processes/keys",
            {"rateLimit": {"count": 5, "per": "2s"}, "errorBudget": {"perItem": 3, "perRun": 0.2}},
            200,
        ),
        ("GET", "/openapi.json", "/openapi.json", None, 200),
        ("GET", "/", "/", None, 200),
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
    assert covered == ALL_ROUTES
