"""The serverless rules of a tick (DESIGN.md): races, deadlines, crashes, fencing,
concurrent changes, and the cost of an idle tick. Real emulator throughout.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import grpc
import pytest
from faults import StreamFault, stream_fault_client
from google.cloud import firestore

import slotwork
from slotwork.buckets import shard_range
from slotwork.schema import Status
from slotwork.store import StreamCut
from slotwork_local.emulator import Emulator
from slotwork_local.rpccount import counting_client

from conftest import PROJECT, new_client
from helpers import HOUR, START, FakeClock, RecordingTrigger, RecordingWorker, make_app


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so slotwork must not catch it."""


def names(n: int) -> list[str]:
    return [f"item-{i:04d}" for i in range(n)]


def test_racing_ticks_exactly_one_claims(client: firestore.Client, emulator: Emulator) -> None:
    clock = FakeClock()
    make_app(client, RecordingWorker(), clock).register("sweep", "a")
    workers = [RecordingWorker() for _ in range(8)]
    apps = [make_app(new_client(emulator), w, clock, prefix=f"i{i}") for i, w in enumerate(workers)]
    barrier = threading.Barrier(len(apps))
    outcomes: list[str] = []

    def tick(app: slotwork.App) -> None:
        barrier.wait()
        outcomes.append(app.tick("sweep").outcome)

    threads = [threading.Thread(target=tick, args=(a,)) for a in apps]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes).count("claimed") == 1
    assert set(outcomes) <= {"claimed", "busy", "done"}
    assert sum(len(w.processed) for w in workers) == 1


def test_deadline_stops_the_tick_and_the_next_resumes_without_repeats(
    client: firestore.Client,
) -> None:
    # Every clock read moves time by 50 ms: a 2 s deadline ends the tick part way.
    clock = FakeClock(step=timedelta(milliseconds=50))
    worker = RecordingWorker()
    trigger = RecordingTrigger()
    app = make_app(
        client, worker, clock, deadline=2, lease_ttl=30, trigger=trigger, checkpoint_seconds=1
    )
    app.register_many("sweep", [(n, None) for n in names(60)])
    first = app.tick("sweep")
    assert first.outcome == "claimed"
    assert 0 < first.processed < 60
    assert first.continuation and trigger.requested == ["sweep"]
    assert first.left == 60 - first.processed
    state = app.get_process("sweep")
    assert state.run.status.state == Status.ACTIVE and state.run.items_left == first.left
    outcomes = []
    for _ in range(30):
        result = app.tick("sweep")
        outcomes.append(result.outcome)
        if result.run_state == "COMPLETED":
            break
    assert set(outcomes) == {"resumed"}
    assert sorted(worker.processed) == names(60)  # each item exactly once
    state = app.get_process("sweep")
    assert state.run.status.state == Status.COMPLETED
    assert state.run.invocations == 1 + len(outcomes)
    assert state.run.status.stats["workItems"] == 60


