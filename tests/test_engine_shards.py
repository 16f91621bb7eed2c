"""Shards: a slot worked by K independent leases, on the real emulator."""

from __future__ import annotations

import itertools
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from google.cloud import firestore

import slotwork
from slotwork.buckets import BUCKETS, bucket_of, shard_range
from slotwork.clock import EPOCH
from slotwork.schema import Status

from helpers import HOUR, START, FakeClock, RecordingWorker, counter_ids, make_app


def names(n: int) -> list[str]:
    return [f"item-{i:04d}" for i in range(n)]


def sharded(
    client: firestore.Client,
    worker: RecordingWorker,
    clock: FakeClock,
    shards: int,
    prefix: str = "inst",
    definition: dict[str, object] | None = None,
    **options: object,
) -> slotwork.App:
    defined = {"shards": shards, **(definition or {})}
    return make_app(client, worker, clock, prefix, definition=defined, **options)


def tick_all(app: slotwork.App, shards: int) -> list[slotwork.TickResult]:
    """One tick of every shard, all at once."""
    with ThreadPoolExecutor(shards) as pool:
        return list(pool.map(lambda k: app.tick("sweep", k), range(shards)))


def test_shard_ranges_cover_every_bucket_once() -> None:
    for shards in (1, 2, 3, 7, 100):
        ranges = [shard_range(k, shards) for k in range(shards)]
        assert ranges[0].low == 0 and ranges[-1].high == BUCKETS
        assert all(a.high == b.low for a, b in itertools.pairwise(ranges))
    assert bucket_of("item-0001") == bucket_of("item-0001")  # fixed, not per process
    with pytest.raises(ValueError):
        shard_range(4, 4)


def test_k_ticks_on_k_shards_all_claim_and_the_run_closes_once(client: firestore.Client) -> None:
    worker = RecordingWorker()
    app = sharded(client, worker, FakeClock(), 4)
    app.register_many("sweep", [(n, None) for n in names(120)])
    results = tick_all(app, 4)
    assert [r.outcome for r in results] == ["claimed"] * 4
    assert sum(r.processed for r in results) == 120
    assert Counter(worker.processed) == Counter(dict.fromkeys(names(120), 1))
    # Each shard did only its own buckets.
    for r in results:
        mine = shard_range(r.shard, 4)
        done = [w for w in app.list_work("sweep", page_size=200).items if w.id]
        assert r.processed == sum(1 for w in done if bucket_of(w.id) in mine)
    state = app.get_process("sweep")
    assert state.run.status.state == Status.COMPLETED
    assert list(state.run.finished_shards) == [0, 1, 2, 3]
    assert state.run.status.stats["workItems"] == 120
    assert state.aggregate_stats["runs"] == 1 and state.aggregate_stats["workItems"] == 120
    assert [s.lease.epoch for s in state.shards] == [1, 1, 1, 1]
    runs, _ = app.list_runs("sweep")
    assert len(runs) == 1 and runs[0].run.status.stats["workItems"] == 120
    assert {r.outcome for r in tick_all(app, 4)} == {"done"}


