"""The deployment's configuration: the variables the API side reads, what both
functions answer when the environment is wrong (JSON, naming the variable, and
one structured line at start), and a named Firestore database kept apart.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from slotwork.api.auth import Policy
from slotwork.config import DEFAULT_DATABASE, ENV_VARS, Config
from slotwork.deployment import ConfigurationError, StartFailure, build, start
from slotwork.errors import InvalidArgument
from slotwork.store.firestore import FirestoreStore
from slotwork_local.emulator import Emulator

from conftest import PROJECT, new_client
from server import functions_server, log_entries, wait_for_entry
from test_api_server import server_env

TIMEOUT = 30
API_VARIABLES = (
    "SLOTWORK_API_AUTH",
    "SLOTWORK_API_WRITERS",
    "SLOTWORK_TRUST_IAP",
    "SLOTWORK_DATABASE",
    "SLOTWORK_TTL_SWEEPER_COLLECTIONS",
)


# -- reading the variables ------------------------------------------------------------------
def test_the_new_variables_are_listed_and_default_to_the_local_setup() -> None:
    assert set(API_VARIABLES) <= set(ENV_VARS)
    config = Config.from_env({})
    assert (config.api_auth, config.api_writers, config.trust_iap) == ("none", frozenset(), False)
    assert config.database == DEFAULT_DATABASE == "(default)"
    assert config.ttl_sweeper_collections == ()
    assert Policy.from_config(config) == Policy()


def test_the_new_variables_are_read() -> None:
    config = Config.from_env(
        {
            "SLOTWORK_API_AUTH": "Verified",
            "SLOTWORK_API_WRITERS": " Ann@Example.com,ci@p.iam.gserviceaccount.com, ",
            "SLOTWORK_TRUST_IAP": "true",
            "SLOTWORK_DATABASE": "tenant-7",
            "SLOTWORK_TTL_SWEEPER_COLLECTIONS": "sessions, cafe\u0301,,events",
        }
    )
    assert config.api_auth == "verified" and config.trust_iap is True
    assert config.api_writers == {"ann@example.com", "ci@p.iam.gserviceaccount.com"}
    assert config.database == "tenant-7"
    assert config.ttl_sweeper_collections == ("sessions", "caf\u00e9", "events")
    policy = Policy.from_config(config)
    assert policy.verified and policy.trust_iap and "ann@example.com" in policy.writers


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SLOTWORK_API_AUTH", "iam"),
        ("SLOTWORK_API_WRITERS", "ann"),
        ("SLOTWORK_API_WRITERS", "ann @example.com"),
        ("SLOTWORK_TRUST_IAP", "yes"),
        ("SLOTWORK_DATABASE", "Prod"),
        ("SLOTWORK_DATABASE", "db"),
        ("SLOTWORK_DATABASE", "ends-"),
        ("SLOTWORK_TTL_SWEEPER_COLLECTIONS", "ok,a/b"),
        ("SLOTWORK_TTL_SWEEPER_COLLECTIONS", "__x__"),
    ],
)
def test_a_bad_value_is_refused_by_name(name: str, raw: str) -> None:
    with pytest.raises(InvalidArgument, match=name):
        Config.from_env({name: raw})


# -- a wrong environment, in-process ----------------------------------------------------------
BASE = {"SLOTWORK_PROCESSES": "sample_processes", "GOOGLE_CLOUD_PROJECT": PROJECT}


@pytest.mark.parametrize(
    ("env", "variables"),
    [
        ({"SLOTWORK_LEASE_SECONDS": "abc"}, ("SLOTWORK_LEASE_SECONDS",)),
        ({"SLOTWORK_API_AUTH": "maybe"}, ("SLOTWORK_API_AUTH",)),
        (
            {"SLOTWORK_LEASE_SECONDS": "4", "SLOTWORK_CHECKPOINT_SECONDS": "5"},
            ("SLOTWORK_LEASE_SECONDS", "SLOTWORK_CHECKPOINT_SECONDS"),
        ),
        ({"SLOTWORK_CHECKPOINT_ITEMS": "401"}, ("SLOTWORK_CHECKPOINT_ITEMS",)),
        ({"SLOTWORK_COLLECTION": "a/b"}, ("SLOTWORK_COLLECTION",)),
        ({"SLOTWORK_PROCESSES": "no_such_module"}, ("SLOTWORK_PROCESSES",)),
    ],
)
def test_build_names_the_variables_at_fault(
    emulator: Emulator, env: dict[str, str], variables: tuple[str, ...]
) -> None:
    with pytest.raises(ConfigurationError) as raised:
        build({**BASE, **env})
    assert raised.value.variables == variables
    assert all(v in str(raised.value) for v in variables)


def test_start_turns_any_failure_into_an_answer(emulator: Emulator) -> None:
    failure = start({**BASE, "SLOTWORK_LEASE_SECONDS": "abc"})
    assert isinstance(failure, StartFailure)
    body = failure.body()["error"]
    assert body["code"] == failure.status == 500 and "SLOTWORK_LEASE_SECONDS" in body["message"]
    assert not isinstance(start(BASE), StartFailure)


# -- a wrong environment, over HTTP -----------------------------------------------------------
@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("startup")


BROKEN = {
    "lease-not-a-number": ({"SLOTWORK_LEASE_SECONDS": "abc"}, ["SLOTWORK_LEASE_SECONDS"]),
    "lease-below-checkpoint": (
        {"SLOTWORK_LEASE_SECONDS": "4", "SLOTWORK_CHECKPOINT_SECONDS": "5"},
        ["SLOTWORK_LEASE_SECONDS", "SLOTWORK_CHECKPOINT_SECONDS"],
    ),
}


@pytest.mark.parametrize("target", ["run", "api"])
@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_wrong_environment_is_logged_once_and_answered_as_json(
    emulator: Emulator, logs: Path, target: str, case: str
) -> None:
    env, variables = BROKEN[case]
    log = logs / f"{case}-{target}.log"
    with functions_server(target, {**server_env(emulator, "broken"), **env}, log) as url:
        requests_made = [
            requests.post(url, json={"process": "noop"}, timeout=TIMEOUT),
            requests.get(f"{url}/processes", timeout=TIMEOUT),
            requests.put(f"{url}/processes/noop/work/a", json={}, timeout=TIMEOUT),
        ]
        for response in requests_made:
            assert response.status_code == 500, response.text
            assert response.headers["Content-Type"].startswith("application/json")
            error = response.json()["error"]
            assert error["code"] == 500 and error["status"] == "FAILED_PRECONDITION"
            assert all(v in error["message"] for v in variables), error["message"]
        entry = wait_for_entry(log, lambda e: str(e.get("message", "")).startswith("configuration"))
    assert entry["severity"] == "CRITICAL" and entry["variables"] == variables
    assert all(v in entry["message"] for v in variables)
    startup = [e for e in log_entries(log) if "variables" in e]
    assert startup == [entry], "one line at start, none per request"


# -- a named database -----------------------------------------------------------------------
def test_a_named_database_keeps_its_state_apart(emulator: Emulator) -> None:
    # (The emulator serves named databases; its reset endpoint clears only the default
    # one, so this test's collection is its own.)
    collection = "named-db-test"
    env = {**server_env(emulator, collection), "SLOTWORK_DATABASE": "tenant-a"}
    with functions_server("api", env) as url:
        created = requests.put(f"{url}/processes/noop/work/only-here", json={}, timeout=TIMEOUT)
        assert created.status_code in (200, 201), created.text
        assert requests.get(f"{url}/processes/noop/work/only-here", timeout=TIMEOUT).ok
    named = firestore.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        database="tenant-a",
    )
    work = named.collection(collection).document("noop").collection("work")
    assert "only-here" in {ref.id for ref in work.list_documents()}
    default_work = new_client(emulator).collection(collection).document("noop").collection("work")
    assert list(default_work.list_documents()) == []
    # ...and the App of a deployment names its database on its client.
    store = build({**BASE, "SLOTWORK_DATABASE": "tenant-a"}).app.store
    assert isinstance(store, FirestoreStore)
    assert store.client._database_string.endswith("/databases/tenant-a")
