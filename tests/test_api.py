"""The HTTPS API route by route, through Flask's test client, on the real emulator."""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import flask
import pytest
from flask.testing import FlaskClient
from google.cloud import firestore

import slotwork
from slotwork import logs
from slotwork.api.local import flask_app
from slotwork.errors import StoreUnavailable

from helpers import HOUR, FakeClock, RecordingTrigger, RecordingWorker, counter_ids


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def trigger() -> RecordingTrigger:
    return RecordingTrigger()


@pytest.fixture
def app(client: firestore.Client, clock: FakeClock, trigger: RecordingTrigger) -> slotwork.App:
    processes = [
        slotwork.Process(
            "keys", RecordingWorker(), frequency=HOUR, settings={"int_params": {"max_age_days": 90}}
        ),
        slotwork.Process("other", RecordingWorker(), frequency=HOUR),
    ]
    return slotwork.App(
        processes,
        client=client,
        clock=clock,
        min_frequency=60,
        ids=counter_ids(),
        trigger=trigger,
    )


@pytest.fixture
def http(app: slotwork.App) -> FlaskClient:
    return flask_app(app).test_client()


def error_of(response: flask.Response | object, status: int) -> dict[str, object]:
    """The error body, after checking the documented shape."""
    assert isinstance(response, flask.Response)
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["code"] == status
    assert isinstance(error["status"], str) and error["status"]
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def item_url(name: str, process: str = "keys") -> str:
    return f"/processes/{process}/work/{quote(name, safe='')}"


# -- PUT / GET / DELETE one item ---------------------------------------------------------------
def test_put_answers_201_when_new_then_200_when_unchanged_or_changed(
    http: FlaskClient, app: slotwork.App
) -> None:
    first = http.put(item_url("acct-1"), json={"params": {"intParams": {"max_age": 7}}})
    assert first.status_code == 201
    body = first.get_json()
    assert body["id"] == "acct-1" and body["state"] == "queued"
    assert body["uri"].endswith("/processes/keys/work/acct-1")
    # proto3 JSON: lowerCamelCase names, int64 as a string.
    assert body["details"]["params"]["intParams"] == {"max_age": "7"}
    again = http.put(item_url("acct-1"), json={"params": {"int_params": {"max_age": "7"}}})
    assert again.status_code == 200
    changed = http.put(item_url("acct-1"), json={"params": {"string_params": {"k": "v"}}})
    assert changed.status_code == 200
    stored = app.get_work("keys", "acct-1").details.params
    assert dict(stored.string_params) == {"k": "v"} and not stored.int_params


def test_put_without_a_body_registers_with_empty_params(http: FlaskClient) -> None:
    response = http.put(item_url("bare"))
    assert response.status_code == 201
    # Empty params are an unset message: proto3 JSON leaves the field out.
    assert response.get_json()["details"].get("params", {}) in (
        {},
        {"intParams": {}, "stringParams": {}},
    )
    assert response.get_json()["state"] == "queued"


def test_get_work_returns_the_work_response(http: FlaskClient) -> None:
    http.put(item_url("a"), json={"params": {"stringParams": {"zone": "eu"}}})
    response = http.get(item_url("a"))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"id", "state", "details", "uri"}
    assert body["details"]["list"] == "ACTIVE"
    assert body["details"]["params"]["stringParams"] == {"zone": "eu"}


def test_unknown_item_and_unknown_process_are_404(http: FlaskClient) -> None:
    assert error_of(http.get(item_url("nope")), 404)["status"] == "NOT_FOUND"
    assert error_of(http.get("/processes/nope"), 404)["status"] == "NOT_FOUND"
    error_of(http.put(item_url("a", process="nope")), 404)
    error_of(http.delete(item_url("nope")), 404)
    error_of(http.get("/processes/nope/work"), 404)
    error_of(http.get("/processes/nope/runs"), 404)


def test_delete_answers_202_moves_to_cleanup_and_is_idempotent(
    http: FlaskClient, app: slotwork.App
) -> None:
    http.put(item_url("gone"))
    first = http.delete(item_url("gone"))
    assert first.status_code == 202
    assert first.get_json()["state"] == "cleanup"
    again = http.delete(item_url("gone"))
    assert again.status_code == 202 and again.get_json()["state"] == "cleanup"
    assert app.get_work("keys", "gone").state == "cleanup"


