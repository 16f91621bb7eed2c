"""Races: claim storms (threads, processes, HTTP), a frozen holder fenced after a
takeover, and holders whose clocks are skewed.

Assumption documented by the skew tests: with the production clock
(``ServerAnchoredClock``) every instance reads time as Firestore's, so base
clocks may disagree by any amount. A raw (unanchored) clock must stay within
the lease margin of the others, i.e. skew < lease - checkpoint interval - the
longest item; beyond it another instance may take over a live holder, and then
fencing (not the lease) keeps the state right: the stale holder writes nothing
and only its uncheckpointed items are processed twice.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

import slotwork
from slotwork.clock import ServerAnchoredClock, system_clock
from slotwork.schema import Status
from slotwork_local.emulator import Emulator

import reliability_processes
from conftest import PROJECT, new_client
from helpers import FakeClock, RecordingWorker, make_app
from reliability_support import (
    Server,
    call_counts,
    calls,
    item_names,
    launch,
    long_only,
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

PROCESS = "work"
STORM = 16
# A loser reads, writes once, fails its precondition and answers: it must not
# queue behind the winner or retry for long.
LOSER_SECONDS = 3.0
STORMS = {
    "threads": scale(1, 17, "RELIABILITY_STORMS"),
    "processes": scale(1, 17, "RELIABILITY_STORMS"),
    "http": scale(1, 16, "RELIABILITY_STORMS"),
}


# -- claim storms ------------------------------------------------------------------


def storm_app(client: firestore.Client) -> slotwork.App:
    return slotwork.App(
        reliability_processes.PROCESSES,
        client=client,
        clock=ServerAnchoredClock(),
        lease_ttl=30,
        min_frequency=60,
    )


def prepare_storm(emulator: Emulator, client: firestore.Client) -> list[str]:
    emulator.reset()
    names = item_names(3)
    storm_app(client).register_many(
        PROCESS, [(n, {"int_params": {"sleep_ms": 150}}) for n in names]
    )
    return names


def check_storm(
    mode: str, client: firestore.Client, names: list[str], results: list[tuple[str, float]]
) -> dict[str, Any]:
    outcomes = Counter(outcome for outcome, _ in results)
    assert len(results) == STORM, results
    assert outcomes["claimed"] == 1, f"{mode}: {outcomes}"
    assert set(outcomes) <= {"claimed", "busy", "done"}, f"{mode}: {outcomes}"
    state = process_doc(client, PROCESS)
    assert state["lease"]["epoch"] == 1, "more than one claim was committed"
    assert state["run"]["invocations"] == 1
    assert state["run"]["status"]["state"] == "COMPLETED"
    counts = call_counts(calls(client, PROCESS))
    assert counts == Counter(dict.fromkeys(names, 1)), counts
    losers = [seconds for outcome, seconds in results if outcome != "claimed"]
    assert max(losers) < LOSER_SECONDS, f"{mode}: slow losers {sorted(losers)[-3:]}"
    return {"max_loser": max(losers), "median_loser": statistics.median(losers)}


@pytest.mark.timeout(scale(300, 3600))
def test_claim_storm_threads(emulator: Emulator) -> None:
    client = new_client(emulator)
    apps = [storm_app(new_client(emulator)) for _ in range(STORM)]
    for app in apps:
        app.store.read_process("warmup")  # open every channel before the storm
    for _ in range(STORMS["threads"]):
        names = prepare_storm(emulator, client)
        barrier = threading.Barrier(STORM)

        def tick(app: slotwork.App, barrier: threading.Barrier = barrier) -> tuple[str, float]:
            barrier.wait()
            started = time.monotonic()
            outcome = app.tick(PROCESS).outcome
            return outcome, time.monotonic() - started

        with ThreadPoolExecutor(STORM) as pool:
            results = list(pool.map(tick, apps))
        check_storm("threads", client, names, results)


def storm_child(
    barrier: Any, results: Any, storms: int, host: str, project: str
) -> None:  # pragma: no cover - runs in a spawned process
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    client = firestore.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )
    app = storm_app(client)
    app.store.read_process("warmup")
    for _ in range(storms):
        barrier.wait(timeout=120)
        started = time.monotonic()
        try:
            outcome = app.tick(PROCESS).outcome
        except Exception as err:
            outcome = f"error: {err!r}"
        results.put((outcome, time.monotonic() - started))


@pytest.mark.timeout(scale(300, 3600))
def test_claim_storm_processes(emulator: Emulator) -> None:
    client = new_client(emulator)
    storms = STORMS["processes"]
    ctx = multiprocessing.get_context("forkserver")
    # Children fork from a server that imported slotwork but opened no channel.
    ctx.set_forkserver_preload(["slotwork", "google.cloud.firestore", "reliability_support"])
    barrier = ctx.Barrier(STORM + 1)
    results = ctx.Queue()
    children = [
        ctx.Process(target=storm_child, args=(barrier, results, storms, emulator.host, PROJECT))
        for _ in range(STORM)
    ]
    for child in children:
        child.start()
    try:
        for _ in range(storms):
            names = prepare_storm(emulator, client)
            barrier.wait(timeout=120)  # every child is ready: go
            got = [results.get(timeout=60) for _ in range(STORM)]
            check_storm("processes", client, names, got)
    finally:
        for child in children:
            child.join(timeout=30)
            if child.is_alive():
                child.kill()
    assert all(child.exitcode == 0 for child in children)


@pytest.fixture(scope="module")
def two_servers(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Server, Server]]:
    env = {
        "SLOTWORK_LEASE_SECONDS": "4",
        "SLOTWORK_CHECKPOINT_SECONDS": "1",
        "SLOTWORK_CHECKPOINT_ITEMS": "2",
        "SLOTWORK_DEADLINE_SECONDS": "20",
    }
    logs = tmp_path_factory.mktemp("race-servers")
    first = launch("a", emulator.host, logs, env)
    second = launch("b", emulator.host, logs, env)
    try:
        yield ready(first), ready(second)
    finally:
        stop(first)
        stop(second)


@pytest.mark.timeout(scale(300, 3600))
def test_claim_storm_over_http(emulator: Emulator, two_servers: tuple[Server, Server]) -> None:
    client = new_client(emulator)
    for _ in range(STORMS["http"]):
        names = prepare_storm(emulator, client)
        barrier = threading.Barrier(STORM)

        def tick(n: int, barrier: threading.Barrier = barrier) -> tuple[str, float]:
            server = two_servers[n % 2]
            barrier.wait()
            started = time.monotonic()
            body = server.tick(PROCESS)
            return body["outcome"], time.monotonic() - started

        with ThreadPoolExecutor(STORM) as pool:
            results = list(pool.map(tick, range(STORM)))
        check_storm("http", client, names, results)


# -- fencing -------------------------------------------------------------------------


@pytest.mark.timeout(scale(300, 3600))
def test_frozen_holder_writes_nothing_after_a_takeover(
    emulator: Emulator, two_servers: tuple[Server, Server]
) -> None:
    """SIGSTOP the holder (a GC pause, a frozen VM) past its lease; another instance
    takes over and finishes; SIGCONT: the old holder must stop with ``conflict``
    having written nothing, and must start no further item.
    """
    holder, other = two_servers
    seed, rng = seeded("frozen holder")
    client = new_client(emulator)
    for trial in range(scale(1, 10, "RELIABILITY_FENCING_TRIALS")):
        emulator.reset()
        names = item_names(12)
        storm_app(client).register_many(
            PROCESS, [(n, {"int_params": {"sleep_ms": rng.choice([0, 50, 150])}}) for n in names]
        )
        answer: dict[str, Any] = {}

        def hold(answer: dict[str, Any] = answer) -> None:
            answer["body"] = holder.tick(PROCESS)

        thread = threading.Thread(target=hold, daemon=True)
        thread.start()
        reached = rng.randint(1, 8)
        poll("the holder to work", lambda: len(calls(client, PROCESS)) >= reached, 30)  # noqa: B023
        time.sleep(rng.uniform(0, 0.05))  # a random point in the run
        holder.freeze()
        frozen_at = time.time()
        try:
            lease = process_doc(client, PROCESS)["lease"]

            def takeover() -> dict[str, Any] | None:
                body = other.tick(PROCESS)
                return body if body["outcome"] in ("claimed", "resumed") else None

            taken = poll("the takeover", takeover, 30, interval=0.1)
            taken_at = time.time()
            assert taken["run_state"] == "COMPLETED", taken
            assert taken["epoch"] == lease["epoch"] + 1
            assert taken_at >= lease["expire_time"].timestamp() - 0.5, "took a live lease"
            before = snapshot_collection(client)
        finally:
            holder.thaw()
        thawed_at = time.time()
        thread.join(timeout=60)
        context = f"trial {trial}, RELIABILITY_SEED={seed}, frozen at call {reached}"
        assert answer["body"]["outcome"] == "conflict", (context, answer)
        assert answer["body"]["epoch"] == lease["epoch"]
        after = snapshot_collection(client)
        assert after == before, f"{context}: the stale holder wrote after the takeover"
        holder_calls = [c for c in calls(client, PROCESS) if c["server"] == holder.server_id]
        late = [
            (c["item"], round(c["time"] - frozen_at, 3), round(c["time"] - thawed_at, 3))
            for c in holder_calls
            if c["time"] >= frozen_at
        ]
        # At most the one item it had already decided to start: nothing closes the
        # instant between the last lease check and the worker call (a renewal that
        # returns too late is test_a_renewal_that_returns_after_the_lease_expired...).
        assert len(late) <= 1, f"{context}: started after freezing: {late}"
        assert thawed_at > frozen_at
        lost = [
            n for n in names if read_items(client, PROCESS)[n]["status"]["state"] != "COMPLETED"
        ]
        assert not lost
        warnings = [
            e
            for e in holder.logs()
            if e.get("message", "").startswith("lease lost") and e.get("epoch") == lease["epoch"]
        ]
        assert warnings, "the fenced holder did not log its conflict"


# -- clock skew ------------------------------------------------------------------------


skewed_app = functools.partial(make_app, process="sync")


class Sleepy(RecordingWorker):
    """Records and takes real time per item."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        super().process(ctx, item)
        time.sleep(self.seconds)


