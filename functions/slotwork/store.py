"""Firestore access: every read and write slotwork makes, and nothing else.

Concurrency is optimistic throughout: no transaction holds a lock. The
process document is written with an update-time precondition (the claim and
every checkpoint), so exactly one writer wins and a stale lease holder's
write fails as a whole; item writes carry the update time they were read
at, so a checkpoint never undoes a concurrent register or unregister.
Google exceptions are translated here and never leave this module.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from slotwork.errors import Conflict, StoreFailed, StoreUnavailable
from slotwork.retries import (
    CALL_TIMEOUT_SECONDS,
    NO_RETRY,
    RETRY,
    TRANSIENT,
    backoff,
    is_transient,
)
from slotwork.schema import SCHEMA_VERSION, Process, Work
from slotwork.schema.documents import from_doc

WORK = "work"
RUNS = "runs"
ACTIVE = Work.List.Name(Work.ACTIVE)
CLEANUP = Work.List.Name(Work.CLEANUP)
DROPPED = Work.List.Name(Work.DROPPED)
# What the engine reads of a pending item.
PENDING_FIELDS = ["list", "done_slot", "params", "status"]  # done_slot: for resume cursors
# A count scans the index: on the emulator about 1 s per 100,000 documents.
COUNT_TIMEOUT_SECONDS = 60.0
# Times a broken pending-items stream is resumed before the tick gives up.
MAX_STREAM_RESUMES = 5
# Item writes per commit: Firestore's historical batch limit.
MAX_BATCH = 500
# What a lost precondition race looks like on the wire.
_PRECONDITION = (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound, gexc.Conflict)


class PreconditionFailed(Exception):
    """A conditional write lost to a concurrent writer (internal to the engine)."""


class StreamCut(Exception):
    """The pending-items stream ended early (timed out or broke) with no time
    left to reopen it: the tick hands over rather than fails (internal to the engine).
    """


@dataclass(frozen=True)
class ProcessSnapshot:
    """The process document as read: ``update_time`` is None when it does not exist."""

    process: Process
    update_time: datetime | None
    read_time: datetime | None = None


@dataclass(frozen=True)
class ItemWrite:
    """One item's new fields, conditional on the update time it was read at."""

    name: str
    fields: dict[str, Any]
    read_time: datetime


@dataclass(frozen=True)
class ItemSnapshot:
    """A work item document as read."""

    name: str
    data: dict[str, Any]
    update_time: datetime


def unavailable(what: str, err: Exception) -> StoreUnavailable | StoreFailed:
    """The error a caller sees when a Firestore call failed: unavailable (503, worth
    a retry) when it was transient or ran out of retries, else failed (500).
    """
    if is_transient(err) or isinstance(err, gexc.RetryError):
        return StoreUnavailable(f"Firestore {what} failed: {err}")
    return StoreFailed(f"Firestore {what} failed: {err}")