@pytest.mark.parametrize(
    "name", ["with space", "ünïcødé ✓", "100%", "%2F-literal", "a:b", "a+b", "x" * 1500, "é" * 750]
)
def test_item_names_round_trip_through_url_encoding(http: FlaskClient, name: str) -> None:
    assert http.put(item_url(name)).status_code == 201
    response = http.get(item_url(name))
    assert response.status_code == 200
    assert response.get_json()["id"] == name


@pytest.mark.parametrize(
    ("encoded", "words"),
    [
        ("a%2Fb", "'/'"),
        ("%2E", "'.'"),
        ("%2E%2E", "'.'"),
        ("__reserved__", "reserved"),
        ("tab%09here", "control"),
        ("del%7F", "control"),
        ("x" * 1501, "1500 bytes"),
        ("%FF%FE", "UTF-8"),
    ],
)
def test_invalid_item_names_are_400_and_write_nothing(
    http: FlaskClient, client: firestore.Client, encoded: str, words: str
) -> None:
    error = error_of(http.put(f"/processes/keys/work/{encoded}"), 400)
    assert error["status"] == "INVALID_ARGUMENT"
    assert words in str(error["message"])
    assert list(client.collection("slotwork").stream()) == []


# -- listing work --------------------------------------------------------------------------
def test_list_work_pages_in_name_order(http: FlaskClient) -> None:
    names = [f"item-{n:02d}" for n in range(7)]
    http.post("/processes/keys/work:batchRegister", json={"items": [{"name": n} for n in names]})
    seen: list[str] = []
    token = ""
    pages = 0
    while True:
        response = http.get(
            "/processes/keys/work", query_string={"pageSize": 3, "pageToken": token}
        )
        assert response.status_code == 200
        body = response.get_json()
        seen += [w["id"] for w in body["items"]]
        pages += 1
        token = body["nextPageToken"]
        if not token:
            break
    assert seen == names and pages == 3


def test_list_work_filters_by_state(http: FlaskClient) -> None:
    for name in ("a", "b", "c"):
        http.put(item_url(name))
    http.delete(item_url("b"))
    queued = http.get("/processes/keys/work?state=queued").get_json()
    assert [w["id"] for w in queued["items"]] == ["a", "c"]
    cleanup = http.get("/processes/keys/work?state=cleanup").get_json()
    assert [w["id"] for w in cleanup["items"]] == ["b"]
    assert http.get("/processes/keys/work?page_size=1").get_json()["nextPageToken"] == "a"


@pytest.mark.parametrize(
    "query",
    [
        "pageSize=0",
        "pageSize=1001",
        "pageSize=abc",
        "pageSize=1.5",
        "state=purged",
        "state=x",
        "colour=red",
        "pageSize=1&pageSize=2",
        "pageSize=1&page_size=2",
    ],
)
def test_bad_list_queries_are_400(http: FlaskClient, query: str) -> None:
    error_of(http.get(f"/processes/keys/work?{query}"), 400)


# -- batchRegister ---------------------------------------------------------------------------
def test_batch_register_reports_per_item_results_in_order(http: FlaskClient) -> None:
    http.put(item_url("old"), json={"params": {"intParams": {"n": 1}}})
    http.put(item_url("same"))
    response = http.post(
        "/processes/keys/work:batchRegister",
        json={
            "items": [
                {"name": "new", "params": {"stringParams": {"s": "x"}}},
                {"name": "old", "params": {"intParams": {"n": 2}}},
                {"name": "same"},
            ]
        },
    )
    assert response.status_code == 200
    assert response.get_json()["results"] == [
        {"name": "new", "created": True, "changed": True},
        {"name": "old", "created": False, "changed": True},
        {"name": "same", "created": False, "changed": False},
    ]


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"name": "ok"}, {"name": "ok"}], "items[1].name"),
        ([{"name": "ok"}, {"name": "a/b"}], "items[1].name"),
        ([{"name": "ok"}, {}], "items[1]"),
        ([{"name": "ok"}, {"name": "x", "colour": 1}], "items[1]"),
        ([{"name": "ok", "params": {"intParams": {"n": "seven"}}}], "items[0].params"),
        ([{"name": "ok", "params": {"stringParams": {"s": "x" * 17000}}}], "items[0].params"),
        ([{"name": f"i{n}"} for n in range(501)], "items"),
        ("not a list", "items"),
    ],
)
def test_a_bad_batch_is_refused_whole_naming_the_field(
    http: FlaskClient, client: firestore.Client, items: object, field: str
) -> None:
    error = error_of(http.post("/processes/keys/work:batchRegister", json={"items": items}), 400)
    violations = error["details"][0]["fieldViolations"]  # type: ignore[index]
    assert violations[0]["field"] == field
    assert list(client.collection("slotwork").stream()) == []


