"""An item that kills the invocation working it never blocks its process for good
(issue 12 §4), against the real functions-framework server and emulator.

The worker ends its server process (``os._exit``) or raises ``SystemExit`` on one
item: no answer, nothing recorded, the lease left to expire. The engine sees the
shard taken over again and again with no item done, works its items one at a
time with the item named before each call, and the next takeover sets the named
item aside (aborted for the slot, with the reason); the rest of the slot
completes.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests

import slotwork
from slotwork.store.firestore import FirestoreStore
from slotwork_local.emulator import Emulator

import reliability_processes
from conftest import new_client
from reliability_support import (
    calls,
    item_names,
    launch,
    now_utc,
    poll,
    ready,
    stop,
)

PROCESS = "work"
LEASE_SECONDS = 2.0
ENV = {
    "SLOTWORK_LEASE_SECONDS": str(LEASE_SECONDS),
    "SLOTWORK_CHECKPOINT_SECONDS": "0.5",
    "SLOTWORK_CHECKPOINT_ITEMS": "3",
    "SLOTWORK_DEADLINE_SECONDS": "20",
}


@pytest.mark.reliability
@pytest.mark.timeout(240)
@pytest.mark.parametrize("kill", ["exit", "system_exit"])
def test_an_item_that_kills_its_invocation_is_set_aside(
    emulator: Emulator, tmp_path: Path, kill: str
) -> None:
    emulator.reset()
    client = new_client(emulator)
    names = item_names(12)
    killer = names[5]
    app = slotwork.App(reliability_processes.PROCESSES, client=client, min_frequency=60)
    app.register_many(
        PROCESS, [(n, {"string_params": {"kill": kill}} if n == killer else None) for n in names]
    )
    server = ready(launch(f"killer-{kill}", emulator.host, tmp_path, ENV))
    try:
        answers: list[Any] = []

        def tick_until_done() -> bool:
            try:
                response = server.post({"process": PROCESS}, timeout=60)
            except requests.ConnectionError:
                answers.append("died")  # the invocation ended without an answer
                return False
            body = response.json()
            answers.append(body.get("outcome", response.status_code))
            return body.get("outcome") == "done"

        poll("the slot to finish past its killer item", tick_until_done, 180, interval=0.2)
    finally:
        stop(server)
    store = FirestoreStore(client, "slotwork")
    items = store.get_items(PROCESS, names)
    set_aside = items[killer].work()
    assert set_aside.status.state == set_aside.status.ABORTED
    assert "invocation died" in set_aside.status.errors[-1].text
    assert {n for n in names if n != killer} == {
        n for n, i in items.items() if i.status.state == i.status.COMPLETED
    }
    assert answers.count("died") >= 2, answers  # it did kill, more than once
    counts = Counter(c["item"] for c in calls(client, PROCESS))
    assert all(counts[n] >= 1 for n in names)
    state = store.read_process(PROCESS).process
    assert state.run.status.state == state.run.status.INCOMPLETE  # the killer counts as failed
    assert state.run.items_failed == 1
    assert store.read_shard(PROCESS, 0).shard.stalled_takeovers == 0
    assert now_utc() >= state.run.status.finish_time.ToDatetime(tzinfo=now_utc().tzinfo)

