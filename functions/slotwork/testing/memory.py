"""``MemoryStore``: the ``StateStore`` in this process's memory, for tests.

It keeps the same documents the Firestore store writes (the mapping in
``slotwork.store.documents``), with the same conditional writes, fences and
query order, behind one lock: several ``App``s given the same instance share
its state as instances share Firestore, so takeovers, fencing and racing
ticks behave as they do there. Every read returns copies, as a database would.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from slotwork.buckets import BucketRange
from slotwork.model import CLEANUP, PENDING_LISTS
from slotwork.schema import Process, RunRecord, Shard
from slotwork.schema.documents import from_doc
from slotwork.store import StreamTimeout
from slotwork.store.documents import (
    FieldPath,
    item_fields_doc,
    new_item_doc,
    process_patch,
    run_doc,
    shard_doc,
    stored_item,
)
from slotwork.store.values import (
    Commit,
    Committed,
    PreconditionFailed,
    ProcessSnapshot,
    RunSnapshot,
    RunWriteMode,
    ShardSnapshot,
    StoredItem,
    StreamCut,
)

# Update times are unique and increasing, as Firestore's are; they count from here.
_BASE_TIME = datetime(2000, 1, 1, tzinfo=UTC)

Doc = dict[str, Any]


class _Documents:
    """Documents by path, each with its update time."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, ...], tuple[Doc, datetime]] = {}
        self._times = itertools.count(1)

    def time(self) -> datetime:
        return _BASE_TIME + timedelta(microseconds=next(self._times))

    def get(self, path: tuple[str, ...]) -> tuple[Doc, datetime] | None:
        found = self.docs.get(path)
        return None if found is None else (copy.deepcopy(found[0]), found[1])

    def under(self, *prefix: str) -> list[tuple[str, Doc, datetime]]:
        """(last path part, document, update time) of the documents directly under ``prefix``."""
        depth = len(prefix) + 1
        return [
            (path[-1], copy.deepcopy(doc), time)
            for path, (doc, time) in self.docs.items()
            if len(path) == depth and path[:-1] == prefix
        ]


