"""Identity and authorization over real HTTP: the ``api`` target under
functions-framework with ``SLOTWORK_API_AUTH=verified``, called with tokens
shaped as Cloud Run passes on the ones it verified
(``header.payload.SIGNATURE_REMOVED_BY_GOOGLE``), and with headers anyone can forge.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore
from werkzeug.datastructures import Headers

from slotwork.api.auth import Policy
from slotwork_local.emulator import Emulator

from conftest import new_client
from server import log_entries, wait_for_entry
from test_api_server import api_server, server_env

WRITER = "writer@example.com"
READER = "reader@example.com"
IAP_WRITER = "person@example.com"
TIMEOUT = 30


def token(email: str, signature: str = "SIGNATURE_REMOVED_BY_GOOGLE", **claims: Any) -> str:
    """An ID token as Cloud Run forwards one it verified (or, with ``signature``, did not)."""

    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")

    header = part({"alg": "RS256", "kid": "k1", "typ": "JWT"})
    payload = part({"iss": "https://accounts.google.com", "email": email, **claims})
    return f"{header}.{payload}.{signature}"


def bearer(email: str, **options: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(email, **options)}"}


class Served:
    """A running api server, its log, and the Firestore collection it writes."""

    def __init__(self, url: str, log: Path, collection: str, client: firestore.Client) -> None:
        self.url = url
        self.log = log
        self.collection = collection
        self.client = client

    def items(self) -> set[str]:
        work = self.client.collection(self.collection).document("noop").collection("work")
        return {ref.id for ref in work.list_documents()}

    def process_doc(self) -> dict[str, Any] | None:
        return self.client.collection(self.collection).document("noop").get().to_dict()

    def logged(self, path: str) -> dict[str, Any]:
        """The log line of the last request to ``path``."""
        wait_for_entry(self.log, lambda e: e.get("path") == path)
        return [e for e in log_entries(self.log) if e.get("path") == path][-1]


@pytest.fixture(scope="module")
def verified(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """Tokens only: the IAP header is not trusted."""
    log = tmp_path_factory.mktemp("auth") / "api.log"
    env = {
        **server_env(emulator, "auth-verified"),
        "SLOTWORK_API_AUTH": "verified",
        "SLOTWORK_API_WRITERS": f"{WRITER.upper()}, other@example.com",
    }
    with api_server(env, log) as url:
        yield Served(url, log, "auth-verified", new_client(emulator))


@pytest.fixture(scope="module")
def behind_iap(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """A deployment that says IAP fronts it."""
    log = tmp_path_factory.mktemp("auth-iap") / "api.log"
    env = {
        **server_env(emulator, "auth-iap"),
        "SLOTWORK_API_AUTH": "verified",
        "SLOTWORK_API_WRITERS": IAP_WRITER,
        "SLOTWORK_TRUST_IAP": "true",
    }
    with api_server(env, log) as url:
        yield Served(url, log, "auth-iap", new_client(emulator))


def assert_error(response: requests.Response, status: int, rpc: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json()["error"]
    assert error["code"] == status and error["status"] == rpc
    return str(error["message"])


def test_without_a_verified_caller_every_request_is_401(verified: Served) -> None:
    for method, path in [("GET", "/processes"), ("GET", "/openapi.json"), ("PUT", "/x/y")]:
        response = requests.request(method, verified.url + path, timeout=TIMEOUT)
        assert "ID token" in assert_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_a_forged_iap_header_is_ignored_when_iap_is_not_trusted(verified: Served) -> None:
    forged = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{WRITER}"}
    path = "/processes/noop/work/forged-iap"
    assert_error(
        requests.put(verified.url + path, headers=forged, timeout=TIMEOUT), 401, "UNAUTHENTICATED"
    )
    # With a reader's token the forged header still does not make a writer.
    response = requests.put(
        verified.url + path, headers={**forged, **bearer(READER)}, json={}, timeout=TIMEOUT
    )
    assert_error(response, 403, "PERMISSION_DENIED")
    assert verified.logged(path)["caller"] == READER
    assert "forged-iap" not in verified.items()


def test_an_unverified_authorization_is_ignored_when_x_serverless_authorization_is_present(
    verified: Served,
) -> None:
    # Cloud Run checked X-Serverless-Authorization and passed Authorization on unchecked:
    # a writer's token there, even one shaped as if checked, must not count.
    headers = {
        "X-Serverless-Authorization": f"Bearer {token(READER)}",
        "Authorization": f"Bearer {token(WRITER)}",
    }
    path = "/processes/noop/work/smuggled"
    response = requests.put(verified.url + path, headers=headers, json={}, timeout=TIMEOUT)
    assert_error(response, 403, "PERMISSION_DENIED")
    assert verified.logged(path)["caller"] == READER
    assert "smuggled" not in verified.items()
    # And the checked header alone makes a writer a writer.
    writer = {"X-Serverless-Authorization": f"Bearer {token(WRITER)}", "Authorization": "Basic x"}
    assert (
        requests.put(verified.url + path, headers=writer, json={}, timeout=TIMEOUT).status_code
        == 201
    )


@pytest.mark.parametrize(
    "headers",
    [
        bearer(WRITER, signature="c2lnbmVkLWJ5LXRoZS1jYWxsZXI"),
        bearer(WRITER, email_verified=False),
        {"Authorization": f"Basic {token(WRITER)}"},
        {"Authorization": "Bearer not.a.SIGNATURE_REMOVED_BY_GOOGLE"},
        {"X-Serverless-Authorization": "", "Authorization": f"Bearer {token(WRITER)}"},
    ],
    ids=["signature-not-removed", "email-not-verified", "not-bearer", "garbage", "empty-checked"],
)
def test_a_token_the_platform_did_not_check_is_not_believed(
    verified: Served, headers: dict[str, str]
) -> None:
    path = "/processes/noop/work/unchecked"
    response = requests.put(verified.url + path, headers=headers, json={}, timeout=TIMEOUT)
    assert_error(response, 401, "UNAUTHENTICATED")
    assert "caller" not in verified.logged(path)
    assert "unchecked" not in verified.items()


def test_a_reader_reads_but_every_write_is_403_and_writes_nothing(verified: Served) -> None:
    assert requests.get(
        verified.url + "/processes/noop", headers=bearer(READER), timeout=TIMEOUT
    ).ok
    before = verified.process_doc()
    writes = [
        ("PUT", "/processes/noop/work/by-reader", {"params": {"intParams": {"n": 1}}}),
        ("POST", "/processes/noop/work:batchRegister", {"items": [{"name": "by-reader-2"}]}),
        ("PATCH", "/processes/noop", {"scheduleFrequency": "7200s"}),
        ("POST", "/processes/noop:pause", {"reason": "reader"}),
        ("POST", "/processes/noop:resume", None),
        ("POST", "/processes/noop:run", None),
        ("DELETE", "/processes/noop/work/by-reader", None),
    ]
    for method, path, body in writes:
        response = requests.request(
            method, verified.url + path, headers=bearer(READER), json=body, timeout=TIMEOUT
        )
        message = assert_error(response, 403, "PERMISSION_DENIED")
        assert READER in message and "SLOTWORK_API_WRITERS" in message
        assert verified.logged(path)["caller"] == READER
    assert not {"by-reader", "by-reader-2"} & verified.items()
    assert verified.process_doc() == before


def test_a_writer_writes_and_is_logged_as_the_caller(verified: Served) -> None:
    path = "/processes/noop/work/by-writer"
    response = requests.put(
        verified.url + path,
        headers=bearer(WRITER, email_verified=True),
        json={"params": {"intParams": {"n": 1}}},
        timeout=TIMEOUT,
    )
    assert response.status_code == 201, response.text
    assert "by-writer" in verified.items()
    entry = verified.logged(path)
    assert entry["caller"] == WRITER and entry["caller_via"] == "token"
    patched = requests.patch(
        verified.url + "/processes/noop",
        headers=bearer(WRITER),
        json={"scheduleFrequency": "7200s"},
        timeout=TIMEOUT,
    )
    assert patched.status_code == 200 and patched.json()["scheduleFrequency"] == "7200s"


def test_behind_iap_the_iap_user_is_the_caller(behind_iap: Served) -> None:
    iap = {"X-Goog-Authenticated-User-Email": f"accounts.google.com:{IAP_WRITER}"}
    path = "/processes/noop/work/by-iap-user"
    response = requests.put(behind_iap.url + path, headers=iap, json={}, timeout=TIMEOUT)
    assert response.status_code == 201, response.text
    entry = behind_iap.logged(path)
    assert entry["caller"] == IAP_WRITER and entry["caller_via"] == "iap"
    # A header without IAP's prefix is not IAP's.
    bare = {"X-Goog-Authenticated-User-Email": IAP_WRITER}
    other = "/processes/noop/work/not-iap"
    assert_error(
        requests.put(behind_iap.url + other, headers=bare, timeout=TIMEOUT), 401, "UNAUTHENTICATED"
    )
    assert behind_iap.items() == {"by-iap-user"}


# -- the rule as a unit ---------------------------------------------------------------------
def test_the_default_policy_needs_no_caller_and_logs_only_verified_ones() -> None:
    policy = Policy()
    policy.authenticate(None)
    policy.authorize(None, "registerWork", writes=True)
    assert (
        policy.caller(Headers({"X-Goog-Authenticated-User-Email": f"accounts.google.com:{WRITER}"}))
        is None
    )
    found = policy.caller(Headers(bearer("Mixed@Example.COM")))
    assert found is not None and found.email == "mixed@example.com"
