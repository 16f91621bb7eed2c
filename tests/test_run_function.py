"""The ``run`` target over real HTTP: functions-framework, the emulator, JSON both ways."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from google.cloud import firestore

import slotwork
from slotwork_local.emulator import Emulator

from conftest import PROJECT
from sample_processes import PROCESSES
from server import functions_server


@pytest.fixture(scope="module")
def run_url(emulator: Emulator) -> Iterator[str]:
    env = {
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "SLOTWORK_PROCESSES": "sample_processes",
        "SLOTWORK_MIN_FREQUENCY_SECONDS": "60",
    }
    with functions_server("run", env) as url:
        yield url


def test_a_tick_over_http_claims_then_reports_done(run_url: str, client: firestore.Client) -> None:
    app = slotwork.App(PROCESSES, client=client)
    app.register_many("noop", [(f"i{n}", None) for n in range(5)])
    first = requests.post(run_url, json={"process": "noop"}, timeout=30)
    assert first.status_code == 200
    body = first.json()
    assert body["outcome"] == "claimed" and body["processed"] == 5
    assert body["left"] == 0 and body["continuation"] is False
    second = requests.post(run_url, json={"process": "noop"}, timeout=30)
    assert second.json()["outcome"] == "done"
    assert app.get_process("noop").aggregate_stats["work.seen"] == 5


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"", 400),
        (b"not json", 400),
        (b"[]", 400),
        (b'{"process": 7}', 400),
        (b'{"process": "noop", "extra": 1}', 400),
        (b'{"process": "nope"}', 404),
    ],
)
def test_bad_run_bodies_get_a_json_4xx_and_write_nothing(
    run_url: str, client: firestore.Client, body: bytes, status: int
) -> None:
    response = requests.post(
        run_url, data=body, headers={"Content-Type": "application/json"}, timeout=30
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == status and error["message"]
    assert list(client.collection("slotwork").stream()) == []
