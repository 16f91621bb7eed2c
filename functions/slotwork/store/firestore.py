"""``FirestoreStore``: the ``StateStore`` on Google Cloud Firestore.

``{collection}/{process}`` is the process document, ``.../shards/{k}`` the
shard documents, ``.../work/{item}`` the items, ``.../runs/{id}`` the run
records. Conditional writes use update-time preconditions (no transaction
anywhere: Firestore's server SDKs lock pessimistically, so transactions under
contention wait and time out where a precondition fails at once). Google
exceptions are translated here and never leave this module.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import datetime
from typing import Any, cast

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from slotwork.buckets import BucketRange
from slotwork.errors import StoreFailed, StoreUnavailable
from slotwork.model import PENDING_LISTS
from slotwork.retries import (
    CALL_TIMEOUT_SECONDS,
    NO_RETRY,
    RETRY,
    TRANSIENT,
    backoff,
    is_transient,
)
from slotwork.schema import Process, RunRecord, Shard
from slotwork.schema.documents import from_doc
from slotwork.store import StreamTimeout
from slotwork.store.documents import (
    PENDING_FIELDS,
    item_fields_doc,
    new_item_doc,
    process_patch,
    run_doc,
    shard_doc,
    stored_item,
)
from slotwork.store.documents import (
    FieldPath as Path,
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

WORK = "work"
RUNS = "runs"
SHARDS = "shards"
# A count scans the index: on the emulator about 1 s per 100,000 documents.
COUNT_TIMEOUT_SECONDS = 60.0
# Times a broken pending-items stream is resumed before the tick gives up.
MAX_STREAM_RESUMES = 5
# What a lost precondition race looks like on the wire.
_PRECONDITION = (gexc.FailedPrecondition, gexc.AlreadyExists, gexc.NotFound, gexc.Conflict)


def unavailable(what: str, err: Exception) -> StoreUnavailable | StoreFailed:
    """The error a caller sees when a Firestore call failed: unavailable (503, worth
    a retry) when it was transient or ran out of retries, else failed (500).
    """
    if is_transient(err) or isinstance(err, gexc.RetryError):
        return StoreUnavailable(f"Firestore {what} failed: {err}")
    return StoreFailed(f"Firestore {what} failed: {err}")


def _nested(paths: Mapping[Path, Any]) -> dict[str, Any]:
    """A nested map holding each value at its path."""
    root: dict[str, Any] = {}
    for path, value in paths.items():
        node = root
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return root


def _whole(doc: dict[str, Any], fields: Iterable[str]) -> dict[str, Any]:
    """``doc`` as an update that replaces the document whole: every other known
    top-level field is deleted."""
    return {**{name: firestore.DELETE_FIELD for name in fields if name not in doc}, **doc}


_SHARD_FIELDS = tuple(Shard.DESCRIPTOR.fields_by_name)
_RUN_FIELDS = tuple(RunRecord.DESCRIPTOR.fields_by_name)


class FirestoreStore:
    """slotwork's state in one top-level Firestore collection (see ``slotwork.store``)."""

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

    def _sub(self, process: str, name: str) -> firestore.CollectionReference:
        return cast(firestore.CollectionReference, self.process_ref(process).collection(name))

    def work_ref(self, process: str) -> firestore.CollectionReference:
        return self._sub(process, WORK)

    def runs_ref(self, process: str) -> firestore.CollectionReference:
        return self._sub(process, RUNS)

    def shards_ref(self, process: str) -> firestore.CollectionReference:
        return self._sub(process, SHARDS)

    # -- process and shard documents ------------------------------------------
    def read_process(self, process: str) -> ProcessSnapshot:
        try:
            snap = self.process_ref(process).get(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except gexc.GoogleAPIError as err:
            raise unavailable("read of the process document", err) from err
        if not snap.exists:
            return ProcessSnapshot(Process(), None, snap.read_time)
        return ProcessSnapshot(from_doc(Process, snap.to_dict()), snap.update_time, snap.read_time)

    def list_processes(self) -> dict[str, Process]:
        try:
            docs = self.client.collection(self.collection).stream(
                retry=RETRY, timeout=CALL_TIMEOUT_SECONDS
            )
            return {doc.id: from_doc(Process, doc.to_dict()) for doc in docs}
        except gexc.GoogleAPIError as err:
            raise unavailable("list of processes", err) from err

    def read_shard(self, process: str, index: int) -> ShardSnapshot:
        ref = self.shards_ref(process).document(str(index))
        try:
            snap = ref.get(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except gexc.GoogleAPIError as err:
            raise unavailable("read of a shard document", err) from err
        if not snap.exists:
            return ShardSnapshot(Shard(index=index), None)
        return ShardSnapshot(from_doc(Shard, snap.to_dict()), snap.update_time)

    def read_shards(self, process: str) -> dict[int, ShardSnapshot]:
        try:
            docs = list(self.shards_ref(process).stream(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS))
        except gexc.GoogleAPIError as err:
            raise unavailable("read of the shard documents", err) from err
        found: dict[int, ShardSnapshot] = {}
        for doc in docs:
            shard = from_doc(Shard, doc.to_dict())
            found[shard.index] = ShardSnapshot(shard, doc.update_time)
        return found

    # -- run records ----------------------------------------------------------
    def read_run(self, process: str, run_id: str) -> RunSnapshot:
        try:
            snap = self.runs_ref(process).document(run_id).get(
                retry=RETRY, timeout=CALL_TIMEOUT_SECONDS
            )
        except gexc.GoogleAPIError as err:
            raise unavailable("read of a run record", err) from err
        if not snap.exists:
            return RunSnapshot(RunRecord(), None)
        return RunSnapshot(from_doc(RunRecord, snap.to_dict()), snap.update_time)

    def list_runs(
        self, process: str, page_size: int, start_after: str | None = None
    ) -> list[RunRecord]:
        # Uses indexes.RUN_HISTORY: newest slot first, a slot's later runs first.
        q: Any = self.runs_ref(process).order_by(
            "run.slot", direction=firestore.Query.DESCENDING
        ).order_by(FieldPath.document_id(), direction=firestore.Query.DESCENDING)
        try:
            if start_after is not None:
                after = self.runs_ref(process).document(start_after).get(
                    retry=RETRY, timeout=CALL_TIMEOUT_SECONDS
                )
                if after.exists:
                    q = q.start_after(after)
            return [
                from_doc(RunRecord, d.to_dict())
                for d in q.limit(page_size).stream(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
            ]
        except gexc.GoogleAPIError as err:
            raise unavailable("list of runs", err) from err

    # -- work items ---------------------------------------------------------
    def _pending_query(self, process: str, slot: datetime, buckets: BucketRange) -> Any:
        # Uses indexes.PENDING_WORK (or PENDING_WORK_SHARD with a bucket range).
        query: Any = (
            self.work_ref(process)
            .where(filter=FieldFilter("list", "in", list(PENDING_LISTS)))
            .where(filter=FieldFilter("done_slot", "<", slot))
        )
        if not buckets.whole:
            query = query.where(filter=FieldFilter("bucket", ">=", buckets.low)).where(
                filter=FieldFilter("bucket", "<", buckets.high)
            )
        return query

    def pending(
        self, process: str, slot: datetime, buckets: BucketRange, stream_timeout: StreamTimeout
    ) -> Iterator[StoredItem]:
        # CLEANUP sorts after ACTIVE: descending puts cleanup first, so an
        # unregistered item never waits behind the active backlog.
        query = (
            self._pending_query(process, slot, buckets)
            .order_by("list", direction=firestore.Query.DESCENDING)
            .order_by("done_slot")
        )
        if not buckets.whole:
            query = query.order_by("bucket")
        query = query.order_by(FieldPath.document_id()).select(list(PENDING_FIELDS))
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
                    yield stored_item(doc.id, doc.to_dict() or {}, doc.update_time)
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

    def count_pending(self, process: str, slot: datetime, buckets: BucketRange) -> int:
        try:
            result = (
                self._pending_query(process, slot, buckets)
                .count()
                .get(retry=RETRY, timeout=COUNT_TIMEOUT_SECONDS)
            )
        except gexc.GoogleAPIError as err:
            raise unavailable("count of pending items", err) from err
        return int(result[0][0].value)

    def get_items(self, process: str, names: Iterable[str]) -> dict[str, StoredItem]:
        work = self.work_ref(process)
        refs = [work.document(name) for name in names]
        if not refs:
            return {}
        try:
            snaps = self.client.get_all(refs, retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
            return {
                s.id: stored_item(s.id, s.to_dict() or {}, s.update_time) for s in snaps if s.exists
            }
        except gexc.GoogleAPIError as err:
            raise unavailable("read of work items", err) from err

    def list_items(
        self,
        process: str,
        page_size: int,
        start_after: str | None = None,
        list_name: str | None = None,
        state: str | None = None,
    ) -> list[StoredItem]:
        q: Any = self.work_ref(process)
        if list_name is not None:
            q = q.where(filter=FieldFilter("list", "==", list_name))
        if state is not None:
            q = q.where(filter=FieldFilter("status.state", "==", state))
        return self._page(process, q, page_size, start_after, None)

    def scan_items(self, process: str, start_after: str | None, limit: int) -> list[StoredItem]:
        return self._page(process, self.work_ref(process), limit, start_after, ["bucket", "list"])

    def _page(
        self,
        process: str,
        query: Any,
        page_size: int,
        start_after: str | None,
        fields: list[str] | None,
    ) -> list[StoredItem]:
        q = query.order_by(FieldPath.document_id())
        if start_after is not None:
            after = self.work_ref(process).document(start_after)
            q = q.start_after({FieldPath.document_id(): after})
        if fields is not None:
            q = q.select(fields)
        try:
            return [
                stored_item(d.id, d.to_dict() or {}, d.update_time)
                for d in q.limit(page_size).stream(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
            ]
        except gexc.GoogleAPIError as err:
            raise unavailable("list of work items", err) from err

    # -- the one write path ---------------------------------------------------
    def commit(self, process: str, commit: Commit) -> Committed:
        batch = self.client.batch()
        order: list[tuple[str, str]] = []  # (kind, name) of each write, in order
        if commit.shard is not None:
            ref = self.shards_ref(process).document(str(commit.shard.shard.index))
            doc = shard_doc(process, commit.shard.shard)
            if commit.shard.known is None:
                batch.create(ref, doc)
            else:
                batch.update(
                    ref,
                    _whole(doc, _SHARD_FIELDS),
                    option=self.client.write_option(last_update_time=commit.shard.known),
                )
            order.append(("shard", ""))
        for run in commit.runs:
            ref = self.runs_ref(process).document(run.record.run.id)
            doc = run_doc(process, run.record)
            if run.mode is RunWriteMode.CREATE:
                batch.create(ref, doc)
            elif run.mode is RunWriteMode.IF_UNCHANGED:
                batch.update(
                    ref,
                    _whole(doc, _RUN_FIELDS),
                    option=self.client.write_option(last_update_time=run.known),
                )
            else:
                batch.set(ref, doc)
            order.append(("run", run.record.run.id))
        work = self.work_ref(process)
        for item in commit.items:
            if item.read_time is None:
                batch.create(work.document(item.name), new_item_doc(item.name, item.fields))
            else:
                batch.update(
                    work.document(item.name),
                    item_fields_doc(item.fields),
                    option=self.client.write_option(last_update_time=item.read_time),
                )
            order.append(("item", item.name))
        if commit.process is not None:
            patch = process_patch(process, commit.process)
            ref = self.process_ref(process)
            if commit.process.create:
                # A new document: its counters start at their increments.
                batch.create(ref, _nested({**patch.sets, **patch.increments}))
            else:
                increments = {p: firestore.Increment(v) for p, v in patch.increments.items()}
                paths = [*patch.sets, *increments]
                batch.set(
                    ref,
                    _nested({**patch.sets, **increments}),
                    merge=[FieldPath(*p) for p in paths],
                )
            order.append(("process", ""))
        try:
            results = batch.commit(retry=RETRY, timeout=CALL_TIMEOUT_SECONDS)
        except _PRECONDITION as err:
            raise PreconditionFailed(str(err)) from err
        except gexc.GoogleAPIError as err:
            raise unavailable("commit", err) from err
        times: dict[str, dict[str, datetime]] = {"shard": {}, "run": {}, "item": {}, "process": {}}
        for (kind, name), result in zip(order, results, strict=True):
            times[kind][name] = result.update_time
        return Committed(shard=times["shard"].get(""), runs=times["run"], items=times["item"])
