"""Kills, claim storms and a frozen holder on a wide process: 16 items in flight
per tick and 4 shards (issue 13), against real servers and the real emulator.

- Kill trials: a victim server ticks all four shards at once and is SIGKILLed
  with items in flight; a survivor finishes the slot. No item is lost; an item
  the victim had checkpointed is never called again; every repeated call is the
  victim's (an item in flight or not yet checkpointed at the kill); one run
  record closes the slot with every item counted once; every shard's lease is
  released and its claims were logged with growing epochs.
- Claim storms: 16 racing ticks per shard, all at once: exactly one claim per shard.
- A frozen holder of one shard is taken over and, thawed, writes nothing.

CI runs 2 kill trials; ``SLOTWORK_LONG=1`` runs 40.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

import slotwork
from slotwork.clock import ServerAnchoredClock
from slotwork_local.emulator import Emulator

import reliability_processes
from conftest import new_client
from reliability_processes import WIDE_SHARDS
from reliability_support import (
    Server,
    call_counts,
    calls,
    committed_by,
    item_names,
    launch,
    now_utc,
    poll,
    process_doc,
    ready,
    scale,
    seeded,
    snapshot_collection,
    stop,
)
from reliability_support import items as read_items

pytestmark = pytest.mark.reliability

PROCESS = "wide"
LEASE_SECONDS = 4.0
TRIALS = scale(2, 40, "RELIABILITY_WIDE_TRIALS")
STORM_TICKS = 16  # per shard
ENV = {
    "SLOTWORK_LEASE_SECONDS": str(LEASE_SECONDS),
    "SLOTWORK_CHECKPOINT_SECONDS": "0.5",
    "SLOTWORK_CHECKPOINT_ITEMS": "5",
    "SLOTWORK_DEADLINE_SECONDS": "3",
}


def register(client: firestore.Client, names: list[str], sleep_ms: int, **params: str) -> None:
    app = slotwork.App(reliability_processes.PROCESSES, client=client, min_frequency=60)
    params_of = {"int_params": {"sleep_ms": sleep_ms}, "string_params": params}
    app.register_many(PROCESS, [(n, params_of) for n in names])


def tick_shards_until_done(
    server: Server, stop_flag: threading.Event, timeout: float = 300.0
) -> list[dict[str, Any]]:
    """Tick every shard of the process at once, again and again, until each answers
    done (or the server dies, or ``stop_flag``): Scheduler's K jobs."""
    answers: list[dict[str, Any]] = []
    lock = threading.Lock()
    ends = time.monotonic() + timeout

    def one(shard: int) -> None:
        while not stop_flag.is_set():
            assert time.monotonic() < ends, f"shard {shard} not done in {timeout:.0f} s"
            try:
                response = server.post({"process": PROCESS, "shard": shard}, timeout=60)
            except requests.RequestException:
                return  # killed under the request
            body = response.json()
            with lock:
                answers.append(body)
            assert response.status_code == 200, body
            if body["outcome"] == "done":
                return
            stop_flag.wait(0.05)

    with ThreadPoolExecutor(WIDE_SHARDS) as pool:
        list(pool.map(one, range(WIDE_SHARDS)))
    return answers


def shard_docs(client: firestore.Client) -> dict[int, dict[str, Any]]:
    return {k: process_doc(client, PROCESS, k)["shard"] for k in range(WIDE_SHARDS)}


def claims(server: Server) -> list[dict[str, Any]]:
    return [e for e in server.logs() if e.get("event") == "claim" and e.get("process") == PROCESS]


@pytest.fixture
def servers(emulator: Emulator, tmp_path: Path) -> Any:
    started: list[Server] = []

    def start(name: str) -> Server:
        server = ready(launch(name, emulator.host, tmp_path, ENV))
        started.append(server)
        return server

    yield start
    for server in started:
        stop(server)


