"""The store's typed values as document maps and back: the one mapping both the
Firestore store and the memory store use, so they store the same documents.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slotwork.clock import EPOCH
from slotwork.model import ACTIVE
from slotwork.params import params_from_doc, params_to_doc
from slotwork.schema import SCHEMA_VERSION, Process, RunRecord, Shard
from slotwork.schema.documents import as_utc, from_doc, to_doc
from slotwork.store.values import (
    ItemFields,
    ItemStatus,
    ProcessChange,
    StoredItem,
)

# The fields of an item the engine reads for a pending item. (Not its bucket: a
# shard's query selects on it, and an unsharded process needs none.)
PENDING_FIELDS = (
    "list",
    "status",
    "done_slot",
    "params",
    "attempts",
    "attempt_slot",
    "next_attempt_time",
    "failed_slots",
)
FieldPath = tuple[str, ...]


def status_doc(status: ItemStatus) -> dict[str, Any]:
    """An item's status as stored (a ``Status`` map)."""
    doc: dict[str, Any] = {
        "state": status.state,
        "stats": dict(status.stats),
        "errors": [{"time": e.time, "text": e.text} for e in status.errors],
        "total_errors": status.total_errors,
    }
    for name in ("start_time", "finish_time", "last_error_time"):
        value = getattr(status, name)
        if value is not None:
            doc[name] = value
    return doc


def item_fields_doc(fields: ItemFields) -> dict[str, Any]:
    """The stored fields ``fields`` sets (the others are left as they are)."""
    doc: dict[str, Any] = {}
    for name in (
        "list",
        "modified",
        "done_slot",
        "bucket",
        "attempts",
        "attempt_slot",
        "next_attempt_time",
        "failed_slots",
        "quarantine_reason",
    ):
        value = getattr(fields, name)
        if value is not None:
            doc[name] = value
    if fields.params is not None:
        doc["params"] = params_to_doc(fields.params)
    if fields.status is not None:
        doc["status"] = status_doc(fields.status)
    return doc


def new_item_doc(name: str, fields: ItemFields) -> dict[str, Any]:
    """The whole document of a new item."""
    return {"schema_version": SCHEMA_VERSION, "name": name, **item_fields_doc(fields)}


def _time(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    value = as_utc(value)
    return None if value <= EPOCH else value


def stored_item(name: str, doc: Mapping[str, Any], update_time: datetime) -> StoredItem:
    """A ``StoredItem`` from an item document (whole, or the pending fields)."""
    bucket = doc.get("bucket")
    return StoredItem(
        name,
        str(doc.get("list") or ACTIVE),
        params_from_doc(doc.get("params")),
        _time(doc.get("done_slot")) or EPOCH,
        update_time,
        bucket=bucket if isinstance(bucket, int) else None,
        attempts=int(doc.get("attempts") or 0),
        attempt_slot=_time(doc.get("attempt_slot")),
        next_attempt_time=_time(doc.get("next_attempt_time")),
        failed_slots=int(doc.get("failed_slots") or 0),
        doc=doc,
    )


def shard_doc(process: str, shard: Shard) -> dict[str, Any]:
    """A shard document, whole."""
    shard.schema_version = SCHEMA_VERSION
    shard.process_name = process
    return to_doc(shard)


def run_doc(process: str, record: RunRecord) -> dict[str, Any]:
    """A run record, whole."""
    record.schema_version = SCHEMA_VERSION
    record.process_name = process
    return to_doc(record)


def read_process_doc(data: Mapping[str, Any] | None) -> Process:
    return from_doc(Process, data)


@dataclass(frozen=True)
class ProcessPatch:
    """A ``ProcessChange`` as document edits: values to set at paths (replacing what
    is there) and numbers to add at paths."""

    sets: dict[FieldPath, Any]
    increments: dict[FieldPath, float]


def process_patch(process: str, change: ProcessChange) -> ProcessPatch:
    """The edits ``change`` makes to the process document."""
    values = to_doc(change.values)
    sets: dict[FieldPath, Any] = {
        ("schema_version",): SCHEMA_VERSION,
        ("process_name",): process,
    }
    for name in sorted(change.fields):
        if name not in Process.DESCRIPTOR.fields_by_name:
            raise ValueError(f"no field {name!r} in a process document")
        sets[(name,)] = values.get(name, _empty(name))
    if change.run_aborting:
        sets[("run", "aborting")] = True
    increments: dict[FieldPath, float] = {
        tuple(counter.value.split(".")): amount for counter, amount in change.increments.items()
    }
    for stat, amount in change.aggregate.items():
        increments[("aggregate_stats", stat)] = amount
    return ProcessPatch(sets, increments)


def _empty(name: str) -> Any:
    """The stored form of a field cleared to its default."""
    field = Process.DESCRIPTOR.fields_by_name[name]
    if field.message_type is not None:
        return None  # read back as unset
    default = field.default_value
    if field.enum_type is not None:
        return field.enum_type.values_by_number[default].name
    return default

