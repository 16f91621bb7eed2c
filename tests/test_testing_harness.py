"""``slotwork.testing.Harness``: every injected fault, on the memory store and on
the real emulator, with the same calls and the same final states on both."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta

import pytest

import slotwork
from slotwork.store.firestore import FirestoreStore
from slotwork.testing import Harness, MemoryStore, SlotReport
from slotwork_local.emulator import Emulator

from conftest import new_client
from helpers import HOUR, RecordingWorker

NAMES = [f"acct-{n}" for n in range(6)]
Scenario = Callable[[Harness], None]


def process(worker: object | None = None, **options: object) -> slotwork.Process:
    return slotwork.Process("rotate", worker or RecordingWorker(), HOUR, **options)  # type: ignore[arg-type]


def run(store: object, scenario: Scenario, **options: object) -> SlotReport:
    """A harness over ``store`` with the six items; ``scenario`` sets its faults;
    ``worker`` makes the worker (a fresh one per store)."""
    make = options.pop("worker", RecordingWorker)
    definition = options.pop("definition", {})
    h = Harness(process(make(), **definition), store=store, checkpoint_items=2, **options)  # type: ignore[arg-type,operator]
    h.register_many("rotate", NAMES)
    scenario(h)
    return h.run_slot("rotate")


def summary(report: SlotReport) -> dict[str, tuple[int, str]]:
    return {name: (item.calls, item.state) for name, item in sorted(report.items.items())}


def on_both(emulator: Emulator, scenario: Scenario, **options: object) -> SlotReport:
    """Run ``scenario`` on the memory store and on Firestore; they must agree."""
    emulator.reset()
    firestore = FirestoreStore(new_client(emulator), "slotwork")
    in_memory = run(MemoryStore(), scenario, **options)
    on_firestore = run(firestore, scenario, **options)
    assert summary(in_memory) == summary(on_firestore)
    assert in_memory.outcomes == on_firestore.outcomes
    assert in_memory.run_state == on_firestore.run_state
    return in_memory


def test_a_plain_slot_processes_every_item_once(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: None)
    assert report.outcomes == ["claimed", "done"]
    assert summary(report) == {n: (1, "completed") for n in NAMES}
    assert report.items["acct-0"].stats == {"calls": 1.0}


def test_a_crash_redoes_the_items_since_the_last_checkpoint(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: h.crash(at_item="acct-3"))
    assert report.outcomes[:2] == ["crashed", "resumed"]
    # Checkpoints every 2 items: 0-1 landed, 2 did not, 3 crashed before its call.
    calls = {n: item.calls for n, item in report.items.items()}
    assert calls == {"acct-0": 1, "acct-1": 1, "acct-2": 2, "acct-3": 2, "acct-4": 1, "acct-5": 1}
    assert report.run_state == "COMPLETED"


def test_a_lost_lease_stops_the_tick_and_the_new_holder_finishes(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: h.lose_lease(at_call=4))
    assert report.outcomes[0] == "conflict"
    assert {item.state for item in report.items.values()} == {"completed"}
    assert report.process.shards[0].lease.epoch == 3  # the tick, the takeover, the next tick


def test_a_deadline_after_an_item_hands_over(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: h.deadline_after(at_call=2))
    first = report.ticks[0]
    assert (first.outcome, first.run_state, first.processed) == ("claimed", "ACTIVE", 2)
    assert summary(report) == {n: (1, "completed") for n in NAMES}


def test_slow_items_meet_the_deadline_at_their_time(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: None, deadline=30, item_duration=timedelta(seconds=9))
    # Each tick keeps twice its slowest item in hand: two 9 s items fit in 30 s, a third
    # would not; the fourth tick finds nothing left and closes the run.
    assert [t.processed for t in report.ticks if t.outcome != "done"] == [2, 2, 2, 0]


def test_a_register_during_the_run_is_worked_in_the_slot(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: h.register_during("late", at_item="acct-2"))
    assert report.items["late"].state == "completed" and report.items["late"].calls == 1


def test_an_unregister_during_the_run_is_cleaned(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: h.unregister_during("acct-5", at_item="acct-1"))
    assert report.items["acct-5"].state == "dropped"
    # The running tick had read it as active: its call's write is dropped, and the
    # cleanup runs in the slot's next run.
    assert report.items["acct-5"].calls == 1 and report.items["acct-5"].cleanups == 1


def test_retries_and_quarantine_show_in_the_report(emulator: Emulator) -> None:
    retry = slotwork.Retry(attempts=2, initial=timedelta(seconds=1))
    report = on_both(
        emulator,
        lambda h: None,
        worker=lambda: RecordingWorker(fail={"acct-1": 1, "acct-2": 9}),
        definition={"retry": retry, "quarantine_after": 1},
    )
    assert report.items["acct-1"].calls == 2 and report.items["acct-1"].state == "completed"
    assert report.items["acct-2"].state == "quarantined"
    assert "boom on acct-2" in report.items["acct-2"].errors[-1]


def test_a_sharded_process_runs_each_shard(emulator: Emulator) -> None:
    report = on_both(emulator, lambda h: None, definition={"shards": 3})
    assert summary(report) == {n: (1, "completed") for n in NAMES}
    assert len(report.process.shards) == 3


class AsyncRotation:
    async def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        await asyncio.sleep(0)
        ctx.add_stat("rotated")

    async def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


def test_async_workers_run_in_the_harness() -> None:
    h = Harness(process(AsyncRotation(), concurrency=4))
    h.register_many("rotate", NAMES)
    report = h.run_slot("rotate")
    assert {item.stats.get("rotated") for item in report.items.values()} == {1.0}


def test_a_fault_needs_one_place_to_fire() -> None:
    h = Harness(process())
    with pytest.raises(ValueError, match="at_call or at_item"):
        h.crash()


def test_the_pytest_fixture_builds_a_harness(
    slotwork_harness: Callable[..., Harness],
) -> None:
    h = slotwork_harness(process())
    h.register("rotate", "acct-1")
    assert h.run_slot("rotate").items["acct-1"].state == "completed"


def test_harnesses_sharing_a_store_share_its_state() -> None:
    store = MemoryStore()
    first = Harness(process(), store=store)
    first.register("rotate", "acct-1")
    second = Harness(process(), store=store)
    assert second.tick("rotate").processed == 1
    assert first.tick("rotate").outcome == "done"
