"""Where slotwork's state lives: the ``StateStore`` Protocol, whose docstrings are
the contract every store keeps (``FirestoreStore``, and ``MemoryStore`` for
tests), and the typed values it reads and writes.

The state of one process, in documents (DESIGN.md "Firestore layout"):

- the process document: settings, frequency, pause, policies, counters, a
  summary of the current run, aggregate stats. The API and ticks write it, never
  with a precondition, so no writer can make another fail.
- shard documents ``shards/{k}``: shard k's lease (holder, fencing epoch,
  expiry) and its part of the run. Only ticks write them, always conditionally
  (create-if-absent, or unchanged-since-read): they are the fence.
- item documents ``work/{name}``: list, params, status, done_slot, bucket,
  retry state. A tick writes one conditionally on the update time it read, so
  a concurrent register or unregister is never undone.
- run records ``runs/{id}``: one per run of a slot, never overwritten by a
  later run.

No store holds a lock across calls; every conditional write fails at once
when it loses. Google client exceptions never leave a store: transient
failures become ``StoreUnavailable`` (503), permanent ones ``StoreFailed`` (500).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Protocol

from slotwork.buckets import BucketRange
from slotwork.schema import Process, RunRecord
from slotwork.store.values import (
    Commit,
    Committed,
    Counter,
    ErrorEntry,
    ItemFields,
    ItemStatus,
    ItemWrite,
    PreconditionFailed,
    ProcessChange,
    ProcessSnapshot,
    RunSnapshot,
    RunWrite,
    RunWriteMode,
    ShardSnapshot,
    ShardWrite,
    StoredItem,
    StreamCut,
)

StreamTimeout = Callable[[], float | None]
"""Seconds a (re)opened stream may live, or None when there is no time left."""


class StateStore(Protocol):
    """The state of every process of one deployment (one collection).

    Every method either does all it says or raises: ``PreconditionFailed``
    (only ``commit``, and nothing was written), ``StreamCut`` (only
    ``pending``), or a ``slotwork.errors.SlotworkError`` (``StoreUnavailable``
    for transient trouble worth a retry later, ``StoreFailed`` otherwise).
    Times are aware UTC datetimes. Reads of one document cost one document
    read; an idle tick is one ``read_process``.
    """

    def read_process(self, process: str) -> ProcessSnapshot:
        """The process document. A missing one reads as an empty ``Process`` with
        ``update_time`` None. ``read_time`` is the server's clock at the read when
        there is a server (clocks anchor on it), else None."""
        ...

    def list_processes(self) -> dict[str, Process]:
        """Every stored process document, by name."""
        ...

    def read_shard(self, process: str, index: int) -> ShardSnapshot:
        """Shard ``index``'s document; a missing one reads as an empty ``Shard``
        with ``update_time`` None."""
        ...

    def read_shards(self, process: str) -> dict[int, ShardSnapshot]:
        """Every stored shard document of ``process``, by index."""
        ...

    def read_run(self, process: str, run_id: str) -> RunSnapshot:
        """The run record ``run_id``; a missing one reads as an empty ``RunRecord``
        with ``update_time`` None."""
        ...

    def list_runs(
        self, process: str, page_size: int, start_after: str | None = None
    ) -> list[RunRecord]:
        """Up to ``page_size`` run records, newest first (by slot, then by run id:
        a slot's later runs before its earlier ones), after run ``start_after``."""
        ...

    def pending(
        self, process: str, slot: datetime, buckets: BucketRange, stream_timeout: StreamTimeout
    ) -> Iterator[StoredItem]:
        """Items still to do in ``slot`` whose bucket is in ``buckets``: those on the
        cleanup list, then those on the active list, each with ``done_slot`` before
        ``slot``, longest-waiting first, then by name. With ``buckets.whole``
        items without a bucket are included.

        Streamed (memory does not grow with the item count); reads only what the
        engine uses (not ``modified``). Each (re)opened stream lives at most
        ``stream_timeout()`` seconds; a transient failure resumes after the last
        item yielded, a bounded number of times, with jittered backoff. Once
        ``stream_timeout()`` is None a stream that ends early raises StreamCut.
        """
        ...

    def count_pending(self, process: str, slot: datetime, buckets: BucketRange) -> int:
        """How many items ``pending`` would yield now (one count aggregation)."""
        ...

    def get_items(self, process: str, names: Iterable[str]) -> dict[str, StoredItem]:
        """The named items that exist, whole, in one batched read."""
        ...

    def list_items(
        self,
        process: str,
        page_size: int,
        start_after: str | None = None,
        list_name: str | None = None,
        state: str | None = None,
    ) -> list[StoredItem]:
        """Up to ``page_size`` items in name order after ``start_after``, whole,
        optionally only of one list and/or one stored status state."""
        ...

    def scan_items(self, process: str, start_after: str | None, limit: int) -> list[StoredItem]:
        """Up to ``limit`` items in name order after ``start_after``, reading only
        their bucket (for the one-time backfill of buckets)."""
        ...

    def commit(self, process: str, commit: Commit) -> Committed:
        """Apply every write of ``commit`` atomically, or none.

        Preconditions: the shard write's document is still at ``known`` (or does
        not exist, for None); each item write's document is still at its
        ``read_time`` (or does not exist, for a None read time: a create); a
        ``RunWriteMode.CREATE`` run record does not exist and an ``IF_UNCHANGED``
        one is still at its ``known``; a creating ``ProcessChange`` finds no
        process document. If any fails, PreconditionFailed and nothing is
        written. The process change itself never fails a precondition: it is
        merged field by field, counters are incremented, never read and
        rewritten. Returns the new update times of the shard and run documents.
        """
        ...


__all__ = [
    "Commit",
    "Committed",
    "Counter",
    "ErrorEntry",
    "ItemFields",
    "ItemStatus",
    "ItemWrite",
    "PreconditionFailed",
    "ProcessChange",
    "ProcessSnapshot",
    "RunSnapshot",
    "RunWrite",
    "RunWriteMode",
    "ShardSnapshot",
    "ShardWrite",
    "StateStore",
    "StoredItem",
    "StreamCut",
    "StreamTimeout",
]