def test_two_ticks_of_one_shard_claim_once(client: firestore.Client) -> None:
    holder: list[slotwork.App] = []
    seen: dict[str, str] = {}

    def race(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if not seen:
            seen["other"] = holder[0].tick("sweep", 1).outcome
            seen["same"] = holder[0].tick("sweep", ctx_shard(item)).outcome

    app = sharded(client, RecordingWorker(on_process=race), FakeClock(), 2)
    holder.append(app)
    app.register_many("sweep", [(n, None) for n in names(40)])
    first = app.tick("sweep", 0)
    assert first.outcome == "claimed"
    # The other shard claims beside it; the same shard is busy (a live lease).
    assert seen == {"other": "claimed", "same": "busy"}


def ctx_shard(item: slotwork.Item) -> int:
    return 0 if bucket_of(item.name) in shard_range(0, 2) else 1


def test_a_tick_without_a_shard_takes_any_claimable_one(client: firestore.Client) -> None:
    worker = RecordingWorker()
    app = sharded(client, worker, FakeClock(), 3)
    app.register_many("sweep", [(n, None) for n in names(60)])
    taken = {app.tick("sweep").shard for _ in range(3)}
    assert taken == {0, 1, 2}
    assert app.tick("sweep").outcome == "done"
    assert sorted(worker.processed) == names(60)


def test_a_shard_outside_the_process_is_refused(client: firestore.Client) -> None:
    app = sharded(client, RecordingWorker(), FakeClock(), 2)
    with pytest.raises(slotwork.InvalidArgument, match="shard"):
        app.tick("sweep", 2)


def test_the_shard_count_can_change_between_slots(client: firestore.Client) -> None:
    clock = FakeClock()
    worker = RecordingWorker()
    two = sharded(client, worker, clock, 2)
    two.register_many("sweep", [(n, None) for n in names(50)])
    tick_all(two, 2)
    clock.advance(HOUR)
    four = sharded(client, worker, clock, 4, prefix="next")
    assert {r.outcome for r in tick_all(four, 4)} == {"claimed"}
    assert Counter(worker.processed) == Counter(dict.fromkeys(names(50), 2))
    assert four.get_process("sweep").run.shards == 4


def test_within_a_slot_the_shard_count_stays_frozen(client: firestore.Client) -> None:
    clock = FakeClock(step=timedelta(milliseconds=50))
    worker = RecordingWorker()
    two = sharded(client, worker, clock, 2, deadline=1)
    two.register_many("sweep", [(n, None) for n in names(60)])
    tick_all(two, 2)  # the run started with 2 shards and is not finished
    four = sharded(client, worker, FakeClock(clock.now), 4, prefix="next")
    # Shards 2 and 3 have no part in this run: nothing for them to do.
    assert four.tick("sweep", 3).outcome == "done"
    while four.get_process("sweep").run.status.state != Status.COMPLETED:
        tick_all(four, 2)
    assert Counter(worker.processed) == Counter(dict.fromkeys(names(60), 1))


def test_items_written_before_buckets_are_given_theirs_and_processed(
    client: firestore.Client,
) -> None:
    """A deployment's items from before shards (no ``bucket``, schema 1, a process
    document of the old layout) keep being processed once the process is sharded."""
    collection = client.collection("slotwork").document("sweep")
    collection.set({"schema_version": 1, "process_name": "sweep", "settings_version": 3})
    epoch = EPOCH
    batch = client.batch()
    for n in names(30):
        batch.set(
            collection.collection("work").document(n),
            {
                "schema_version": 1,
                "name": n,
                "list": "ACTIVE",
                "done_slot": epoch,
                "status": {"state": "NEW"},
                "params": {},
            },
        )
    batch.commit()
    worker = RecordingWorker()
    app = sharded(client, worker, FakeClock(), 3)
    # Shard 1 waits while shard 0 gives every item its bucket.
    assert app.tick("sweep", 1).outcome == "busy"
    assert app.tick("sweep", 0).outcome == "claimed"
    assert all(isinstance(d.get("bucket"), int) for d in _items(client))
    tick_all(app, 3)
    assert Counter(worker.processed) == Counter(dict.fromkeys(names(30), 1))
    assert app.get_process("sweep").run.status.state == Status.COMPLETED


def _items(client: firestore.Client) -> list[dict[str, object]]:
    work = client.collection("slotwork").document("sweep").collection("work")
    return [d.to_dict() or {} for d in work.stream()]


def test_an_unsharded_process_works_items_without_a_bucket(client: firestore.Client) -> None:
    """An unsharded process needs no buckets: its old items run as they are (the
    backfill gives them buckets only before the process first runs sharded)."""
    work = client.collection("slotwork").document("sweep").collection("work")
    work.document("old").set({"schema_version": 1, "list": "ACTIVE", "done_slot": EPOCH})
    app = make_app(client, RecordingWorker(), FakeClock())
    assert app.tick("sweep").processed == 1
    assert work.document("old").get().get("done_slot") == START


def test_one_shards_budget_abort_stops_the_others(client: firestore.Client) -> None:
    """The run's error budget is shared: the shard that spends it aborts the run,
    and the other shard stops at its next checkpoint and closes its part aborted."""
    failing = {n: 1 for n in names(80) if bucket_of(n) in shard_range(0, 2)}
    worker = RecordingWorker(fail=failing)
    budget = slotwork.ErrorBudget(10, 5)
    app = sharded(client, worker, FakeClock(), 2, definition={"error_budget": budget})
    app.register_many("sweep", [(n, None) for n in names(80)])
    first = app.tick("sweep", 0)
    assert first.outcome == "aborted"
    second = app.tick("sweep", 1)
    assert second.outcome == "aborted" and second.processed == 0
    state = app.get_process("sweep")
    assert state.run.status.state == Status.ABORTED
    assert list(state.run.finished_shards) == [0, 1]


def test_instance_ids_name_each_shards_holder(client: firestore.Client) -> None:
    app = slotwork.App(
        [slotwork.Process("sweep", RecordingWorker(), HOUR, shards=2)],
        client=client,
        clock=FakeClock(),
        min_frequency=60,
        ids=counter_ids("x"),
    )
    app.register("sweep", "a")
    results = tick_all(app, 2)
    holders = {s.index: s.lease.holder for s in app.get_process("sweep").shards}
    assert holders == {r.shard: r.instance for r in results}
