"""Bad input everywhere slotwork takes it (the ``run`` body over HTTP, and the
App's operations): a clear 4xx, and nothing written. The API routes are tested
by the API's own suite.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from google.cloud import firestore
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slotwork
from slotwork.params import MAX_PARAMS_BYTES, MAX_STRING_PARAM_BYTES
from slotwork_local.emulator import Emulator

import reliability_processes
from conftest import new_client
from reliability_support import LONG, Server, launch, ready, snapshot_collection, stop

pytestmark = pytest.mark.reliability

BIG = "a" * (5 * 1024 * 1024)
BAD_BODIES: list[tuple[str, bytes, int]] = [
    ("empty", b"", 400),
    ("null", b"null", 400),
    ("number", b"1", 400),
    ("string", b'"work"', 400),
    ("array", b'["work"]', 400),
    ("process-null", b'{"process": null}', 400),
    ("process-empty", b'{"process": ""}', 400),
    ("process-list", b'{"process": ["work"]}', 400),
    ("process-object", b'{"process": {"name": "work"}}', 400),
    ("process-number", b'{"process": 1.5}', 400),
    ("process-bool", b'{"process": true}', 400),
    ("wrong-key", b'{"Process": "work"}', 400),
    ("extra-key", b'{"process": "work", "force": true}', 400),
    ("unknown-process", b'{"process": "nope"}', 404),
    ("slash", b'{"process": "work/../x"}', 404),
    ("lone-surrogate", b'{"process": "\\udcff"}', 404),
    ("nul", b'{"process": "work\\u0000"}', 404),
    ("not-utf8", b"\xff\xfe{", 400),
    ("truncated", b'{"process": "wo', 400),
    ("huge-name", json.dumps({"process": BIG}).encode(), 404),
    ("huge-padding", b'{"process": "work", "pad": "' + BIG.encode() + b'"}', 400),
]


@pytest.fixture(scope="module")
def server(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = launch("input", emulator.host, tmp_path_factory.mktemp("input"))
    try:
        yield ready(srv, warm=False)
    finally:
        stop(srv)


def assert_json_error(response: requests.Response, status: int) -> None:
    assert response.status_code == status, (response.status_code, response.text[:200])
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == status and error["message"] and error["status"]


@pytest.mark.parametrize(
    ("body", "status"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
def test_bad_run_bodies_get_a_json_4xx_and_write_nothing(
    server: Server, client: firestore.Client, body: bytes, status: int
) -> None:
    response = requests.post(
        server.url, data=body, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert_json_error(response, status)
    assert list(client.collections()) == [], "a bad request wrote something"


def test_a_run_request_without_json_content_type_or_body_is_a_4xx(
    server: Server, client: firestore.Client
) -> None:
    for response in (
        requests.post(server.url, data=b"process=work", timeout=30),
        requests.put(server.url, data=b"", timeout=30),
    ):
        assert 400 <= response.status_code < 500, response.status_code
        assert "error" in response.json()
    assert list(client.collections()) == []


def test_a_get_is_a_readiness_probe_not_a_tick(server: Server, client: firestore.Client) -> None:
    # Platforms and the local stack probe with GET: it answers JSON, ticks nothing.
    response = requests.get(server.url, timeout=30)
    assert response.status_code == 200
    assert response.json() == {"function": "run", "ready": True}
    assert list(client.collections()) == []


def test_deeply_nested_run_body_is_a_json_400(server: Server, client: firestore.Client) -> None:
    response = requests.post(
        server.url, data=b"[" * 100_000, headers={"Content-Type": "application/json"}, timeout=60
    )
    assert_json_error(response, 400)


def test_the_error_for_a_huge_process_name_is_bounded(server: Server) -> None:
    response = requests.post(server.url, json={"process": BIG}, timeout=60)
    assert response.status_code == 404
    assert len(response.content) < 4096, len(response.content)
    assert max(len(line) for line in server.raw_log().splitlines()) < 16_384


# -- App-level bad input -------------------------------------------------------------


def app_of(client: firestore.Client) -> slotwork.App:
    return slotwork.App(reliability_processes.PROCESSES, client=client, min_frequency=60)


Call = Callable[[slotwork.App], Any]
BAD_CALLS: list[tuple[str, Call, int]] = [
    ("register-unknown-process", lambda a: a.register("nope", "x"), 404),
    ("register-empty-name", lambda a: a.register("work", ""), 400),
    ("register-slash", lambda a: a.register("work", "a/b"), 400),
    ("register-dot", lambda a: a.register("work", "."), 400),
    ("register-dotdot", lambda a: a.register("work", ".."), 400),
    ("register-reserved", lambda a: a.register("work", "__x__"), 400),
    ("register-control", lambda a: a.register("work", "a\nb"), 400),
    ("register-zero-width", lambda a: a.register("work", "a\u200bb"), 400),
    ("register-bidi-override", lambda a: a.register("work", "a\u202eb"), 400),
    ("register-bom", lambda a: a.register("work", "\ufeffa"), 400),
    (
        "batch-same-name-two-forms",
        lambda a: a.register_many("work", [("\u00e9", None), ("e\u0301", None)]),
        400,
    ),
    ("register-long-name", lambda a: a.register("work", "n" * 1501), 400),
    ("register-name-not-str", lambda a: a.register("work", 7), 400),  # type: ignore[arg-type]
    ("params-not-object", lambda a: a.register("work", "x", "params"), 400),  # type: ignore[arg-type]
    ("params-unknown-field", lambda a: a.register("work", "x", {"params": {}}), 400),
    (
        "params-both-cases",
        lambda a: a.register("work", "x", {"int_params": {}, "intParams": {}}),
        400,
    ),
    ("int-param-float", lambda a: a.register("work", "x", {"int_params": {"a": 1.5}}), 400),
    ("int-param-bool", lambda a: a.register("work", "x", {"int_params": {"a": True}}), 400),
    ("int-param-overflow", lambda a: a.register("work", "x", {"int_params": {"a": 2**63}}), 400),
    ("int-param-text", lambda a: a.register("work", "x", {"int_params": {"a": "ten"}}), 400),
    ("int-param-spaces", lambda a: a.register("work", "x", {"int_params": {"a": " 12 "}}), 400),
    (
        "int-param-underscore",
        lambda a: a.register("work", "x", {"int_params": {"a": "1_000"}}),
        400,
    ),
    (
        "int-param-arabic-indic",
        lambda a: a.register("work", "x", {"int_params": {"a": "\u0661"}}),
        400,
    ),
    ("param-key-bidi", lambda a: a.register("work", "x", {"string_params": {"k\u2066": "v"}}), 400),
    ("string-param-int", lambda a: a.register("work", "x", {"string_params": {"a": 1}}), 400),
    ("param-key-empty", lambda a: a.register("work", "x", {"string_params": {"": "v"}}), 400),
    ("param-key-long", lambda a: a.register("work", "x", {"string_params": {"k" * 300: "v"}}), 400),
    (
        "string-param-oversized",
        lambda a: a.register(
            "work", "x", {"string_params": {"a": "v" * (MAX_STRING_PARAM_BYTES + 1)}}
        ),
        400,
    ),
    (
        "params-oversized",
        lambda a: a.register(
            "work",
            "x",
            {"string_params": {f"k{i}": "v" * 16000 for i in range(MAX_PARAMS_BYTES // 16000 + 1)}},
        ),
        400,
    ),
    (
        "params-too-many",
        lambda a: a.register("work", "x", {"int_params": {f"k{i}": i for i in range(300)}}),
        400,
    ),
    ("batch-duplicate", lambda a: a.register_many("work", [("x", None), ("x", None)]), 400),
    ("batch-one-bad", lambda a: a.register_many("work", [("ok", None), ("a/b", None)]), 400),
    ("unregister-unknown-item", lambda a: a.unregister("work", "never-registered"), 404),
    ("unregister-bad-name", lambda a: a.unregister("work", ".."), 400),
    ("get-work-unknown", lambda a: a.get_work("work", "never-registered"), 404),
    ("settings-zero-frequency", lambda a: a.update_settings("work", frequency=timedelta(0)), 400),
    (
        "settings-negative",
        lambda a: a.update_settings("work", frequency=timedelta(seconds=-5)),
        400,
    ),
    ("settings-bad-params", lambda a: a.update_settings("work", settings={"x": 1}), 400),
    ("settings-bad-catch-up", lambda a: a.update_settings("work", catch_up="maybe"), 400),
    ("settings-run-late-no-window", lambda a: a.update_settings("work", catch_up="run_late"), 400),
    ("settings-pause-after", lambda a: a.update_settings("work", pause_after_aborts=-1), 400),
    ("pause-unknown", lambda a: a.pause("nope"), 404),
    ("tick-unknown", lambda a: a.tick("nope"), 404),
    ("list-work-bad-state", lambda a: a.list_work("work", state="sideways"), 400),
    ("list-work-bad-token", lambda a: a.list_work("work", page_token="a/b"), 400),
    ("list-runs-bad-token", lambda a: a.list_runs("work", page_token="yesterday"), 400),
]


@pytest.mark.parametrize(
    ("call", "status"), [c[1:] for c in BAD_CALLS], ids=[c[0] for c in BAD_CALLS]
)
def test_bad_app_calls_raise_a_4xx_error_and_write_nothing(
    client: firestore.Client, call: Call, status: int
) -> None:
    app = app_of(client)
    app.register("work", "existing", {"string_params": {"keep": "me"}})
    before = snapshot_collection(client)
    with pytest.raises(slotwork.SlotworkError) as raised:
        call(app)
    assert raised.value.http_status == status, raised.value
    assert str(raised.value)
    assert snapshot_collection(client) == before, "a rejected call wrote something"


@pytest.mark.parametrize(
    "call",
    [
        lambda a: a.register("work", "x", {"string_params": {"k": "\udcff"}}),
        lambda a: a.register("work", "x", {"string_params": {"\ud800": "v"}}),
        lambda a: a.register("work", "bad\udcffname"),
        lambda a: a.update_settings("work", settings={"string_params": {"k": "\ud800"}}),
    ],
    ids=["param-value", "param-key", "item-name", "settings"],
)
def test_lone_surrogates_are_a_400_not_a_crash(client: firestore.Client, call: Call) -> None:
    app = app_of(client)
    before = snapshot_collection(client)
    with pytest.raises(slotwork.InvalidArgument):
        call(app)
    assert snapshot_collection(client) == before


# Anything JSON can carry, in the shapes a params body takes.
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=40),
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
params_like = st.one_of(
    json_values,
    st.fixed_dictionaries(
        {},
        optional={
            "int_params": st.dictionaries(
                st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                json_values,
                max_size=4,
            ),
            "string_params": st.dictionaries(
                st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
                json_values,
                max_size=4,
            ),
            "intParams": json_values,
        },
    ),
)


@settings(
    max_examples=400 if LONG else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(params=params_like, name=st.text(st.characters(blacklist_categories=("Cs",)), max_size=30))
def test_any_register_input_is_stored_faithfully_or_refused_with_a_400(
    emulator: Emulator, params: Any, name: str
) -> None:
    client = new_client(emulator)
    app = app_of(client)
    # Names are stored in NFC: the one spelling of names that look the same.
    item = unicodedata.normalize("NFC", f"fuzz-{name}")
    before = app.list_work("work", page_size=1000).items
    try:
        app.register("work", item, params)
    except slotwork.SlotworkError as err:
        assert err.http_status == 400, err
        assert app.list_work("work", page_size=1000).items == before
        return
    stored = app.get_work("work", item).details.params
    assert stored == slotwork.Params(**_as_params(params))


def _as_params(value: Any) -> dict[str, Any]:
    """What register stores for an accepted params value."""
    if value is None:
        return {}
    ints = value.get("int_params", value.get("intParams")) or {}
    strings = value.get("string_params", value.get("stringParams")) or {}

    def nfc(key: str) -> str:
        return unicodedata.normalize("NFC", key)

    return {
        "int_params": {nfc(k): int(v) for k, v in ints.items()},
        "string_params": {nfc(k): v for k, v in strings.items()},
    }
