"""Items in flight at once inside one tick (``concurrency``), on the real emulator."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from datetime import timedelta

import pytest
from google.cloud import firestore

import slotwork
from slotwork.schema import Status

from helpers import FakeClock, RecordingWorker, make_app


def names(n: int) -> list[str]:
    return [f"item-{i:04d}" for i in range(n)]


class Overlap:
    """Counts how many calls run at once; each waits until ``width`` are in flight
    (or a short timeout), so a pool that really runs N at once shows N."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.lock = threading.Lock()
        self.running = 0
        self.widest = 0
        self.calls: Counter[str] = Counter()
        self.full = threading.Event()

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        with self.lock:
            self.calls[item.name] += 1
            self.running += 1
            self.widest = max(self.widest, self.running)
            if self.running >= self.width:
                self.full.set()
        self.full.wait(timeout=2)
        ctx.add_stat("calls")
        with self.lock:
            self.running -= 1

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


def test_a_tick_keeps_its_concurrency_of_items_in_flight(client: firestore.Client) -> None:
    worker = Overlap(width=8)
    app = make_app(client, worker, FakeClock(), definition={"concurrency": 8})
    app.register_many("sweep", [(n, None) for n in names(64)])
    result = app.tick("sweep")
    assert (result.outcome, result.run_state, result.processed) == ("claimed", "COMPLETED", 64)
    assert worker.widest == 8
    assert worker.calls == Counter(dict.fromkeys(names(64), 1))
    state = app.get_process("sweep")
    assert state.run.status.stats["workItems"] == 64
    assert state.run.status.stats["work.calls"] == 64
    assert {w.state for w in app.list_work("sweep", page_size=100).items} == {"completed"}


def test_a_checkpoint_commits_finished_items_only(client: firestore.Client) -> None:
    """Item 0 blocks in flight while later items finish and a checkpoint is due: the
    checkpoint holds the finished ones, not item 0 (still queued in the store)."""
    release = threading.Event()
    seen_at_checkpoint: dict[str, str] = {}
    holder: list[slotwork.App] = []

    def steer(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0000":
            release.wait(timeout=10)
        elif item.name == "item-0005":
            app = holder[0]
            # Items 1-4 are finished and checkpointed by now (one item per checkpoint).
            first = app.get_work("sweep", "item-0000").state
            second = app.get_work("sweep", "item-0001").state
            seen_at_checkpoint.update({"blocked": first, "finished": second})
            release.set()

    app = make_app(
        client,
        RecordingWorker(on_process=steer),
        FakeClock(),
        checkpoint_items=1,
        definition={"concurrency": 2},
    )
    holder.append(app)
    app.register_many("sweep", [(n, None) for n in names(8)])
    result = app.tick("sweep")
    assert result.run_state == "COMPLETED" and result.processed == 8
    assert seen_at_checkpoint == {"blocked": "queued", "finished": "completed"}


def test_the_run_budget_is_exact_under_concurrency(client: firestore.Client) -> None:
    """Every item fails: the 26th error aborts the run; nothing is dispatched after
    it, and the items in flight then are finished and recorded."""
    worker = RecordingWorker(fail={n: 1 for n in names(200)})
    app = make_app(client, worker, FakeClock(), definition={"concurrency": 8})
    app.register_many("sweep", [(n, None) for n in names(200)])
    result = app.tick("sweep")
    assert result.outcome == "aborted" and result.run_state == "ABORTED"
    called = len(worker.processed)
    assert 26 <= called <= 26 + 7, called  # the 26th, and at most the others in flight
    state = app.get_process("sweep")
    assert state.run.status.state == Status.ABORTED
    assert state.run.status.stats["workItems"] == called  # every call recorded
    recorded = app.list_work("sweep", page_size=1000, state="incomplete").items
    assert sorted(w.id for w in recorded) == sorted(worker.processed)
    assert state.run.items_left == 200 - called


def test_items_in_flight_at_the_deadline_finish_and_are_handed_over(
    client: firestore.Client,
) -> None:
    clock = FakeClock(step=timedelta(milliseconds=100))
    worker = Overlap(width=4)
    app = make_app(client, worker, clock, deadline=20, definition={"concurrency": 4})
    app.register_many("sweep", [(n, None) for n in names(200)])
    first = app.tick("sweep")
    assert first.run_state == "ACTIVE" and 0 < first.processed < 200
    done = {w.id for w in app.list_work("sweep", page_size=1000, state="completed").items}
    assert len(done) == first.processed == sum(worker.calls.values())
    while app.tick("sweep").run_state != "COMPLETED":
        pass
    assert worker.calls == Counter(dict.fromkeys(names(200), 1))


class AsyncWorker:
    """An ``async def`` worker: the calls overlap on one event loop."""

    def __init__(self) -> None:
        self.running = 0
        self.widest = 0
        self.calls: list[str] = []

    async def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        self.running += 1
        self.widest = max(self.widest, self.running)
        await asyncio.sleep(0.02)
        self.calls.append(item.name)
        ctx.add_stat("calls")
        self.running -= 1

    async def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


def test_async_workers_run_on_an_event_loop_with_the_same_bound(
    client: firestore.Client,
) -> None:
    worker = AsyncWorker()
    app = make_app(client, worker, FakeClock(), definition={"concurrency": 10})
    app.register_many("sweep", [(n, None) for n in names(60)])
    result = app.tick("sweep")
    assert result.run_state == "COMPLETED" and result.processed == 60
    assert sorted(worker.calls) == names(60)
    assert 1 < worker.widest <= 10


def test_a_process_must_be_async_in_both_methods_or_neither() -> None:
    class Mixed:
        async def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
            return None

        def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
            return None

    with pytest.raises(TypeError, match="both be async"):
        slotwork.Process("mixed", Mixed(), frequency=timedelta(hours=1))


@pytest.mark.parametrize("bad", [0, -1, 1001, 1.5, True])
def test_concurrency_out_of_range_is_refused(bad: object) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        slotwork.Process("p", RecordingWorker(), timedelta(hours=1), concurrency=bad)  # type: ignore[arg-type]


def test_a_worker_base_exception_on_a_pool_thread_ends_the_invocation(
    client: firestore.Client,
) -> None:
    def exit_on_3(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0003":
            raise SystemExit(3)

    app = make_app(
        client, RecordingWorker(on_process=exit_on_3), FakeClock(), definition={"concurrency": 4}
    )
    app.register_many("sweep", [(n, None) for n in names(10)])
    with pytest.raises(SystemExit):
        app.tick("sweep")