@pytest.mark.timeout(max(300, TRIALS * 60))
def test_kill_trials_with_items_in_flight_on_every_shard(
    emulator: Emulator, servers: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seed, rng = seeded("wide kill trials")
    client = new_client(emulator)
    survivor = servers("wide-survivor")
    totals: Counter[str] = Counter()
    for trial in range(TRIALS):
        emulator.reset()
        count = rng.randint(60, 160)
        names = item_names(count)
        sleep_ms = rng.randint(10, 60)
        register(client, names, sleep_ms)
        victim = servers(f"wide-victim-{trial:02d}")
        victim_stop = threading.Event()
        driver = threading.Thread(target=tick_shards_until_done, args=(victim, victim_stop))
        driver.start()
        poll("the victim to work", lambda: len(calls(client, PROCESS)) >= 5, 30)
        time.sleep(rng.uniform(0, count * sleep_ms / 1000 / WIDE_SHARDS / 8))  # a random kill point
        victim.kill()
        victim_stop.set()
        driver.join(timeout=60)
        at_kill = read_items(client, PROCESS)
        slot = process_doc(client, PROCESS)["run"]["slot"]
        committed_victim = {
            n
            for n, doc in at_kill.items()
            if doc.get("done_slot") == slot and committed_by(doc) == [victim.server_id]
        }
        survivor.log_path.write_text("")
        tick_shards_until_done(survivor, threading.Event(), timeout=LEASE_SECONDS * 3 + 120)
        context = f"trial {trial} (RELIABILITY_SEED={seed})"
        final = read_items(client, PROCESS)
        lost = [n for n in names if final[n].get("done_slot") != slot]
        assert not lost, f"{context}: lost {lost}"
        counts = call_counts(calls(client, PROCESS))
        by_server: dict[str, Counter[str]] = {}
        for record in calls(client, PROCESS):
            by_server.setdefault(record["server"], Counter())[record["item"]] += 1
        for name in names:
            committers = committed_by(final[name])
            assert len(committers) == 1, (context, name, final[name]["status"])
            assert by_server.get(survivor.server_id, Counter())[name] <= 1, (context, name)
            if name in committed_victim:
                assert counts[name] == 1, f"{context}: {name} checkpointed by the victim, redone"
            if counts[name] > 1:
                assert by_server[victim.server_id][name] >= counts[name] - 1, (context, name)
        state = process_doc(client, PROCESS)
        run = state["run"]
        assert run["status"]["state"] == "COMPLETED", (context, run)
        assert sorted(run["finished_shards"]) == list(range(WIDE_SHARDS))
        assert run["status"]["stats"]["workItems"] == count
        assert state["aggregate_stats"]["workItems"] == count
        shards = shard_docs(client)
        for k, shard in shards.items():
            assert shard["lease"]["expire_time"] <= now_utc(), (context, k)
            logged = [c["epoch"] for c in claims(survivor) if c["shard"] == k]
            assert logged == sorted(logged) and shard["lease"]["epoch"] >= max(logged, default=0)
        totals["items"] += count
        totals["repeated"] += sum(c - 1 for c in counts.values() if c > 1)
        totals["committed_at_kill"] += len(committed_victim)
    with capsys.disabled():
        print(f"\nRELIABILITY wide kill trials: {TRIALS} trials, {dict(totals)}")


def storm_app(client: firestore.Client) -> slotwork.App:
    return slotwork.App(
        reliability_processes.PROCESSES,
        client=client,
        clock=ServerAnchoredClock(),
        lease_ttl=30,
        min_frequency=60,
    )


@pytest.mark.timeout(300)
def test_sixteen_racing_ticks_per_shard_claim_each_shard_once(emulator: Emulator) -> None:
    emulator.reset()
    client = new_client(emulator)
    names = item_names(40)
    register(client, names, 20)
    apps = [storm_app(new_client(emulator)) for _ in range(STORM_TICKS * WIDE_SHARDS)]
    for app in apps:
        app.store.read_process("warmup")  # every channel open before the storm
    barrier = threading.Barrier(len(apps))

    def tick(pair: tuple[int, slotwork.App]) -> tuple[int, str]:
        index, app = pair
        shard = index % WIDE_SHARDS
        barrier.wait()
        return shard, app.tick(PROCESS, shard).outcome

    with ThreadPoolExecutor(len(apps)) as pool:
        results = list(pool.map(tick, enumerate(apps)))
    for shard in range(WIDE_SHARDS):
        outcomes = Counter(o for k, o in results if k == shard)
        assert outcomes["claimed"] == 1, (shard, outcomes)
        assert set(outcomes) <= {"claimed", "busy", "done"}, (shard, outcomes)
    assert {k: doc["lease"]["epoch"] for k, doc in shard_docs(client).items()} == dict.fromkeys(
        range(WIDE_SHARDS), 1
    )
    assert call_counts(calls(client, PROCESS)) == Counter(dict.fromkeys(names, 1))
    assert process_doc(client, PROCESS)["run"]["status"]["state"] == "COMPLETED"


@pytest.mark.timeout(300)
def test_a_frozen_shard_holder_writes_nothing_after_its_takeover(
    emulator: Emulator, servers: Any
) -> None:
    emulator.reset()
    client = new_client(emulator)
    names = item_names(200)
    register(client, names, 60)
    holder, other = servers("wide-holder"), servers("wide-other")
    shard = 1
    answer: dict[str, Any] = {}

    def hold() -> None:
        answer["body"] = holder.tick_shard(PROCESS, shard)

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    poll("the holder to have items in flight", lambda: len(calls(client, PROCESS)) >= 20, 30)
    holder.freeze()
    try:
        epoch = shard_docs(client)[shard]["lease"]["epoch"]

        def takeover() -> dict[str, Any] | None:
            body = other.tick_shard(PROCESS, shard)
            return body if body["outcome"] in ("claimed", "resumed") else None

        taken = poll("the takeover", takeover, 60, interval=0.2)
        assert taken["epoch"] == epoch + 1
        while other.tick_shard(PROCESS, shard)["outcome"] != "done":
            pass
        before = snapshot_collection(client)
    finally:
        holder.thaw()
    thread.join(timeout=60)
    assert answer["body"]["outcome"] == "conflict", answer
    assert snapshot_collection(client) == before, "the stale holder wrote after the takeover"
