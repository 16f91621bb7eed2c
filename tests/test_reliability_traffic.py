"""Registration traffic never starves a run (issue 12 §1).

Against real functions-framework servers (``run`` and ``api``) and the real
emulator: while one driver ticks the process as Cloud Scheduler would (a short
deadline and items that outlast it, so the slot takes many hand-overs and
checkpoints), other clients register new items through the API at a steady
rate and change the settings every few seconds, and the process is paused and
resumed once between two of its ticks. Every item, old and
new, must be processed exactly once in the slot, every tick must answer 200
(no 503: only an unreachable Firestore gets a 5xx), and every API write 2xx.

CI: 2,000 items with 50 registrations per second; ``SLOTWORK_LONG=1``:
20,000 items with 200 per second.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from slotwork_local.emulator import Emulator

from conftest import new_client
from reliability_support import (
    Server,
    call_counts,
    calls,
    item_names,
    launch,
    poll,
    ready,
    scale,
    stop,
)

PROCESS = "work"
ITEMS = scale(2_000, 20_000, "RELIABILITY_TRAFFIC_ITEMS")
REGISTRATIONS_PER_SECOND = scale(50, 200, "RELIABILITY_TRAFFIC_RATE")
CLIENTS = scale(2, 6)  # threads sharing the registration rate
PATCH_EVERY_SECONDS = 2.0
# The original items' waits alone outlast two 6 s deadlines: the first tick always
# hands over, so the pause lands inside the slot whatever the machine's speed.
SLEEP_MS = max(1, 12_000 // ITEMS)
RUN_ENV = {
    # A short deadline makes the slot take many ticks; checkpoints at the defaults.
    "SLOTWORK_DEADLINE_SECONDS": "6",
    "SLOTWORK_LEASE_SECONDS": "15",
}


@dataclass
class Traffic:
    """What the API clients did."""

    registered: list[str] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, what: str, method: str, url: str, body: object = None) -> bool:
        """One API request (a connection of its own); True when it answered 2xx."""
        try:
            response = requests.request(method, url, json=body, timeout=30)
        except requests.RequestException as err:
            with self.lock:
                self.failures.append(f"{what}: {err}")
            return False
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 300:
                self.failures.append(f"{what}: {response.status_code} {response.text[:200]}")
        return response.status_code < 300


@pytest.fixture
def servers(emulator: Emulator, tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    emulator.reset()
    run = launch("traffic-run", emulator.host, tmp_path, RUN_ENV)
    api = launch("traffic-api", emulator.host, tmp_path, RUN_ENV, target="api")
    try:
        yield ready(run), ready(api, warm=False)
    finally:
        stop(run)
        stop(api)


class Names:
    """New item names, one at a time, for clients on several threads."""

    def __init__(self) -> None:
        self._numbers = itertools.count()
        self._lock = threading.Lock()

    def next(self) -> str:
        with self._lock:
            return f"traffic-{next(self._numbers):06d}"


def register(api: Server, traffic: Traffic, names: Names, stop: threading.Event) -> None:
    """Register new items at this client's share of the rate until ``stop``."""
    interval = CLIENTS / REGISTRATIONS_PER_SECOND
    next_at = time.monotonic()
    while not stop.is_set():
        name = names.next()
        url = f"{api.url}/processes/{PROCESS}/work/{name}"
        if traffic.send(f"PUT {name}", "PUT", url, {"params": {}}):
            with traffic.lock:
                traffic.registered.append(name)
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))


def steer(api: Server, traffic: Traffic, stop: threading.Event) -> None:
    """Change the settings every few seconds."""
    url = f"{api.url}/processes/{PROCESS}"
    for n in itertools.count():
        if stop.wait(PATCH_EVERY_SECONDS):
            return
        traffic.send("PATCH", "PATCH", url, {"settings": {"stringParams": {"round": str(n)}}})


@pytest.mark.reliability
@pytest.mark.timeout(scale(600, 3600))
def test_registration_traffic_never_starves_a_run(
    emulator: Emulator, servers: tuple[Server, Server]
) -> None:
    run, api = servers
    client = new_client(emulator)
    names = item_names(ITEMS)
    for start in range(0, ITEMS, 500):
        params = {"intParams": {"sleep_ms": SLEEP_MS}}
        body = {"items": [{"name": n, "params": params} for n in names[start : start + 500]]}
        response = requests.post(
            f"{api.url}/processes/{PROCESS}/work:batchRegister", json=body, timeout=60
        )
        assert response.status_code == 200, response.text
    traffic = Traffic()
    stopping = threading.Event()
    new_names = Names()
    clients = [
        threading.Thread(target=register, args=(api, traffic, new_names, stopping))
        for _ in range(CLIENTS)
    ]
    clients.append(threading.Thread(target=steer, args=(api, traffic, stopping)))
    for thread in clients:
        thread.start()
    outcomes: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    try:
        process_url = f"{api.url}/processes/{PROCESS}"

        # Tick while the traffic runs, until the original items are all done;
        # after the first tick (which hands over), pause, tick, resume.
        def ticked_originals() -> bool:
            response = run.post({"process": PROCESS}, timeout=60)
            statuses[response.status_code] += 1
            if response.status_code == 200:
                outcomes[response.json()["outcome"]] += 1
            if sum(outcomes.values()) == 1:
                traffic.send("pause", "POST", f"{process_url}:pause")
                paused = run.post({"process": PROCESS}, timeout=60)
                statuses[paused.status_code] += 1
                outcomes[paused.json()["outcome"]] += 1
                traffic.send("resume", "POST", f"{process_url}:resume")
            done = call_counts(calls(client, PROCESS))
            return all(done[n] for n in names)

        poll("the original items to be processed", ticked_originals, scale(300, 3000), 0)
    finally:
        stopping.set()
        for thread in clients:
            thread.join(timeout=60)
    # ...then until the slot has nothing left (the traffic's items included).
    poll(
        "the slot to be done",
        lambda: run.tick(PROCESS)["outcome"] == "done",
        scale(120, 1800),  # the long run's traffic leaves a hundred thousand items
        0,
    )
    counts = call_counts(calls(client, PROCESS))
    registered = traffic.registered
    print(
        f"{ITEMS} items, {len(registered)} registered during the slot "
        f"({REGISTRATIONS_PER_SECOND}/s), ticks {dict(outcomes)}, statuses {dict(statuses)}, "
        f"api {dict(traffic.statuses)}"
    )
    assert not traffic.failures, traffic.failures[:5]
    assert set(statuses) == {200}, statuses
    assert outcomes["paused"] == 1 and outcomes["resumed"] >= 1, outcomes
    repeated = {n: c for n, c in counts.items() if c > 1}
    lost = [n for n in [*names, *registered] if counts[n] == 0]
    assert not repeated, f"{len(repeated)} items repeated: {sorted(repeated.items())[:10]}"
    assert not lost, f"{len(lost)} items lost: {lost[:10]}"
    assert len(registered) >= REGISTRATIONS_PER_SECOND  # the traffic ran at least a second
