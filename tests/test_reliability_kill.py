"""Kill trials: the real functions-framework server is SIGKILLed (master and worker)
at random points of a run, a fresh instance finishes the slot, and Firestore,
the worker's call records and the servers' structured logs must show that no
work was lost and that ownership never overlapped.

Per trial (seeded: the seed is printed; rerun with RELIABILITY_SEED=<seed>):
- a *victim* server ticks the process (a short deadline makes it hand over
  between ticks, and 1-5 items per checkpoint make checkpoints frequent);
- it is killed at a random time (``random``), or in the middle of a run of
  checkpoints of near-instant items (``checkpoint``), or while it hangs inside a
  worker call that a second instance takes over after the lease expires
  (``worker``);
- a *survivor* server (a long-lived second instance) ticks until the run is
  complete.
Checked: every item completed in the slot; an item was called more than once
only when the killed victim had not checkpointed it, and all such calls came
after its last checkpointed one; run and aggregate stats count every item once;
claims were logged with strictly increasing epochs, no instance started an item
after a later epoch claimed, and no lease outlived its expiry.

CI runs 5 trials; ``SLOTWORK_LONG=1`` (``make test-long``) runs 200.
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import requests
from google.cloud import firestore

import slotwork
from slotwork_local.emulator import Emulator

import reliability_processes
from conftest import new_client
from reliability_support import (
    LONG,
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
    stop,
)
from reliability_support import items as read_items

pytestmark = pytest.mark.reliability

PROCESS = "work"
LEASE_SECONDS = 4.0
TRIALS = scale(5, 200, "RELIABILITY_KILL_TRIALS")
# Anchored clocks agree with the emulator within a round trip; log times are
# the machine's: allow this much slack when comparing them.
CLOCK_SLACK = 0.5


def victim_env(rng: Any) -> dict[str, str]:
    return {
        "SLOTWORK_LEASE_SECONDS": str(LEASE_SECONDS),
        "SLOTWORK_CHECKPOINT_SECONDS": "1",
        "SLOTWORK_CHECKPOINT_ITEMS": str(rng.randint(1, 5)),
        "SLOTWORK_DEADLINE_SECONDS": str(rng.choice([1.0, 1.5, 2.5, 20.0])),
    }


@dataclass
class TrialReport:
    trial: int
    mode: str
    items: int
    lost: int = 0
    duplicates: int = 0
    double_ownership: int = 0
    committed_at_kill: int = 0
    victim_calls: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Responses:
    """Tick answers collected by a thread that keeps ticking one server."""

    bodies: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def keep_ticking(
    server: Server, stop_flag: threading.Event, into: Responses, interval: float
) -> None:
    while not stop_flag.is_set():
        try:
            response = server.post({"process": PROCESS}, timeout=60)
        except requests.RequestException as err:
            into.failures.append(repr(err))
            return  # the server was killed under the request
        if response.status_code != 200:
            into.failures.append(f"{response.status_code} {response.text[:300]}")
            return
        body = response.json()
        into.bodies.append((time.time(), body))
        if body.get("run_state") == "COMPLETED" or body["outcome"] == "done":
            return
        stop_flag.wait(interval)


def done_in(doc: dict[str, Any], slot: datetime) -> bool:
    done: datetime | None = doc.get("done_slot")
    return done is not None and done == slot


def claims_in(server: Server) -> list[dict[str, Any]]:
    return [
        e
        for e in server.logs()
        if e.get("process") == PROCESS
        and e.get("event") == "claim"
    ]


def log_time(entry: dict[str, Any]) -> float:
    return datetime.fromisoformat(entry["time"]).timestamp()


def run_trial(
    n: int,
    rng: Any,
    emulator: Emulator,
    client: firestore.Client,
    victim: Server,
    survivor: Server,
) -> TrialReport:
    emulator.reset()
    mode = rng.choice(["random", "checkpoint", "worker"])
    count = rng.randint(8, 40)
    names = item_names(count)
    sleep_ms = {"random": rng.randint(5, 40), "checkpoint": 0, "worker": rng.randint(5, 30)}[mode]
    stall = rng.randrange(count) if mode == "worker" else -1
    report = TrialReport(n, mode, count)
    app = slotwork.App(reliability_processes.PROCESSES, client=client, min_frequency=60)
    regs: list[tuple[str, Any]] = []
    for i, name in enumerate(names):
        params: dict[str, Any] = {"int_params": {"sleep_ms": sleep_ms}}
        if i == stall:
            params["string_params"] = {"stall_on": victim.server_id}
        regs.append((name, params))
    app.register_many(PROCESS, regs)

    stop_flag = threading.Event()
    victim_answers = Responses()
    survivor_answers = Responses()
    driver = threading.Thread(
        target=keep_ticking, args=(victim, stop_flag, victim_answers, 0.0), daemon=True
    )
    contender = threading.Thread(
        target=keep_ticking, args=(survivor, stop_flag, survivor_answers, 0.1), daemon=True
    )
    started = time.time()
    driver.start()
    if mode == "worker":
        # The victim hangs in a worker call: the survivor, ticking all along, must
        # stay busy while the lease lives, then take over and finish the run.
        contender.start()
        poll(
            "the victim to reach its stalling item",
            lambda: any(c["item"] == names[stall] for c in calls(client, PROCESS)),
            30,
        )
        extra = rng.uniform(0, LEASE_SECONDS + 2)
        time.sleep(extra)  # a random kill point, not a wait for state
    else:
        estimate = count * (sleep_ms + 15) / 1000
        time.sleep(rng.uniform(0.05, max(0.1, estimate)))  # the random kill point
    killed_at = victim.kill()

    at_kill = read_items(client, PROCESS)
    state_at_kill = process_doc(client, PROCESS)
    lease_at_kill = state_at_kill.get("lease", {})
    committed_victim: set[str] = set()
    if "run" in state_at_kill:  # else the victim died before its claim landed
        committed_victim = {
            name
            for name, doc in at_kill.items()
            if done_in(doc, state_at_kill["run"]["slot"])
            and committed_by(doc) == [victim.server_id]
        }
    else:
        report.notes.append("killed before the claim")
    report.committed_at_kill = len(committed_victim)

    if not contender.is_alive() and not survivor_answers.bodies:
        contender.start()
    contender.join(timeout=LEASE_SECONDS + 60)
    assert not contender.is_alive(), f"trial {n}: the survivor did not finish the run"
    stop_flag.set()
    driver.join(timeout=10)
    assert not survivor_answers.failures, survivor_answers.failures
    assert not [f for f in victim_answers.failures if "Connection" not in f and "Read" not in f]

    final_items = read_items(client, PROCESS)
    final = process_doc(client, PROCESS)
    slot = final["run"]["slot"]
    records = calls(client, PROCESS)
    counts = call_counts(records)
    by_server: dict[str, Counter[str]] = {}
    for record in records:
        by_server.setdefault(record["server"], Counter())[record["item"]] += 1

    # 1. Nothing lost: every item completed in the slot, each called at least once.
    lost = [
        name
        for name in names
        if counts[name] == 0
        or not done_in(final_items[name], slot)
        or final_items[name]["status"]["state"] != "COMPLETED"
    ]
    report.lost = len(lost)
    assert not lost, f"trial {n} ({mode}): items lost: {lost}"
    assert final["run"]["status"]["state"] == "COMPLETED", final["run"]

    # 2. Duplicates only where the victim died (or hung) before checkpointing.
    report.victim_calls = sum(by_server.get(victim.server_id, Counter()).values())
    for name in names:
        committers = committed_by(final_items[name])
        assert len(committers) == 1, (name, final_items[name]["status"])
        for server, per_item in by_server.items():
            if server != victim.server_id:
                assert per_item[name] <= 1, f"{server} repeated {name} without dying"
        if name in committed_victim:
            assert counts[name] == 1, f"{name} was checkpointed by the victim, then redone"
            assert committers == [victim.server_id]
        extra_calls = counts[name] - 1
        if extra_calls:
            assert name not in committed_victim
            assert by_server[victim.server_id][name] >= extra_calls, (name, by_server)
            report.duplicates += extra_calls
    victim_calls = [r for r in records if r["server"] == victim.server_id]
    committed_times = [r["time"] for r in victim_calls if r["item"] in committed_victim]
    redone_times = [r["time"] for r in victim_calls if r["item"] not in committed_victim]
    if committed_times and redone_times:
        assert max(committed_times) < min(redone_times), (
            "a call the victim never checkpointed came before one it did"
        )
    assert all(r["time"] <= killed_at + CLOCK_SLACK for r in victim_calls)

    # 3. Counts and stats: each item counted once by the run and the aggregate.
    stats = final["run"]["status"]["stats"]
    assert stats["workItems"] == count and stats["work.calls"] == count, stats
    committed_per_server = Counter(committed_by(final_items[name])[0] for name in names)
    for server, committed in committed_per_server.items():
        assert stats[f"work.by.{server}"] == committed, (server, stats)
    assert final["aggregate_stats"]["workItems"] == count

    # 4. Ownership: claims logged with increasing epochs; a later claim only after
    # the earlier holder's lease expired; nobody starts work after a later claim.
    claims = sorted(claims_in(victim) + claims_in(survivor), key=lambda e: e["epoch"])
    epochs = [c["epoch"] for c in claims]
    # A claim is logged after its commit: a kill in between loses that one line.
    logged_instances = {c["instance"] for c in claims}
    unlogged = None
    if lease_at_kill.get("holder") and lease_at_kill["holder"] not in logged_instances:
        unlogged = lease_at_kill["epoch"]
        report.notes.append("killed between its claim and the claim's log line")
    expected = [e for e in range(1, final["lease"]["epoch"] + 1) if e != unlogged]
    assert epochs == expected, f"epochs logged: {epochs}, expected {expected}"
    times = [log_time(c) for c in claims]
    assert times == sorted(times), "an older epoch was claimed after a newer one"
    victim_instances = {c["instance"] for c in claims_in(victim)}
    for earlier, later in itertools.pairwise(claims):
        if earlier["instance"] in victim_instances and later["instance"] not in victim_instances:
            late = [r for r in victim_calls if r["time"] > log_time(later) + CLOCK_SLACK]
            if late:
                report.double_ownership += 1
            assert not late, f"the victim started {late} after epoch {later['epoch']} claimed"
    if lease_at_kill.get("expire_time") and lease_at_kill["epoch"] == epochs[-1] - 1:
        expiry = lease_at_kill["expire_time"].timestamp()
        if expiry > killed_at and lease_at_kill.get("holder") in victim_instances:
            first_takeover = log_time(claims[-1])
            assert first_takeover >= expiry - CLOCK_SLACK, "took over a live lease"
            # No orphan: a ticking instance takes over promptly once the lease expired.
            assert first_takeover <= expiry + 3.0, (first_takeover - expiry, report)
            # And the takeover's log line names the holder it replaced.
            assert claims[-1].get("previous_holder") == lease_at_kill["holder"], claims[-1]
    lease = final["lease"]
    assert lease["expire_time"] <= now_utc(), "the finished run left a live lease"

    # 5. The answers tell the same story as the documents.
    for _, body in victim_answers.bodies + survivor_answers.bodies:
        assert body["outcome"] in ("claimed", "resumed", "busy", "done", "conflict"), body
    claimed = [b for _, b in survivor_answers.bodies if b["outcome"] in ("claimed", "resumed")]
    # (The victim may have finished and died before its answer went out.)
    victim_finished = state_at_kill.get("run", {}).get("status", {}).get("state") == "COMPLETED"
    assert claimed or victim_finished, "the survivor never claimed an unfinished run"
    if victim_finished:
        report.notes.append("victim finished before the kill")
    logged = {(c["instance"], c["epoch"]) for c in claims}
    for _, body in victim_answers.bodies + survivor_answers.bodies:
        if body["outcome"] in ("claimed", "resumed", "conflict"):
            assert (body["instance"], body["epoch"]) in logged, body
    report.notes.append(f"{time.time() - started:.1f}s")
    return report


@pytest.fixture(scope="module")
def survivor(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = {
        "SLOTWORK_LEASE_SECONDS": str(LEASE_SECONDS),
        "SLOTWORK_CHECKPOINT_SECONDS": "1",
        "SLOTWORK_CHECKPOINT_ITEMS": "3",
        "SLOTWORK_DEADLINE_SECONDS": "20",
    }
    server = ready(launch("survivor", emulator.host, tmp_path_factory.mktemp("survivor"), env))
    try:
        yield server
    finally:
        stop(server)


@pytest.mark.timeout(max(300, TRIALS * 30))
def test_kill_trials_lose_nothing_and_never_overlap_owners(
    emulator: Emulator,
    survivor: Server,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seed, rng = seeded("kill trials")
    client = new_client(emulator)
    reports: list[TrialReport] = []
    started = time.monotonic()
    next_victim = launch("victim-000", emulator.host, tmp_path, victim_env(rng))
    try:
        for n in range(TRIALS):
            victim = ready(next_victim)
            try:
                reports.append(run_trial(n, rng, emulator, client, victim, survivor))
            except AssertionError as err:
                raise AssertionError(
                    f"kill trial {n} failed (RELIABILITY_SEED={seed}; logs in {tmp_path}): {err}"
                ) from err
            finally:
                stop(victim)
            if n + 1 < TRIALS:
                # Start the next victim now: it boots while this trial is checked.
                next_victim = launch(
                    f"victim-{n + 1:03d}", emulator.host, tmp_path, victim_env(rng)
                )
            # The survivor's log grows across trials: keep only what a trial needs.
            survivor.log_path.write_text("")
    finally:
        stop(next_victim)
    summary = {
        "kill_trials": len(reports),
        "seed": seed,
        "modes": dict(Counter(r.mode for r in reports)),
        "items": sum(r.items for r in reports),
        "lost_items": sum(r.lost for r in reports),
        "double_ownership": sum(r.double_ownership for r in reports),
        "duplicate_calls": sum(r.duplicates for r in reports),
        "trials_with_duplicates": sum(1 for r in reports if r.duplicates),
        "committed_by_victim_at_kill": sum(r.committed_at_kill for r in reports),
        "seconds": round(time.monotonic() - started, 1),
        "long": LONG,
    }
    with capsys.disabled():
        print(f"\nRELIABILITY kill trials: {json.dumps(summary)}")
    assert summary["kill_trials"] == TRIALS
    assert summary["lost_items"] == 0 and summary["double_ownership"] == 0
    # The trials did kill mid-run: some work was redone, some survived the kill.
    if TRIALS >= 20:
        assert summary["trials_with_duplicates"] > 0
        assert summary["committed_by_victim_at_kill"] > 0
