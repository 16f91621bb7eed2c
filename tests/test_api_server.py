"""The ``api`` target served by the real functions-framework server (gunicorn
master and worker in their own process group), and what only it can show:
Flask-level errors are JSON too, and raw paths keep their encoding.

``api_server`` is the fixture helper the fuzz and CLI tests start it with.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from slotwork.api.paths import work_uri
from slotwork_local.emulator import Emulator

from conftest import PROJECT
from server import functions_server


@contextmanager
def api_server(env: Mapping[str, str], log: Path | None = None) -> Iterator[str]:
    """Serve the ``api`` target of functions/main.py on a free port; yields its base URL
    (with ``log``, the server's log lines go to that file)."""
    with functions_server("api", env, log) as url:
        yield url


def server_env(emulator: Emulator, collection: str) -> dict[str, str]:
    """The environment of a server over the test emulator and sample_processes."""
    return {
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "SLOTWORK_PROCESSES": "sample_processes",
        "SLOTWORK_COLLECTION": collection,
        "SLOTWORK_MIN_FREQUENCY_SECONDS": "60",
    }


@pytest.fixture(scope="module")
def url(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_server(server_env(emulator, "served")) as base:
        yield base


@pytest.mark.parametrize("path", ["/processes/%0A", "/processes/noop/work/a%0Ab", "/favicon.ico"])
def test_paths_flask_cannot_route_get_a_json_404(url: str, path: str) -> None:
    response = requests.get(url + path, timeout=30)
    assert response.status_code == 404
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["status"] == "NOT_FOUND"


def test_double_slash_is_not_redirected(url: str) -> None:
    response = requests.get(f"{url}/processes//work", timeout=30, allow_redirects=False)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == 404


def test_encoded_slash_and_percent_stay_inside_the_item_name(url: str) -> None:
    refused = requests.put(f"{url}/processes/noop/work/a%2Fb", json={}, timeout=30)
    assert refused.status_code == 400 and "'/'" in refused.json()["error"]["message"]
    created = requests.put(f"{url}/processes/noop/work/100%2525", json={}, timeout=30)
    assert created.status_code == 201 and created.json()["id"] == "100%25"


def test_a_request_through_gunicorn_round_trips_unicode(url: str) -> None:
    response = requests.put(f"{url}/processes/noop/work/caf%C3%A9 ✓", json={}, timeout=30)
    assert response.status_code == 201 and response.json()["id"] == "café ✓"


@pytest.mark.parametrize(
    "name", ["a#b", "a?b", "a%41", "a%2Fb-literal", "a b+c", "a:run", "ünï ✓", "~._-", "&=;,"]
)
def test_work_uri_round_trips_nasty_names_through_the_server(url: str, name: str) -> None:
    created = requests.put(url + work_uri("", "noop", name), json={}, timeout=30)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["id"] == name and body["uri"] == work_uri("", "noop", name)
    again = requests.get(url + body["uri"], timeout=30)
    assert again.status_code == 200 and again.json()["id"] == name


def test_the_root_answers_json_pointing_to_the_document(url: str) -> None:
    root = requests.get(url + "/", timeout=30)
    assert root.status_code == 200 and root.headers["Content-Type"].startswith("application/json")
    document = requests.get(url + root.json()["openapi"], timeout=30).json()
    assert document["servers"] == [{"url": "/", "description": "this deployment"}]