def test_batch_of_500_is_accepted(http: FlaskClient, app: slotwork.App) -> None:
    items = [{"name": f"i{n:03d}", "params": {"intParams": {"n": n}}} for n in range(500)]
    response = http.post("/processes/keys/work:batchRegister", json={"items": items})
    assert response.status_code == 200
    assert sum(r["created"] for r in response.get_json()["results"]) == 500
    assert len(app.list_work("keys", page_size=1000).items) == 500


# -- processes -------------------------------------------------------------------------------
def test_get_process_shows_settings_frequency_pause_and_catch_up(http: FlaskClient) -> None:
    body = http.get("/processes/keys").get_json()
    assert body["processName"] == "keys"
    assert body["scheduleFrequency"] == "3600s"
    assert body["settings"]["intParams"] == {"max_age_days": "90"}
    assert body["paused"] is False and body["pauseReason"] == ""
    assert body["catchUp"]["policy"] == "SKIP"
    assert body["aggregateStats"] == {}


def test_get_process_shows_the_current_run_after_a_tick(
    http: FlaskClient, app: slotwork.App
) -> None:
    http.put(item_url("a"))
    assert app.tick("keys").outcome == "claimed"
    body = http.get("/processes/keys").get_json()
    assert body["run"]["status"]["state"] == "completed"
    assert body["run"]["itemsLeft"] == "0"
    assert body["run"]["status"]["stats"]["workItems"] == 1
    assert body["aggregateStats"]["runs"] == 1
    assert "epoch" in body["lease"]


def test_list_processes_lists_every_defined_process(http: FlaskClient) -> None:
    body = http.get("/processes").get_json()
    assert [p["processName"] for p in body["processes"]] == ["keys", "other"]