def test_crashed_holder_is_taken_over_after_its_lease_expires(client: firestore.Client) -> None:
    clock = FakeClock()
    crashing = RecordingWorker()

    def crash_on_item_7(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0007":
            raise Crash()

    crashing.on_process = crash_on_item_7
    lease = 60
    app = make_app(client, crashing, clock, lease_ttl=lease, checkpoint_items=5)
    app.register_many("sweep", [(n, None) for n in names(12)])
    with pytest.raises(Crash):
        app.tick("sweep")
    survivor = RecordingWorker()
    app2 = make_app(client, survivor, clock, prefix="next", lease_ttl=lease)
    assert app2.tick("sweep").outcome == "busy"  # the dead holder's lease is still live
    clock.advance(timedelta(seconds=lease + 1))
    result = app2.tick("sweep")
    assert result.outcome == "resumed"
    # Items 0-4 were checkpointed before the crash; 5-7 were not and run again.
    assert survivor.processed == names(12)[5:]
    assert app2.get_process("sweep").run.status.state == Status.COMPLETED
    assert app2.get_process("sweep").lease.epoch == 2


def test_stale_holder_writes_nothing_after_a_takeover(
    client: firestore.Client, emulator: Emulator
) -> None:
    clock_a = FakeClock()
    clock_b = FakeClock()
    worker_b = RecordingWorker()
    app_b = make_app(new_client(emulator), worker_b, clock_b, prefix="b", lease_ttl=30)
    seen_after_takeover: dict[str, object] = {}

    def take_over_at_item_3(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0003" and not seen_after_takeover:
            clock_b.advance(timedelta(seconds=31))  # A's lease is expired for B
            seen_after_takeover["result"] = app_b.tick("sweep")

    worker_a = RecordingWorker(on_process=take_over_at_item_3)
    app_a = make_app(client, worker_a, clock_a, prefix="a", lease_ttl=30, checkpoint_items=2)
    app_a.register_many("sweep", [(n, None) for n in names(8)])
    result_a = app_a.tick("sweep")
    taken = seen_after_takeover["result"]
    assert isinstance(taken, slotwork.TickResult) and taken.outcome == "resumed"
    assert result_a.outcome == "conflict"
    state = app_b.get_process("sweep")
    assert state.lease.epoch == 2 and state.lease.holder == "b-1"
    assert state.run.status.state == Status.COMPLETED
    # A processed items 2-3 after its last checkpoint; none of A's writes landed after B's.
    for name in names(8):
        work = app_b.get_work("sweep", name)
        assert work.state == "completed"
        if name >= "item-0002":
            assert work.details.status.stats["calls"] == 1
    assert worker_a.processed == names(4)


def test_register_and_unregister_during_a_run_are_not_undone(client: firestore.Client) -> None:
    clock = FakeClock()
    app_holder: list[slotwork.App] = []

    def meddle(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0002":
            app = app_holder[0]
            app.register("sweep", "item-0000", {"string_params": {"v": "2"}})
            app.unregister("sweep", "item-0004")

    worker = RecordingWorker(on_process=meddle)
    app = make_app(client, worker, clock, checkpoint_items=400)
    app_holder.append(app)
    app.register_many("sweep", [(n, None) for n in names(6)])
    first = app.tick("sweep")
    assert first.outcome == "claimed"
    # item-0000's new params stand (queued again), item-0004 went to cleanup.
    assert app.get_work("sweep", "item-0000").details.params.string_params["v"] == "2"
    assert app.get_work("sweep", "item-0004").state in ("cleanup", "dropped")
    # The changes reopened the slot: the next tick finishes what they asked.
    second = app.tick("sweep")
    assert second.outcome == "claimed"
    assert app.get_work("sweep", "item-0000").state == "completed"
    assert app.get_work("sweep", "item-0004").state == "dropped"
    assert worker.processed.count("item-0000") == 2
    assert "item-0004" in worker.cleaned


def test_settings_changed_mid_run_reach_later_items(client: firestore.Client) -> None:
    clock = FakeClock()
    seen: dict[str, str] = {}
    holder: list[slotwork.App] = []

    def record(ctx: slotwork.Context, item: slotwork.Item) -> None:
        seen[item.name] = ctx.settings.string_params.get("mode", "")
        if item.name == "item-0001":
            holder[0].update_settings("sweep", settings={"string_params": {"mode": "new"}})

    app = make_app(client, RecordingWorker(on_process=record), clock, checkpoint_items=1)
    holder.append(app)
    app.update_settings("sweep", settings={"string_params": {"mode": "old"}})
    app.register_many("sweep", [(n, None) for n in names(5)])
    app.tick("sweep")
    assert seen["item-0000"] == "old"
    assert seen["item-0004"] == "new"
    assert app.get_process("sweep").settings.string_params["mode"] == "new"


def test_pause_during_a_run_stops_it_at_the_next_checkpoint(client: firestore.Client) -> None:
    clock = FakeClock()
    holder: list[slotwork.App] = []

    def pause_at_2(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0002":
            holder[0].pause("sweep")

    worker = RecordingWorker(on_process=pause_at_2)
    app = make_app(client, worker, clock, checkpoint_items=1)
    holder.append(app)
    app.register_many("sweep", [(n, None) for n in names(10)])
    result = app.tick("sweep")
    assert result.processed == 3 and not result.continuation
    assert app.tick("sweep").outcome == "paused"
    app.resume("sweep")
    assert app.tick("sweep").outcome == "resumed"
    assert sorted(worker.processed) == names(10)


def test_idle_tick_costs_one_read_and_no_write(
    client: firestore.Client, emulator: Emulator
) -> None:
    clock = FakeClock()
    counted, counts = counting_client(PROJECT, emulator.host)
    app = make_app(counted, RecordingWorker(), clock)
    app.register_many("sweep", [(n, None) for n in names(3)])
    assert app.tick("sweep").outcome == "claimed"
    counts.reset()
    assert app.tick("sweep").outcome == "done"
    snapshot = counts.snapshot()
    assert snapshot["reads"] == 1 and snapshot["writes"] == 0
    assert snapshot["rpcs"] == {"BatchGetDocuments": 1}


def test_a_new_slot_after_downtime_records_missed_slots_without_replay(
    client: firestore.Client,
) -> None:
    clock = FakeClock()
    worker = RecordingWorker()
    app = make_app(client, worker, clock)
    app.register("sweep", "a")
    app.tick("sweep")
    clock.advance(6 * HOUR)  # five slots pass with no tick at all
    result = app.tick("sweep")
    assert result.outcome == "claimed"
    assert worker.processed == ["a", "a"]  # once for the new slot, never per missed slot
    run = app.get_process("sweep").run
    assert run.missed_slot_count == 5 and len(run.missed_slots) == 5


def test_unfinished_run_is_closed_incomplete_when_its_slot_ends(client: firestore.Client) -> None:
    clock = FakeClock(step=timedelta(milliseconds=50))
    app = make_app(client, RecordingWorker(), clock, deadline=1, lease_ttl=30)
    app.register_many("sweep", [(n, None) for n in names(40)])
    first = app.tick("sweep")
    assert first.left > 0
    clock.advance(HOUR)
    assert app.tick("sweep").outcome == "claimed"
    runs, _ = app.list_runs("sweep")
    closed = [r for r in runs if r.run.status.state == Status.INCOMPLETE]
    assert len(closed) == 1 and closed[0].run.items_left == first.left
    assert app.get_process("sweep").aggregate_stats["state.incomplete"] == 1


def test_a_pending_stream_cut_at_the_deadline_hands_over(
    client: firestore.Client, emulator: Emulator
) -> None:
    """Firestore stalls the pending-items stream until past the tick's deadline,
    then ends it with DEADLINE_EXCEEDED: the tick keeps what it did, releases,
    asks for a continuation, and the next tick finishes without repeats.
    """
    clock = FakeClock()
    # The stall: when the stream is cut, a minute has passed on a 30 s deadline.
    fault = StreamFault(after=7, on_cut=lambda: clock.advance(timedelta(minutes=1)))
    worker = RecordingWorker()
    trigger = RecordingTrigger()
    options: dict[str, object] = {"deadline": 30, "lease_ttl": 120, "trigger": trigger}
    make_app(client, worker, clock).register_many("sweep", [(n, None) for n in names(20)])
    stalled = make_app(stream_fault_client(PROJECT, emulator.host, fault), worker, clock, **options)
    first = stalled.tick("sweep")
    assert fault.cuts == 1
    assert (first.outcome, first.run_state, first.processed) == ("claimed", "ACTIVE", 7)
    assert first.continuation and trigger.requested == ["sweep"]
    assert first.left == 13  # the 20 counted when the run began, less the 7 done
    done = stalled.list_work("sweep", state="completed").items
    assert [w.id for w in done] == names(7)  # checkpointed by the hand-over
    nxt = make_app(client, worker, clock, prefix="next", **options).tick("sweep")
    assert (nxt.outcome, nxt.run_state, nxt.processed) == ("resumed", "COMPLETED", 13)
    assert sorted(worker.processed) == names(20)  # each item exactly once


def test_a_pending_stream_broken_mid_tick_resumes_after_the_last_item(
    client: firestore.Client, emulator: Emulator
) -> None:
    fault = StreamFault(after=5, status=grpc.StatusCode.UNAVAILABLE)
    worker = RecordingWorker()
    clock = FakeClock()
    make_app(client, worker, clock).register_many("sweep", [(n, None) for n in names(12)])
    result = make_app(stream_fault_client(PROJECT, emulator.host, fault), worker, clock).tick(
        "sweep"
    )
    assert fault.cuts == 1
    assert (result.run_state, result.processed) == ("COMPLETED", 12)
    assert worker.processed == names(12)  # in order, each once


def test_a_pending_stream_is_not_opened_without_time_left(client: firestore.Client) -> None:
    app = make_app(client, RecordingWorker(), FakeClock())
    app.register("sweep", "a")
    slot = START + HOUR
    whole = shard_range(0, 1)
    with pytest.raises(StreamCut):
        next(app.store.pending("sweep", slot, whole, lambda: None))
    assert [s.name for s in app.store.pending("sweep", slot, whole, lambda: 10.0)] == ["a"]