ANCHORED_LEASE = 2.5  # seconds: far below the hours between the base clocks


def anchored_pair(
    emulator: Emulator,
    holder_offset: int,
    holder_worker: RecordingWorker,
    other_worker: RecordingWorker,
    **holder_options: Any,
) -> tuple[slotwork.App, slotwork.App]:
    """A holder and a contender on a reset emulator, their base clocks off the true
    time by ``holder_offset`` and ``-holder_offset`` hours, both anchored on Firestore.
    """
    emulator.reset()
    options: dict[str, Any] = {
        "lease_ttl": ANCHORED_LEASE,
        "checkpoint_seconds": 0.5,
        "min_frequency": 3600,
        "deadline": 10,
    }

    def app(worker: RecordingWorker, hours: int, prefix: str, **extra: Any) -> slotwork.App:
        clock = ServerAnchoredClock(lambda: system_clock() + timedelta(hours=hours))
        return skewed_app(new_client(emulator), worker, clock, prefix, **options, **extra)

    return (
        app(holder_worker, holder_offset, "holder", **holder_options),
        app(other_worker, -holder_offset, "other"),
    )


@pytest.mark.parametrize(
    "holder_offset",
    [pytest.param(-2, id="holder-behind"), pytest.param(2, id="holder-ahead", marks=long_only)],
)
def test_anchored_clocks_skewed_by_hours_never_share_a_slot(
    emulator: Emulator, holder_offset: int
) -> None:
    """Base clocks 4 h apart (far beyond the 2.5 s lease): a run longer than the lease
    renews it at its checkpoints; the other instance, ticking all along, is busy
    throughout, then finds the slot done.
    """
    lease = ANCHORED_LEASE
    worker = Sleepy(0.3)
    other_worker = RecordingWorker()
    holder, other = anchored_pair(emulator, holder_offset, worker, other_worker)
    names = item_names(14)
    holder.register_many("sync", [(n, None) for n in names])
    stop_flag = threading.Event()
    seen: list[str] = []

    def contend() -> None:
        while not stop_flag.is_set():
            seen.append(other.tick("sync").outcome)
            stop_flag.wait(0.05)

    thread = threading.Thread(target=contend, daemon=True)
    # The other instance starts ticking once the holder has claimed, and keeps at it.
    worker.on_process = lambda ctx, item: None if thread.is_alive() else thread.start()
    started = time.monotonic()
    result = holder.tick("sync")
    took = time.monotonic() - started
    stop_flag.set()
    thread.join(timeout=30)
    assert took > 1.5 * lease, "the run must outlive one lease for this test to mean anything"
    assert result.outcome == "claimed" and result.run_state == "COMPLETED", result
    assert sorted(worker.processed) == names and other_worker.processed == []
    assert seen and set(seen) <= {"busy", "done"}, Counter(seen)
    assert other.tick("sync").outcome == "done"
    assert process_doc(new_client(emulator), "sync")["lease"]["epoch"] == 1