def test_patch_changes_frequency_settings_and_catch_up(http: FlaskClient) -> None:
    response = http.patch(
        "/processes/keys",
        json={
            "scheduleFrequency": "7200s",
            "settings": {"string_params": {"mode": "dry"}},
            "catch_up": {"policy": "RUN_LATE", "runLateWithin": "1800s"},
            "pauseAfterAborts": 3,
        },
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["scheduleFrequency"] == "7200s"
    assert body["settings"]["stringParams"] == {"mode": "dry"}
    assert body["catchUp"] == {"policy": "RUN_LATE", "runLateWithin": "1800s"}
    assert body["pauseAfterAborts"] == 3
    assert http.get("/processes/keys").get_json()["scheduleFrequency"] == "7200s"


def test_patch_raises_a_frequency_below_the_minimum(http: FlaskClient) -> None:
    assert (
        http.patch("/processes/keys", json={"scheduleFrequency": "1s"}).get_json()[
            "scheduleFrequency"
        ]
        == "60s"
    )


@pytest.mark.parametrize(
    "body",
    [
        {"scheduleFrequency": 3600},
        {"scheduleFrequency": "1h"},
        {"scheduleFrequency": "0s"},
        {"scheduleFrequency": "-5s"},
        {"scheduleFrequency": "99999999999s"},
        {"scheduleFrequency": "60s", "schedule_frequency": "60s"},
        {"catchUp": {"policy": "LATER"}},
        {"catchUp": {"policy": ["SKIP"]}},
        {"catchUp": {}},
        {"catchUp": {"policy": "RUN_LATE"}},
        {"pauseAfterAborts": 1001},
        {"pauseAfterAborts": True},
        {"settings": {"floatParams": {}}},
        {"paused": True},
    ],
)
def test_bad_patches_are_400_and_change_nothing(
    http: FlaskClient, client: firestore.Client, body: dict[str, object]
) -> None:
    error_of(http.patch("/processes/keys", json=body), 400)
    assert list(client.collection("slotwork").stream()) == []


def test_pause_and_resume_answer_the_process(http: FlaskClient) -> None:
    paused = http.post("/processes/keys:pause", json={"reason": "key audit"})
    assert paused.status_code == 200
    assert paused.get_json()["paused"] is True
    assert paused.get_json()["pauseReason"] == "key audit"
    resumed = http.post("/processes/keys:resume")
    assert resumed.status_code == 200
    assert resumed.get_json()["paused"] is False


def test_run_asks_the_trigger_and_answers_202(http: FlaskClient, trigger: RecordingTrigger) -> None:
    response = http.post("/processes/keys:run")
    assert response.status_code == 202
    assert response.get_json() == {"process": "keys", "requested": True}
    assert trigger.requested == ["keys"]


def test_runs_are_listed_newest_first_a_page_at_a_time(
    http: FlaskClient, app: slotwork.App, clock: FakeClock
) -> None:
    http.put(item_url("a"))
    for _ in range(3):
        assert app.tick("keys").outcome == "claimed"
        clock.advance(HOUR)
    first = http.get("/processes/keys/runs?pageSize=2").get_json()
    slots = [r["run"]["slot"] for r in first["runs"]]
    assert len(slots) == 2 and slots == sorted(slots, reverse=True)
    assert first["runs"][0]["run"]["status"]["state"] == "completed"
    rest = http.get(f"/processes/keys/runs?pageSize=2&pageToken={first['nextPageToken']}")
    assert len(rest.get_json()["runs"]) == 1 and rest.get_json()["nextPageToken"] == ""
    error_of(http.get("/processes/keys/runs?pageToken=garbage"), 400)


# -- HTTP-level errors ---------------------------------------------------------------------------
def test_wrong_method_on_a_known_path_is_405_with_allow(http: FlaskClient) -> None:
    response = http.post("/processes/keys/work/a")
    error_of(response, 405)
    assert response.headers["Allow"] == "DELETE, GET, PUT"
    assert http.delete("/processes").headers["Allow"] == "GET"


@pytest.mark.parametrize(
    "path", ["/nothing", "/processes/", "/processes/keys/work/a/b", "/processes/keys:stop"]
)
def test_unknown_paths_are_a_json_404(http: FlaskClient, path: str) -> None:
    error_of(http.get(path), 404)


def test_the_root_points_to_the_openapi_document(http: FlaskClient) -> None:
    response = http.get("/")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body["openapi"] == "/openapi.json" and body["processes"] == "/processes"
    assert http.get(body["openapi"]).get_json()["openapi"].startswith("3.")


def test_head_is_answered_like_get_without_a_body(http: FlaskClient) -> None:
    response = http.head("/processes/keys")
    assert response.status_code == 200 and response.get_data() == b""


@pytest.mark.parametrize(
    ("data", "content_type", "status"),
    [
        (b'{"params": {}}', "text/plain", 415),
        (b"params=1", "application/x-www-form-urlencoded", 415),
        (b'{"params": {}}', "application/json; charset=latin-1", 415),
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 400),
        (b'{"params": {}, "params": {}}', "application/json", 400),
        (b'{"params": {"intParams": {"n": NaN}}}', "application/json", 400),
        (b'{"params": {"stringParams": {"s": "\\ud800"}}}', "application/json", 400),
        (b"\xff\xfe", "application/json", 400),
        (b"[" * 100_000, "application/json", 400),
        (b'{"colour": "red"}', "application/json", 400),
        (b'{"params": {"intParams": {"n": 9223372036854775808}}}', "application/json", 400),
        (b'{"params": {"intParams": {"n": true}}}', "application/json", 400),
        (b'{"params": "x"}', "application/json", 400),
    ],
)
def test_bad_bodies_get_the_documented_status_and_write_nothing(
    http: FlaskClient, client: firestore.Client, data: bytes, content_type: str, status: int
) -> None:
    error_of(http.put(item_url("a"), data=data, content_type=content_type), status)
    assert list(client.collection("slotwork").stream()) == []


def test_bodies_over_the_limit_are_413(http: FlaskClient, client: firestore.Client) -> None:
    big = {"params": {"stringParams": {f"k{n}": "x" * 1000 for n in range(300)}}}
    error_of(http.put(item_url("a"), json=big), 413)
    batch = {
        "items": [
            {"name": f"i{n}", "params": {"stringParams": {"s": "x" * 3000}}} for n in range(400)
        ]
    }
    error_of(http.post("/processes/keys/work:batchRegister", json=batch), 413)
    assert list(client.collection("slotwork").stream()) == []


def test_store_unavailable_is_503(http: FlaskClient, trigger: RecordingTrigger) -> None:
    trigger.error = StoreUnavailable("Cloud Scheduler RunJob failed: deadline exceeded")
    assert error_of(http.post("/processes/keys:run"), 503)["status"] == "UNAVAILABLE"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    previous = logs.LOGGER.level
    logs.LOGGER.addHandler(handler)
    logs.LOGGER.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        logs.LOGGER.removeHandler(handler)
        logs.LOGGER.setLevel(previous)