class FirestoreStore:
    """slotwork's state in ``{collection}/{process}``, ``.../work/{item}``, ``.../runs/{slot}``."""

    def __init__(
        self,
        client: firestore.Client,
        collection: str,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.client = client
        self.collection = collection
        self.rng = rng or random.Random()
        self.sleep = sleep

    # -- references ---------------------------------------------------------
    def process_ref(self, process: str) -> firestore.DocumentReference:
        return self.client.collection(self.collection).document(process)

    def work_ref(self, process: str) -> firestore.CollectionReference:
        return cast(firestore.CollectionReference, self.process_ref(process).collection(WORK))

    def runs_ref(self, process: str) -> firestore.CollectionReference:
        return cast(firestore.CollectionReference, self.process_ref(process).collection(RUNS))

    # -- process document ---------------------------------------------------
    def read_process(self, process: str) -> ProcessSnapshot:
        """One document read: the whole cost of an idle tick."""
        try:
            snap = self.process_ref(process).get(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except gexc.GoogleAPIError as err:
            raise unavailable("read of the process document", err) from err
        if not snap.exists:
            return ProcessSnapshot(Process(), None, snap.read_time)
        return ProcessSnapshot(from_doc(Process, snap.to_dict()), snap.update_time, snap.read_time)

    def list_processes(self) -> dict[str, Process]:
        """Every stored process document, by name."""
        try:
            docs = self.client.collection(self.collection).stream(
                retry=RETRY, timeout=CALL_TIMEOUT_SECONDS
            )
            return {doc.id: from_doc(Process, doc.to_dict()) for doc in docs}
        except gexc.GoogleAPIError as err:
            raise unavailable("list of processes", err) from err

    def merge_process(self, process: str, fields: dict[str, Any]) -> None:
        """An unconditional merge into the process document (settings, pause)."""
        fields = {"schema_version": SCHEMA_VERSION, "process_name": process, **fields}
        try:
            # Merge by top-level field: each named field is replaced whole, so
            # new settings drop the keys the old ones had.
            self.process_ref(process).set(
                fields,
                merge=list(fields),  # type: ignore[arg-type]  # documented: bool or field paths
                retry=RETRY,
                timeout=CALL_TIMEOUT_SECONDS,
            )
        except gexc.GoogleAPIError as err:
            raise unavailable("update of the process document", err) from err

    def commit_process(
        self,
        process: str,
        fields: dict[str, Any],
        known: datetime | None,
        items: Sequence[ItemWrite] = (),
        run_record: tuple[str, dict[str, Any]] | None = None,
    ) -> datetime:
        """Write the process document (and items, and a run record) atomically,
        on condition that the process document is still at ``known``
        (None: that it does not exist yet). Returns its new update time, or
        raises PreconditionFailed when another writer came first.
        """
        batch = self.client.batch()
        ref = self.process_ref(process)
        if known is None:
            batch.create(ref, {"schema_version": SCHEMA_VERSION, "process_name": process, **fields})
        else:
            batch.update(ref, fields, option=self.client.write_option(last_update_time=known))
        work = self.work_ref(process)
        for item in items:
            batch.update(
                work.document(item.name),
                item.fields,
                option=self.client.write_option(last_update_time=item.read_time),
            )
        if run_record is not None:
            record_id, record = run_record
            batch.set(self.runs_ref(process).document(record_id), record)
        try:
            results = batch.commit(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except _PRECONDITION as err:
            raise PreconditionFailed(str(err)) from err
        except gexc.GoogleAPIError as err:
            raise unavailable("checkpoint commit", err) from err
        update_time: datetime = results[0].update_time
        return update_time

    # -- work items ---------------------------------------------------------
    def _pending_query(self, process: str, slot: datetime) -> Any:
        # Active items sort before cleanup items (ACTIVE < CLEANUP), then the
        # longest-waiting first, then by name. Uses ``indexes.PENDING_WORK``.
        return (
            self.work_ref(process)
            .where(filter=FieldFilter("list", "in", [ACTIVE, CLEANUP]))
            .where(filter=FieldFilter("done_slot", "<", slot))
        )

    def pending(
        self, process: str, slot: datetime, stream_timeout: Callable[[], float | None]
    ) -> Iterator[ItemSnapshot]:
        """Active then cleanup items not yet done in ``slot``, in one streamed query.

        Only the fields a worker needs are read. Each (re)issued stream gets the
        deadline ``stream_timeout()`` so a Firestore that stops answering ends
        the stream instead of blocking the tick; a transient error resumes after
        the last item read, a bounded number of times, with jittered backoff.
        Once ``stream_timeout()`` is None (no time left), a stream that ends
        early raises StreamCut.
        """
        query = (
            self._pending_query(process, slot)
            .order_by("list")
            .order_by("done_slot")
            .order_by(FieldPath.document_id())
            .select(PENDING_FIELDS)
        )
        last: Any = None
        failures = 0
        while True:
            resumed = query if last is None else query.start_after(last)
            try:
                # No client retry: its own mid-stream resume has no bound.
                timeout = stream_timeout()
                if timeout is None:
                    raise StreamCut("no time left to reopen the pending-items query")
                for doc in resumed.stream(retry=NO_RETRY, timeout=timeout):
                    last = doc
                    failures = 0
                    yield ItemSnapshot(doc.id, doc.to_dict() or {}, doc.update_time)
                return
            except TRANSIENT as err:
                if stream_timeout() is None:
                    raise StreamCut(f"the pending-items query ended late: {err}") from err
                failures += 1
                if failures > MAX_STREAM_RESUMES:
                    raise unavailable("query of pending items", err) from err
                self.sleep(backoff(failures, self.rng))
            except gexc.GoogleAPIError as err:
                raise unavailable("query of pending items", err) from err

    def count_pending(self, process: str, slot: datetime) -> int:
        """How many items are still pending in ``slot`` (one count aggregation)."""
        try:
            result = (
                self._pending_query(process, slot)
                .count()
                .get(retry=RETRY, timeout=COUNT_TIMEOUT_SECONDS)
            )
        except gexc.GoogleAPIError as err:
            raise unavailable("count of pending items", err) from err
        return int(result[0][0].value)

    def get_items(self, process: str, names: Iterable[str]) -> dict[str, ItemSnapshot]:
        """The named items that exist, in one batched read."""
        work = self.work_ref(process)
        refs = [work.document(name) for name in names]
        try:
            snaps = self.client.get_all(refs, retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
            return {
                s.id: ItemSnapshot(s.id, s.to_dict() or {}, s.update_time)
                for s in snaps
                if s.exists
            }
        except gexc.GoogleAPIError as err:
            raise unavailable("read of work items", err) from err

    def write_items(
        self,
        process: str,
        creates: dict[str, dict[str, Any]],
        updates: Sequence[ItemWrite],
        process_fields: dict[str, Any],
    ) -> None:
        """Create and update items (conditionally) and merge ``process_fields``
        into the process document, all in one atomic batch.
        """
        batch = self.client.batch()
        work = self.work_ref(process)
        for name, data in creates.items():
            batch.create(work.document(name), data)
        for item in updates:
            batch.update(
                work.document(item.name),
                item.fields,
                option=self.client.write_option(last_update_time=item.read_time),
            )
        process_fields = {
            "schema_version": SCHEMA_VERSION,
            "process_name": process,
            **process_fields,
        }
        batch.set(self.process_ref(process), process_fields, merge=list(process_fields))
        try:
            batch.commit(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except _PRECONDITION as err:
            raise PreconditionFailed(str(err)) from err
        except gexc.GoogleAPIError as err:
            raise unavailable("write of work items", err) from err

    def list_items(
        self,
        process: str,
        page_size: int,
        start_after: str | None = None,
        list_name: str | None = None,
        state: str | None = None,
    ) -> list[ItemSnapshot]:
        """A page of items in name order, optionally of one list and/or status state."""
        query = self.work_ref(process)
        q: Any = query
        if list_name is not None:
            q = q.where(filter=FieldFilter("list", "==", list_name))
        if state is not None:
            q = q.where(filter=FieldFilter("status.state", "==", state))
        q = q.order_by(FieldPath.document_id())
        if start_after is not None:
            q = q.start_after(
                {FieldPath.document_id(): self.work_ref(process).document(start_after)}
            )
        try:
            return [
                ItemSnapshot(d.id, d.to_dict() or {}, d.update_time)
                for d in q.limit(page_size).stream(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
            ]
        except gexc.GoogleAPIError as err:
            raise unavailable("list of work items", err) from err

    # -- run records ----------------------------------------------------------
    def list_runs(
        self, process: str, page_size: int, start_after: datetime | None = None
    ) -> list[tuple[str, dict[str, Any]]]:
        """A page of run records, newest slot first, after the slot ``start_after``."""
        # Firestore scans document ids ascending only: order by the slot field.
        q: Any = self.runs_ref(process).order_by("run.slot", direction=firestore.Query.DESCENDING)
        if start_after is not None:
            q = q.start_after({"run.slot": start_after})
        try:
            return [
                (d.id, d.to_dict() or {})
                for d in q.limit(page_size).stream(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
            ]
        except gexc.GoogleAPIError as err:
            raise unavailable("list of runs", err) from err


def conflict_after_retries(what: str) -> Conflict:
    """The error when optimistic retries kept losing to concurrent writers."""
    return Conflict(f"{what}: concurrent writers kept changing the same documents; retry")
