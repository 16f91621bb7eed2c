"""The floor: the bare Firestore operations a slot's work needs, with a plain client.

Stream the engine's own query (same filters, same order), then write each
item's new status and ``done_slot`` in commits of 400, as the engine's
checkpoints do. With ``preconditions`` each item write is conditional on the
update time it was read at (the honest floor: fencing and concurrent
registrations need it); without, the writes are blind (the absolute floor).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter
from google.cloud.firestore_v1.field_path import FieldPath

from benchmarks.fixtures import COLLECTION, FREQUENCY, PROCESS, SlotClock, work_collection
from slotwork import rules
from slotwork.model import ACTIVE

BATCH = 400  # the engine's MAX_CHECKPOINT_ITEMS


@dataclass(frozen=True)
class FloorResult:
    processed: int
    commits: int


def pending_query(
    client: firestore.Client, slot: datetime, process: str = PROCESS, collection: str = COLLECTION
) -> Any:
    """The engine's pending-items query (store.FirestoreStore.pending), built independently."""
    return (
        work_collection(client, process, collection)
        .where(filter=FieldFilter("list", "==", ACTIVE))
        .where(filter=FieldFilter("done_slot", "<", slot))
        .order_by("done_slot")
        .order_by(FieldPath.document_id())
    )


def run_floor(
    client: firestore.Client,
    clock: SlotClock,
    preconditions: bool = True,
    process: str = PROCESS,
    collection: str = COLLECTION,
) -> FloorResult:
    """Do one slot's bookkeeping the bare way; returns what it did."""
    slot = rules.slot_of(clock(), FREQUENCY)
    batch = client.batch()
    queued = processed = commits = 0
    for doc in pending_query(client, slot, process, collection).stream():
        now = datetime.now(UTC)
        fields = {
            "status": {
                "state": "COMPLETED",
                "start_time": now,
                "finish_time": now,
                "stats": {},
                "errors": [],
                "total_errors": 0,
            },
            "done_slot": slot,
        }
        if preconditions:
            option = client.write_option(last_update_time=doc.update_time)
            batch.update(doc.reference, fields, option=option)
        else:
            batch.update(doc.reference, fields)
        queued += 1
        processed += 1
        if queued == BATCH:
            batch.commit()
            commits += 1
            batch = client.batch()
            queued = 0
    if queued:
        batch.commit()
        commits += 1
    return FloorResult(processed, commits)
