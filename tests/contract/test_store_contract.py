"""The ``StateStore`` contract (``slotwork.store``), one suite for every store: the
Firestore store on the real emulator and the memory store, parametrised as
APScheduler runs its data-store tests. ``test_the_suite_has_teeth`` runs the
fence tests against a store without the fence and expects them to fail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from google.cloud import firestore

from slotwork.buckets import BucketRange, shard_range
from slotwork.clock import EPOCH
from slotwork.model import ACTIVE, CLEANUP, DROPPED
from slotwork.schema import Lease, Params, Process, Run, RunRecord, Shard
from slotwork.schema.documents import datetime_to_ts
from slotwork.store import (
    Commit,
    Committed,
    Counter,
    ItemFields,
    ItemStatus,
    ItemWrite,
    PreconditionFailed,
    ProcessChange,
    RunWrite,
    RunWriteMode,
    ShardWrite,
    StateStore,
    StreamCut,
)
from slotwork.store.firestore import FirestoreStore
from slotwork.testing import MemoryStore
from slotwork_local.emulator import Emulator

from conftest import new_client

P = "proc"
SLOT = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
WHOLE = shard_range(0, 1)


@pytest.fixture(params=["firestore", "memory"])
def store(request: pytest.FixtureRequest) -> Iterator[StateStore]:
    if request.param == "memory":
        yield MemoryStore()
        return
    emulator: Emulator = request.getfixturevalue("emulator")
    emulator.reset()
    yield FirestoreStore(new_client(emulator), "slotwork")


def forever() -> float | None:
    return 30.0


def new(store: StateStore, name: str, list_name: str = ACTIVE, **fields: object) -> None:
    values: dict[str, object] = {"list": list_name, "params": Params(), "done_slot": EPOCH}
    base = ItemFields(**{**values, **fields})  # type: ignore[arg-type]
    store.commit(P, Commit(items=[ItemWrite(name, base, None)]))


def claim(store: StateStore, epoch: int, known: datetime | None) -> Committed:
    shard = Shard(index=0, lease=Lease(holder=f"i{epoch}", epoch=epoch))
    return store.commit(P, Commit(shard=ShardWrite(shard, known)))


# -- process documents ------------------------------------------------------------------
def test_a_missing_process_reads_empty(store: StateStore) -> None:
    snap = store.read_process(P)
    assert snap.update_time is None and snap.process == Process()
    assert store.list_processes() == {}


def test_process_changes_replace_fields_and_add_counters(store: StateStore) -> None:
    values = Process(paused=True, pause_reason="audit", settings_version=7)
    store.commit(
        P,
        Commit(
            process=ProcessChange(
                values,
                frozenset({"paused", "pause_reason"}),
                increments={Counter.WORK_VERSION: 1},
                aggregate={"work.calls": 2.0, "a b": 1.0},
                create=True,
            )
        ),
    )
    store.commit(
        P,
        Commit(
            process=ProcessChange(
                Process(),
                frozenset({"paused", "pause_reason"}),
                increments={Counter.WORK_VERSION: 2, Counter.RUN_COUNTED_ERRORS: 3},
                aggregate={"work.calls": 1.5},
                run_aborting=True,
            )
        ),
    )
    state = store.read_process(P).process
    assert (state.paused, state.pause_reason) == (False, "")
    assert state.settings_version == 0  # not named in fields: never written
    assert state.work_version == 3
    assert dict(state.aggregate_stats) == {"work.calls": 3.5, "a b": 1.0}
    assert state.run.counted_errors == 3 and state.run.aborting
    assert set(store.list_processes()) == {P}


def test_creating_an_existing_process_fails_and_writes_nothing(store: StateStore) -> None:
    create = ProcessChange(Process(buckets_complete=True), frozenset({"buckets_complete"}),
                           create=True)  # fmt: skip
    store.commit(P, Commit(process=create))
    item = ItemWrite("a", ItemFields(list=ACTIVE), None)
    with pytest.raises(PreconditionFailed):
        store.commit(P, Commit(items=[item], process=create))
    assert store.get_items(P, ["a"]) == {}


# -- the fence ---------------------------------------------------------------------------
def test_a_shard_is_created_once(store: StateStore) -> None:
    claim(store, 1, None)
    with pytest.raises(PreconditionFailed):
        claim(store, 1, None)


def test_a_shard_write_is_fenced_by_its_update_time(store: StateStore) -> None:
    first = claim(store, 1, None)
    second = claim(store, 2, first.shard)
    with pytest.raises(PreconditionFailed):
        claim(store, 3, first.shard)  # a stale holder
    snap = store.read_shard(P, 0)
    assert snap.update_time == second.shard and snap.shard.lease.epoch == 2


def test_a_fenced_commit_writes_nothing_when_it_loses(store: StateStore) -> None:
    new(store, "a")
    item = store.get_items(P, ["a"])["a"]
    first = claim(store, 1, None)
    claim(store, 2, first.shard)
    done = ItemWrite("a", ItemFields(done_slot=SLOT), item.update_time)
    stale = Commit(
        shard=ShardWrite(Shard(index=0, lease=Lease(holder="i1", epoch=1)), first.shard),
        items=[done],
        runs=[RunWrite(RunRecord(run=Run(id="r")), RunWriteMode.REPLACE)],
        process=ProcessChange(Process(paused=True), frozenset({"paused"})),
    )
    with pytest.raises(PreconditionFailed):
        store.commit(P, stale)
    assert store.get_items(P, ["a"])["a"].done_slot == EPOCH
    assert store.read_run(P, "r").update_time is None
    assert not store.read_process(P).process.paused


def test_a_shard_document_is_replaced_whole(store: StateStore) -> None:
    first = claim(store, 1, None)
    marked = Shard(index=0, lease=Lease(holder="i1", epoch=1), current_item="x")
    second = store.commit(P, Commit(shard=ShardWrite(marked, first.shard)))
    claim(store, 2, second.shard)
    assert store.read_shard(P, 0).shard.current_item == ""


def test_an_item_write_never_undoes_a_concurrent_one(store: StateStore) -> None:
    new(store, "a")
    read = store.get_items(P, ["a"])["a"]
    store.commit(P, Commit(items=[ItemWrite("a", ItemFields(list=CLEANUP), read.update_time)]))
    done = ItemWrite("a", ItemFields(done_slot=SLOT), read.update_time)
    with pytest.raises(PreconditionFailed):
        store.commit(P, Commit(items=[done]))
    assert store.get_items(P, ["a"])["a"].list == CLEANUP


def test_an_item_is_created_once(store: StateStore) -> None:
    new(store, "a")
    with pytest.raises(PreconditionFailed):
        new(store, "a")


def test_run_records_are_created_once_and_replaced_only_unchanged(store: StateStore) -> None:
    record = RunRecord(run=Run(id="2026-01-05T12:00:00Z", slot=datetime_to_ts(SLOT)))
    created = store.commit(P, Commit(runs=[RunWrite(record, RunWriteMode.CREATE)]))
    with pytest.raises(PreconditionFailed):
        store.commit(P, Commit(runs=[RunWrite(record, RunWriteMode.CREATE)]))
    known = created.runs[record.run.id]
    record.run.invocations = 2
    changed = store.commit(P, Commit(runs=[RunWrite(record, RunWriteMode.IF_UNCHANGED, known)]))
    with pytest.raises(PreconditionFailed):
        store.commit(P, Commit(runs=[RunWrite(record, RunWriteMode.IF_UNCHANGED, known)]))
    snap = store.read_run(P, record.run.id)
    assert snap.update_time == changed.runs[record.run.id] and snap.record.run.invocations == 2
    blank = RunRecord(run=Run(id=record.run.id))
    store.commit(P, Commit(runs=[RunWrite(blank, RunWriteMode.REPLACE)]))
    assert store.read_run(P, record.run.id).record.run.invocations == 0


def test_committed_times_are_what_reads_then_see(store: StateStore) -> None:
    new(store, "a")
    read = store.get_items(P, ["a"])["a"]
    committed = store.commit(
        P,
        Commit(
            shard=ShardWrite(Shard(index=0), None),
            items=[ItemWrite("a", ItemFields(done_slot=SLOT), read.update_time)],
        ),
    )
    assert store.read_shard(P, 0).update_time == committed.shard
    assert store.get_items(P, ["a"])["a"].update_time == committed.items["a"]


# -- queries -----------------------------------------------------------------------------
def test_pending_is_cleanup_first_then_longest_waiting_then_by_name(store: StateStore) -> None:
    earlier = SLOT - timedelta(hours=2)
    new(store, "b")
    new(store, "a", done_slot=earlier)
    new(store, "c")
    new(store, "z", CLEANUP)
    new(store, "gone", DROPPED)
    new(store, "done", done_slot=SLOT)
    order = [i.name for i in store.pending(P, SLOT, WHOLE, forever)]
    assert order == ["z", "b", "c", "a"]
    assert store.count_pending(P, SLOT, WHOLE) == 4


def test_pending_of_a_bucket_range_holds_only_its_buckets(store: StateStore) -> None:
    new(store, "low", bucket=10)
    new(store, "high", bucket=60_000)
    new(store, "none")
    low = BucketRange(0, 100)
    assert [i.name for i in store.pending(P, SLOT, low, forever)] == ["low"]
    assert store.count_pending(P, SLOT, low) == 1
    assert {i.name for i in store.pending(P, SLOT, WHOLE, forever)} == {"low", "high", "none"}


def test_pending_reads_the_fields_the_engine_uses(store: StateStore) -> None:
    status = ItemStatus(state="INCOMPLETE", start_time=SLOT, finish_time=SLOT, total_errors=1)
    new(store, "a", bucket=5, attempts=2, attempt_slot=SLOT, next_attempt_time=SLOT,
        failed_slots=1, status=status)  # fmt: skip
    (item,) = store.pending(P, SLOT + timedelta(hours=1), WHOLE, forever)
    assert (item.attempts, item.attempt_slot, item.failed_slots) == (2, SLOT, 1)
    assert item.next_attempt_time == SLOT and item.status.total_errors == 1


def test_no_stream_is_opened_without_time_left(store: StateStore) -> None:
    new(store, "a")
    with pytest.raises(StreamCut):
        next(iter(store.pending(P, SLOT, WHOLE, lambda: None)))


def test_items_are_listed_by_name_and_filtered(store: StateStore) -> None:
    for name in ("c", "a", "b"):
        new(store, name)
    new(store, "d", CLEANUP)
    assert [i.name for i in store.list_items(P, 2)] == ["a", "b"]
    assert [i.name for i in store.list_items(P, 10, start_after="b")] == ["c", "d"]
    assert [i.name for i in store.list_items(P, 10, list_name=CLEANUP)] == ["d"]
    assert [i.name for i in store.scan_items(P, "a", 2)] == ["b", "c"]
    assert set(store.get_items(P, ["a", "nope"])) == {"a"}


def test_runs_are_listed_newest_first_later_runs_of_a_slot_first(store: StateStore) -> None:
    earlier, later = SLOT, SLOT + timedelta(hours=1)
    for run_id, slot in (
        ("2026-01-05T12:00:00Z", earlier),
        ("2026-01-05T12:00:00Z-0002", earlier),
        ("2026-01-05T13:00:00Z", later),
    ):
        record = RunRecord(run=Run(id=run_id, slot=datetime_to_ts(slot)))
        store.commit(P, Commit(runs=[RunWrite(record, RunWriteMode.CREATE)]))
    ids = [r.run.id for r in store.list_runs(P, 10)]
    assert ids == ["2026-01-05T13:00:00Z", "2026-01-05T12:00:00Z-0002", "2026-01-05T12:00:00Z"]
    page = store.list_runs(P, 1, start_after="2026-01-05T12:00:00Z-0002")
    assert [r.run.id for r in page] == ["2026-01-05T12:00:00Z"]


def test_shards_are_read_one_and_all(store: StateStore) -> None:
    for index in (0, 2):
        store.commit(P, Commit(shard=ShardWrite(Shard(index=index, run_id="r"), None)))
    assert set(store.read_shards(P)) == {0, 2}
    assert store.read_shard(P, 1).update_time is None
    assert store.read_shard(P, 2).shard.run_id == "r"


# -- the suite has teeth ---------------------------------------------------------------------
class NoFence(MemoryStore):
    """A broken store: shard writes ignore their precondition."""

    def _check(self, process: str, commit: Commit) -> None:
        if commit.shard is not None:
            commit = Commit(items=commit.items, runs=commit.runs, process=commit.process)
        super()._check(process, commit)


FENCE_TESTS: list[Callable[[StateStore], None]] = [
    test_a_shard_is_created_once,
    test_a_shard_write_is_fenced_by_its_update_time,
    test_a_fenced_commit_writes_nothing_when_it_loses,
]


@pytest.mark.parametrize("check", FENCE_TESTS, ids=lambda f: f.__name__)
def test_the_suite_has_teeth(check: Callable[[StateStore], None]) -> None:
    with pytest.raises((AssertionError, pytest.fail.Exception)):
        check(NoFence())


def test_the_firestore_store_is_what_the_app_uses_by_default(emulator: Emulator) -> None:
    from slotwork import App
    from slotwork import Process as Definition

    from helpers import HOUR, RecordingWorker

    client: firestore.Client = new_client(emulator)
    app = App([Definition("p", RecordingWorker(), HOUR)], client=client)
    assert isinstance(app.store, FirestoreStore)