def parsed(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_an_unexpected_error_is_a_generic_500_logged_with_its_traceback(
    http: FlaskClient, trigger: RecordingTrigger, log_lines: io.StringIO
) -> None:
    trigger.error = RuntimeError("secret detail from a library")
    response = http.post("/processes/keys:run")
    error = error_of(response, 500)
    assert error["status"] == "INTERNAL"
    assert "secret" not in response.get_data(as_text=True)
    entries = parsed(log_lines)
    failure = next(e for e in entries if e["message"] == "unhandled error in api request")
    assert "secret detail from a library" in str(failure["traceback"])
    assert str(failure["reference"]) in str(error["message"])


def checked_token(claims: dict[str, object]) -> str:
    """An ID token as Cloud Run passes on one it verified: its signature replaced."""
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{payload}.SIGNATURE_REMOVED_BY_GOOGLE"


def test_each_request_logs_one_structured_line(http: FlaskClient, log_lines: io.StringIO) -> None:
    token = checked_token({"email": "Ann@Example.com", "email_verified": True})
    http.put(item_url("a b"), headers={"Authorization": f"Bearer {token}"})
    [entry] = parsed(log_lines)
    assert entry["severity"] == "INFO"
    assert entry["method"] == "PUT" and entry["status"] == 201
    assert entry["process"] == "keys" and entry["item"] == "a b"
    assert entry["caller"] == "ann@example.com" and entry["caller_via"] == "token"
    assert isinstance(entry["latency_ms"], float)
    assert entry["httpRequest"]["status"] == 201  # type: ignore[index]


def test_the_caller_is_logged_from_the_id_token_cloud_run_passed_on(
    http: FlaskClient, log_lines: io.StringIO
) -> None:
    token = checked_token({"email": "ci@p.iam.gserviceaccount.com"})
    http.get("/processes", headers={"Authorization": f"Bearer {token}"})
    http.get("/processes", headers={"Authorization": "Bearer not-a-jwt"})
    first, second = parsed(log_lines)
    assert first["caller"] == "ci@p.iam.gserviceaccount.com"
    assert "caller" not in second


@pytest.mark.parametrize(
    "headers",
    [
        # Anyone can set these: none is logged as the caller by default.
        {"X-Goog-Authenticated-User-Email": "accounts.google.com:ceo@example.com"},
        {"Authorization": "Bearer " + checked_token({"email": "ceo@example.com"})[:-27] + "abc"},
        {"Authorization": "Bearer " + checked_token({"email": "a@b.c", "email_verified": False})},
    ],
    ids=["iap-header-untrusted", "token-with-a-signature", "email-not-verified"],
)
def test_a_caller_the_platform_did_not_verify_is_never_logged(
    http: FlaskClient, log_lines: io.StringIO, headers: dict[str, str]
) -> None:
    assert http.get("/processes", headers=headers).status_code == 200
    [entry] = parsed(log_lines)
    assert "caller" not in entry


def test_frequency_limit_is_a_year(http: FlaskClient) -> None:
    ok = http.patch("/processes/keys", json={"scheduleFrequency": f"{366 * 86400}s"})
    assert ok.status_code == 200
    error_of(http.patch("/processes/keys", json={"scheduleFrequency": f"{367 * 86400}s"}), 400)
    assert timedelta(days=366).total_seconds() == 366 * 86400


# -- :run without a scheduler -----------------------------------------------------------------
def test_run_without_a_scheduler_is_a_failed_precondition(
    client: firestore.Client, clock: FakeClock
) -> None:
    app = slotwork.App(
        [slotwork.Process("keys", RecordingWorker(), frequency=HOUR)],
        client=client,
        clock=clock,
        min_frequency=60,
    )
    error = error_of(flask_app(app).test_client().post("/processes/keys:run"), 400)
    assert error["status"] == "FAILED_PRECONDITION"
    assert "no scheduler is configured" in str(error["message"])
    assert "SLOTWORK_SCHEDULER_PARENT" in str(error["message"])


# -- integers and names: one spelling each ----------------------------------------------------
@pytest.mark.parametrize("value", [" 12 ", "1_000", "\u0661\u0662", "+5", "12 ", "0x10", "1e3", ""])
def test_int_params_take_only_ascii_digits(
    http: FlaskClient, client: firestore.Client, value: str
) -> None:
    body = {"params": {"intParams": {"n": value}}}
    error = error_of(http.put(item_url("a"), json=body), 400)
    assert "ASCII digits" in str(error["message"])
    assert list(client.collection("slotwork").stream()) == []


@pytest.mark.parametrize(("value", "stored"), [("-12", -12), ("007", 7), (42, 42)])
def test_int_params_as_decimal_strings_or_json_integers_are_stored(
    http: FlaskClient, app: slotwork.App, value: object, stored: int
) -> None:
    assert http.put(item_url("a"), json={"params": {"intParams": {"n": value}}}).status_code == 201
    assert app.get_work("keys", "a").details.params.int_params["n"] == stored


def test_the_page_size_takes_only_ascii_digits(http: FlaskClient) -> None:
    error_of(http.get("/processes/keys/work?pageSize=%D9%A1"), 400)  # Arabic-Indic one
    assert http.get("/processes/keys/work?pageSize=1").status_code == 200


def test_names_that_differ_only_by_normalisation_are_one_item(
    http: FlaskClient, app: slotwork.App
) -> None:
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    first = http.put(item_url(decomposed), json={"params": {"intParams": {"n": 1}}})
    assert first.status_code == 201 and first.get_json()["id"] == composed
    again = http.put(item_url(composed), json={"params": {"intParams": {"n": 1}}})
    assert again.status_code == 200  # the same item, unchanged
    assert http.get(item_url(decomposed)).get_json()["id"] == composed
    assert [w.id for w in app.list_work("keys").items] == [composed]
    assert http.delete(item_url(decomposed)).get_json()["state"] == "cleanup"


@pytest.mark.parametrize(
    "char", ["\u200b", "\u200d", "\u200e", "\u202e", "\u2066", "\u2069", "\ufeff", "\u00ad"]
)
def test_names_with_invisible_or_bidi_characters_are_400_and_write_nothing(
    http: FlaskClient, client: firestore.Client, char: str
) -> None:
    error = error_of(http.put(item_url(f"acct{char}1")), 400)
    assert f"U+{ord(char):04X}" in str(error["message"])
    batch = {"items": [{"name": "fine"}, {"name": f"{char}acct"}]}
    error = error_of(http.post("/processes/keys/work:batchRegister", json=batch), 400)
    assert error["details"][0]["fieldViolations"][0]["field"] == "items[1].name"  # type: ignore[index]
    key = {"params": {"stringParams": {f"zone{char}": "eu"}}}
    assert "invisible" in str(error_of(http.put(item_url("a"), json=key), 400)["message"])
    assert list(client.collection("slotwork").stream()) == []


def test_a_batch_with_one_name_in_two_normal_forms_is_refused(
    http: FlaskClient, client: firestore.Client
) -> None:
    batch = {"items": [{"name": "caf\u00e9"}, {"name": "cafe\u0301"}]}
    error = error_of(http.post("/processes/keys/work:batchRegister", json=batch), 400)
    assert "appears twice" in str(error["message"])
    assert list(client.collection("slotwork").stream()) == []


def test_params_keys_are_normalised_and_one_key_in_two_forms_is_refused(
    http: FlaskClient, app: slotwork.App, client: firestore.Client
) -> None:
    both = {"params": {"intParams": {"caf\u00e9": 1, "cafe\u0301": 2}}}
    assert "twice" in str(error_of(http.put(item_url("a"), json=both), 400)["message"])
    assert list(client.collection("slotwork").stream()) == []
    one = {"params": {"intParams": {"cafe\u0301": 2}}}
    assert http.put(item_url("a"), json=one).status_code == 201
    assert dict(app.get_work("keys", "a").details.params.int_params) == {"caf\u00e9": 2}


# -- what the answers look like ----------------------------------------------------------------
def test_whole_number_stats_are_json_integers(http: FlaskClient, app: slotwork.App) -> None:
    http.post("/processes/keys/work:batchRegister", json={"items": [{"name": "a"}, {"name": "b"}]})
    assert app.tick("keys").outcome == "claimed"
    text = http.get("/processes/keys").get_data(as_text=True)
    assert '"workItems":2,' in text or '"workItems":2}' in text
    assert '"runs":1' in text and ".0," not in text and ".0}" not in text


@pytest.mark.parametrize("name", ["a#b", "a?b", "a%41", "a b", "a:run", "é ✓", "%2F-literal"])
def test_the_work_uri_leads_back_to_the_item(http: FlaskClient, name: str) -> None:
    body = http.put(item_url(name)).get_json()
    assert body["uri"] == item_url(name)
    again = http.get(body["uri"])
    assert again.status_code == 200 and again.get_json()["id"] == name