class MemoryStore:
    """slotwork's state in memory (see ``slotwork.store.StateStore`` for the contract)."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._docs = _Documents()

    # -- reads ----------------------------------------------------------------
    def read_process(self, process: str) -> ProcessSnapshot:
        with self._lock:
            found = self._docs.get(("process", process))
        if found is None:
            return ProcessSnapshot(Process(), None)
        return ProcessSnapshot(from_doc(Process, found[0]), found[1])

    def list_processes(self) -> dict[str, Process]:
        with self._lock:
            rows = self._docs.under("process")
        return {name: from_doc(Process, doc) for name, doc, _ in rows}

    def read_shard(self, process: str, index: int) -> ShardSnapshot:
        with self._lock:
            found = self._docs.get(("shard", process, str(index)))
        if found is None:
            return ShardSnapshot(Shard(index=index), None)
        return ShardSnapshot(from_doc(Shard, found[0]), found[1])

    def read_shards(self, process: str) -> dict[int, ShardSnapshot]:
        with self._lock:
            rows = self._docs.under("shard", process)
        found: dict[int, ShardSnapshot] = {}
        for _, doc, time in rows:
            shard = from_doc(Shard, doc)
            found[shard.index] = ShardSnapshot(shard, time)
        return found

    def read_run(self, process: str, run_id: str) -> RunSnapshot:
        with self._lock:
            found = self._docs.get(("run", process, run_id))
        if found is None:
            return RunSnapshot(RunRecord(), None)
        return RunSnapshot(from_doc(RunRecord, found[0]), found[1])

    def list_runs(
        self, process: str, page_size: int, start_after: str | None = None
    ) -> list[RunRecord]:
        with self._lock:
            rows = self._docs.under("run", process)
        ordered = sorted(
            ((doc.get("run", {}).get("slot"), run_id, doc) for run_id, doc, _ in rows),
            key=lambda row: (row[0], row[1]),
            reverse=True,
        )
        if start_after is not None:
            keys = [(slot, run_id) for slot, run_id, _ in ordered]
            after = next((k for k in keys if k[1] == start_after), None)
            if after is not None:
                ordered = [row for row in ordered if (row[0], row[1]) < after]
        return [from_doc(RunRecord, doc) for _, _, doc in ordered[:page_size]]

    def _items(self, process: str) -> list[StoredItem]:
        rows = self._docs.under("item", process)
        return [stored_item(name, doc, time) for name, doc, time in rows]

    def _pending(self, process: str, slot: datetime, buckets: BucketRange) -> list[StoredItem]:
        found = [
            item
            for item in self._items(process)
            if item.list in PENDING_LISTS
            and item.done_slot < slot
            and (buckets.whole or (item.bucket is not None and item.bucket in buckets))
        ]
        # Cleanup first, then the longest-waiting, then (sharded) bucket, then name.
        return sorted(
            found,
            key=lambda i: (
                i.list != CLEANUP,
                i.done_slot,
                0 if buckets.whole else (i.bucket or 0),
                i.name,
            ),
        )

    def pending(
        self, process: str, slot: datetime, buckets: BucketRange, stream_timeout: StreamTimeout
    ) -> Iterator[StoredItem]:
        if stream_timeout() is None:
            raise StreamCut("no time left to open the pending-items query")
        with self._lock:
            found = self._pending(process, slot, buckets)
        yield from found

    def count_pending(self, process: str, slot: datetime, buckets: BucketRange) -> int:
        with self._lock:
            return len(self._pending(process, slot, buckets))

    def get_items(self, process: str, names: Iterable[str]) -> dict[str, StoredItem]:
        found: dict[str, StoredItem] = {}
        with self._lock:
            for name in names:
                doc = self._docs.get(("item", process, name))
                if doc is not None:
                    found[name] = stored_item(name, doc[0], doc[1])
        return found

    def list_items(
        self,
        process: str,
        page_size: int,
        start_after: str | None = None,
        list_name: str | None = None,
        state: str | None = None,
    ) -> list[StoredItem]:
        with self._lock:
            items = sorted(self._items(process), key=lambda i: i.name)
        chosen = [
            i
            for i in items
            if (start_after is None or i.name > start_after)
            and (list_name is None or i.list == list_name)
            and (state is None or (i.status_doc or {}).get("state") == state)
        ]
        return chosen[:page_size]

    def scan_items(self, process: str, start_after: str | None, limit: int) -> list[StoredItem]:
        return self.list_items(process, limit, start_after)

    # -- the one write path -----------------------------------------------------------
    def commit(self, process: str, commit: Commit) -> Committed:
        with self._lock:
            self._check(process, commit)
            return self._apply(process, commit)

    def _exists(self, path: tuple[str, ...]) -> datetime | None:
        found = self._docs.docs.get(path)
        return None if found is None else found[1]

    def _check(self, process: str, commit: Commit) -> None:
        """Every precondition of ``commit``, before anything is written."""
        if commit.shard is not None:
            current = self._exists(("shard", process, str(commit.shard.shard.index)))
            _expect(current, commit.shard.known, f"shard {commit.shard.shard.index}")
        for run in commit.runs:
            current = self._exists(("run", process, run.record.run.id))
            if run.mode is RunWriteMode.CREATE:
                _expect(current, None, f"run {run.record.run.id}")
            elif run.mode is RunWriteMode.IF_UNCHANGED:
                _expect(current, run.known, f"run {run.record.run.id}")
        for item in commit.items:
            _expect(self._exists(("item", process, item.name)), item.read_time, item.name)
        if commit.process is not None and commit.process.create:
            _expect(self._exists(("process", process)), None, f"process {process}")

    def _apply(self, process: str, commit: Commit) -> Committed:
        time = self._docs.time()  # one commit, one update time (as Firestore)
        docs = self._docs.docs
        shard_time = None
        if commit.shard is not None:
            index = str(commit.shard.shard.index)
            docs[("shard", process, index)] = (shard_doc(process, commit.shard.shard), time)
            shard_time = time
        runs: dict[str, datetime] = {}
        for run in commit.runs:
            docs[("run", process, run.record.run.id)] = (run_doc(process, run.record), time)
            runs[run.record.run.id] = time
        items: dict[str, datetime] = {}
        for item in commit.items:
            path: tuple[str, ...] = ("item", process, item.name)
            if item.read_time is None:
                doc = new_item_doc(item.name, item.fields)
            else:
                doc = {**docs[path][0], **item_fields_doc(item.fields)}
            docs[path] = (copy.deepcopy(doc), time)
            items[item.name] = time
        if commit.process is not None:
            key: tuple[str, ...] = ("process", process)
            stored: Doc = {} if key not in docs else docs[key][0]
            patch = process_patch(process, commit.process)
            for where, value in patch.sets.items():
                _set(stored, where, copy.deepcopy(value))
            for where, amount in patch.increments.items():
                _add(stored, where, amount)
            docs[key] = (stored, time)
        return Committed(shard=shard_time, runs=runs, items=items)


def _expect(current: datetime | None, wanted: datetime | None, what: str) -> None:
    if current != wanted:
        state = "does not exist" if current is None else f"changed at {current.isoformat()}"
        raise PreconditionFailed(f"{what}: {state}")


def _parent(doc: Doc, where: FieldPath) -> Doc:
    node = doc
    for part in where[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    return node


def _set(doc: Doc, where: FieldPath, value: Any) -> None:
    _parent(doc, where)[where[-1]] = value


def _add(doc: Doc, where: FieldPath, amount: float) -> None:
    node = _parent(doc, where)
    current = node.get(where[-1])
    node[where[-1]] = (current if isinstance(current, int | float) else 0) + amount