class Crash(BaseException):
    """The instance dies (not an Exception: slotwork must let it through)."""


@pytest.mark.parametrize(
    "holder_offset",
    [pytest.param(-2, id="holder-behind"), pytest.param(2, id="holder-ahead", marks=long_only)],
)
def test_anchored_clocks_skewed_by_hours_recover_a_dead_holder_in_one_lease(
    emulator: Emulator, holder_offset: int
) -> None:
    """The holder dies; the other instance, its base clock hours away, neither steals
    the live lease nor waits hours for it: it takes over within a lease.
    """
    lease = ANCHORED_LEASE

    def die_at_5(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0005":
            raise Crash()

    other_worker = RecordingWorker()
    holder, other = anchored_pair(
        emulator,
        holder_offset,
        RecordingWorker(on_process=die_at_5),
        other_worker,
        checkpoint_items=2,
    )
    names = item_names(10)
    holder.register_many("sync", [(n, None) for n in names])
    with pytest.raises(Crash):
        holder.tick("sync")
    died = time.monotonic()
    expiry = process_doc(new_client(emulator), "sync")["lease"]["expire_time"]
    at_crash = read_items(new_client(emulator), "sync", collection="slotwork")
    pending = [n for n in names if at_crash[n]["status"]["state"] != "COMPLETED"]
    assert "item-0005" in pending and "item-0000" not in pending
    outcomes: list[str] = []

    def claim() -> bool:
        outcome = other.tick("sync").outcome
        outcomes.append(outcome)
        return outcome == "resumed"

    poll("the takeover", claim, lease + 5, interval=0.05)
    waited = time.monotonic() - died
    assert outcomes[0] == "busy", "the live lease was stolen at once"
    assert waited <= lease + 1.5, f"took {waited:.1f} s to take over a {lease} s lease"
    assert expiry.timestamp() - 1 < time.time()
    assert sorted(other_worker.processed) == pending  # only what was not checkpointed
    assert process_doc(new_client(emulator), "sync")["run"]["status"]["state"] == "COMPLETED"


class SkewedClock:
    """A raw (unanchored) clock: a shared fake base plus a fixed skew."""

    def __init__(self, base: FakeClock, skew: timedelta) -> None:
        self.base = base
        self.skew = skew

    def __call__(self) -> datetime:
        return self.base() + self.skew


LEASE = 60  # seconds, of the fake clock
CHECKPOINT = 5  # seconds between checkpoints
ITEM = timedelta(seconds=2)  # every item takes this long
MARGIN = LEASE - CHECKPOINT - 2 * ITEM.total_seconds()  # the tolerated skew, with room


def raw_skew_run(
    client: firestore.Client, emulator: Emulator, skew: timedelta
) -> tuple[slotwork.TickResult, list[str], RecordingWorker, RecordingWorker, slotwork.App]:
    base = FakeClock()
    other_worker = RecordingWorker()
    other = skewed_app(
        new_client(emulator),
        other_worker,
        SkewedClock(base, skew),
        "other",
        lease_ttl=LEASE,
        checkpoint_seconds=CHECKPOINT,
    )
    seen: list[str] = []

    def work_and_contend(ctx: slotwork.Context, item: slotwork.Item) -> None:
        base.advance(ITEM)
        if not other_worker.processed:
            seen.append(other.tick("sync").outcome)

    holder_worker = RecordingWorker(on_process=work_and_contend)
    holder = skewed_app(
        client,
        holder_worker,
        SkewedClock(base, timedelta(0)),
        "holder",
        lease_ttl=LEASE,
        checkpoint_seconds=CHECKPOINT,
    )
    holder.register_many("sync", [(n, None) for n in item_names(80)])
    result = holder.tick("sync")
    return result, seen, holder_worker, other_worker, other


@pytest.mark.parametrize("sign", [1, -1], ids=["contender-ahead", "contender-behind"])
def test_raw_clock_skew_within_the_lease_margin_never_steals(
    client: firestore.Client, emulator: Emulator, sign: int
) -> None:
    skew = timedelta(seconds=sign * MARGIN)
    result, seen, holder_worker, other_worker, _ = raw_skew_run(client, emulator, skew)
    assert result.outcome == "claimed" and result.run_state == "COMPLETED"
    assert len(seen) == 80 and set(seen) == {"busy"}, Counter(seen)
    assert other_worker.processed == []
    assert sorted(holder_worker.processed) == item_names(80)


def test_raw_clock_skew_beyond_the_lease_steals_but_fencing_keeps_state_right(
    client: firestore.Client, emulator: Emulator
) -> None:
    """The documented limit: a contender ahead by more than the lease takes over a
    live holder. The holder is fenced (``conflict``, nothing written after the
    takeover); only its uncheckpointed items are processed twice.
    """
    skew = timedelta(seconds=LEASE + 1)
    result, seen, holder_worker, other_worker, other = raw_skew_run(client, emulator, skew)
    assert "resumed" in seen, Counter(seen)
    assert result.outcome == "conflict"
    state = other.get_process("sync")
    assert state.run.status.state == Status.COMPLETED and state.lease.holder.startswith("other")
    done = {n for n in item_names(80) if other.get_work("sync", n).state == "completed"}
    assert done == set(item_names(80))
    twice = set(holder_worker.processed) & set(other_worker.processed)
    # The takeover happened inside the holder's call on the item it was working on:
    # the items since its last checkpoint (at most one interval) were redone.
    assert 0 < len(twice) <= CHECKPOINT / ITEM.total_seconds() + 1, sorted(twice)
    assert holder_worker.processed[-1] in twice


def test_raw_clock_behind_waits_longer_but_recovers(
    client: firestore.Client, emulator: Emulator
) -> None:
    """A contender behind by less than the margin waits the lease plus its skew
    for a dead holder: recovery is late by the skew, never stuck.
    """
    base = FakeClock()
    skew = timedelta(seconds=-MARGIN)

    def die(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0003":
            raise Crash()

    holder = skewed_app(
        client,
        RecordingWorker(on_process=die),
        SkewedClock(base, timedelta(0)),
        "holder",
        lease_ttl=LEASE,
        checkpoint_items=2,
    )
    other_worker = RecordingWorker()
    other = skewed_app(
        new_client(emulator), other_worker, SkewedClock(base, skew), "other", lease_ttl=LEASE
    )
    holder.register_many("sync", [(n, None) for n in item_names(6)])
    with pytest.raises(Crash):
        holder.tick("sync")
    base.advance(timedelta(seconds=LEASE + 1))
    assert other.tick("sync").outcome == "busy"  # expired by the true clock, live by its own
    base.advance(-skew)
    assert other.tick("sync").outcome == "resumed"
    assert other_worker.processed == item_names(6)[2:]
