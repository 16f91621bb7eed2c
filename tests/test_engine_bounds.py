"""State stays bounded whatever a worker or an operator does (issue 12 §3, §6):
stat names, error texts, missed slots, frequency changes; on the real emulator."""

from __future__ import annotations

import time
from datetime import timedelta

from google.cloud import firestore

import slotwork
from benchmarks.docsize import LIMIT, document_size
from slotwork.context import MAX_AGGREGATE_STATS, MAX_ITEM_STATS, MAX_RUN_STATS
from slotwork.schema.documents import ts_to_datetime
from slotwork_local.rpccount import counting_client

from conftest import PROJECT
from helpers import HOUR, START, FakeClock, RecordingWorker, make_app


def every_document(client: firestore.Client) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}

    def walk(collection: firestore.CollectionReference) -> None:
        for ref in collection.list_documents():
            snap = ref.get()
            if snap.exists:
                found[ref.path] = snap.to_dict() or {}
            for sub in ref.collections():
                walk(sub)

    walk(client.collection("slotwork"))
    return found


def test_no_document_passes_1_mib_whatever_a_worker_does(client: firestore.Client) -> None:
    """A worker adds thousands of distinct long stat names, run stats and the longest
    errors on every item: the bounds drop what is past them, once noted, and every
    stored document stays far below the limit."""

    def hostile(ctx: slotwork.Context, item: slotwork.Item) -> None:
        for n in range(300):
            ctx.add_stat(f"seen.{item.name[:8]}.{n}." + "x" * 200)  # keys of 256 bytes at most
            ctx.add_run_stat(f"run.{item.name[:8]}.{n}." + "y" * 200)
        if item.name.startswith("item-000"):
            for _ in range(30):
                ctx.add_error("e" * 5000)

    clock = FakeClock()
    budget = slotwork.ErrorBudget(per_item=1000, per_run=100_000)
    app = make_app(
        client, RecordingWorker(on_process=hostile), clock, definition={"error_budget": budget}
    )
    app.register_many("sweep", [(f"item-{n:03d}" + "n" * 1400, None) for n in range(20)])
    for _ in range(3):  # three slots: the aggregate grows with each
        assert app.tick("sweep").run_state in ("COMPLETED", "INCOMPLETE")
        clock.advance(HOUR)
    state = app.get_process("sweep")
    assert len(state.run.status.stats) <= MAX_RUN_STATS
    assert len(state.aggregate_stats) <= MAX_AGGREGATE_STATS
    texts = [e.text for e in state.run.status.errors]
    assert any("stat names" in t for t in texts), texts
    assert state.run.status.state == state.run.status.INCOMPLETE  # item-000's own errors
    sizes = {path: document_size(path, doc) for path, doc in every_document(client).items()}
    largest = max(sizes.values())
    assert largest < LIMIT / 2, (largest, max(sizes, key=lambda p: sizes[p]))
    work = app.list_work("sweep", page_size=1).items[0]
    assert len(work.details.status.stats) <= MAX_ITEM_STATS


def test_missed_slots_are_counted_not_listed_one_by_one(client: firestore.Client) -> None:
    """A ten-year frequency cut to a minute: millions of missed slots are counted
    arithmetically, the last hundred listed."""
    clock = FakeClock()
    app = make_app(client, RecordingWorker(), clock)
    app.update_settings("sweep", frequency=timedelta(days=3650))
    app.register("sweep", "a")
    app.tick("sweep")
    app.update_settings("sweep", frequency=timedelta(minutes=1))
    clock.advance(timedelta(days=3650 * 2))
    started = time.monotonic()
    app.tick("sweep")
    run = app.get_process("sweep").run
    assert run.missed_slot_count > 5_000_000 and len(run.missed_slots) == 100
    last = ts_to_datetime(run.missed_slots[-1])
    assert last == ts_to_datetime(run.slot) - timedelta(minutes=1)
    assert time.monotonic() - started < 30  # not millions of datetimes (a bound, not a goal)


def test_a_longer_frequency_never_moves_the_slot_before_the_last_finished(
    client: firestore.Client,
) -> None:
    clock = FakeClock()
    worker = RecordingWorker()
    app = make_app(client, worker, clock)
    app.update_settings("sweep", frequency=timedelta(minutes=1))
    app.register("sweep", "a")
    app.tick("sweep")
    finished = app.get_process("sweep").last_finished_slot
    app.update_settings("sweep", frequency=timedelta(days=365))
    result = app.tick("sweep")
    # The year-long slot containing now began long before: the tick stays in the
    # finished slot (done) instead of moving back to it.
    assert result.outcome == "claimed"  # the settings change reopened the finished slot
    assert result.slot == ts_to_datetime(finished) and result.processed == 0
    assert app.tick("sweep").outcome == "done"
    assert ts_to_datetime(app.get_process("sweep").last_finished_slot) == ts_to_datetime(finished)
    assert worker.processed == ["a"]


def test_a_short_lease_gets_a_checkpoint_interval_below_it(client: firestore.Client) -> None:
    app = make_app(client, RecordingWorker(), FakeClock(), lease_ttl=4)
    assert app.config.checkpoint_seconds < 4


def test_batch_register_of_500_items_is_one_commit(client: firestore.Client) -> None:
    counted, counts = counting_client(PROJECT, client._emulator_host or "")
    app = make_app(counted, RecordingWorker(), FakeClock(START))
    counts.reset()
    app.register_many("sweep", [(f"item-{n:03d}", None) for n in range(500)])
    assert counts.snapshot()["rpcs"]["Commit"] == 1
