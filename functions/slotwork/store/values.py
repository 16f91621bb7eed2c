"""The typed values a ``StateStore`` reads and writes.

Reads return these (or the schema's messages), never loose dicts; every
write the engine, the registry and the App make is one of them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slotwork.schema import Params, Process, RunRecord, Shard, Status, Work
from slotwork.schema.documents import from_doc


class PreconditionFailed(Exception):
    """A conditional write lost to a concurrent writer: nothing of its commit was written."""


class StreamCut(Exception):
    """The pending-items stream ended early (timed out or broke) with no time left
    to reopen it: the tick hands over rather than fails.
    """


@dataclass(frozen=True)
class ProcessSnapshot:
    """The process document as read: ``update_time`` is None when it does not exist;
    ``read_time`` is the server's time of the read (None where there is no server)."""

    process: Process
    update_time: datetime | None
    read_time: datetime | None = None


@dataclass(frozen=True)
class ShardSnapshot:
    """One shard document as read: ``update_time`` is None when it was never claimed."""

    shard: Shard
    update_time: datetime | None


@dataclass(frozen=True)
class RunSnapshot:
    """One run record as read: ``update_time`` is None when it does not exist."""

    record: RunRecord
    update_time: datetime | None


class StoredItem:
    """A work item as read. ``status`` (the stored Status of its last processing)
    is decoded on first use: the hot path never needs it."""

    __slots__ = (
        "_doc",
        "_status",
        "attempt_slot",
        "attempts",
        "bucket",
        "done_slot",
        "failed_slots",
        "list",
        "name",
        "next_attempt_time",
        "params",
        "update_time",
    )

    def __init__(
        self,
        name: str,
        list_name: str,
        params: Params,
        done_slot: datetime,
        update_time: datetime,
        *,
        bucket: int | None = None,
        attempts: int = 0,
        attempt_slot: datetime | None = None,
        next_attempt_time: datetime | None = None,
        failed_slots: int = 0,
        doc: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.list = list_name
        self.params = params
        self.done_slot = done_slot
        self.update_time = update_time
        self.bucket = bucket
        self.attempts = attempts
        self.attempt_slot = attempt_slot
        self.next_attempt_time = next_attempt_time
        self.failed_slots = failed_slots
        self._doc = doc or {}
        self._status: Status | None = None

    @property
    def status_doc(self) -> Mapping[str, Any] | None:
        """The stored status map, undecoded (what a worker's ``item.status`` decodes)."""
        value = self._doc.get("status")
        return value if isinstance(value, Mapping) else None

    @property
    def status(self) -> Status:
        if self._status is None:
            self._status = from_doc(Status, self._doc.get("status"))
        return self._status

    def work(self) -> Work:
        """The whole item as the schema's message (for the API)."""
        return from_doc(Work, self._doc)

    def __repr__(self) -> str:
        return f"StoredItem(name={self.name!r}, list={self.list})"


@dataclass(frozen=True)
class ErrorEntry:
    """One recorded error."""

    time: datetime
    text: str


@dataclass(frozen=True)
class ItemStatus:
    """An item's status after one processing."""

    state: str
    start_time: datetime | None = None
    finish_time: datetime | None = None
    stats: Mapping[str, float] = field(default_factory=dict)
    errors: Sequence[ErrorEntry] = ()
    total_errors: int = 0
    last_error_time: datetime | None = None


@dataclass(frozen=True)
class ItemFields:
    """New values of an item's fields; None leaves a field as it is. A time of
    ``slotwork.clock.EPOCH`` means "none" (never done, no next attempt)."""

    list: str | None = None
    params: Params | None = None
    modified: datetime | None = None
    status: ItemStatus | None = None
    done_slot: datetime | None = None
    bucket: int | None = None
    attempts: int | None = None
    attempt_slot: datetime | None = None
    next_attempt_time: datetime | None = None
    failed_slots: int | None = None
    quarantine_reason: str | None = None


@dataclass(frozen=True)
class ItemWrite:
    """One item's new fields, conditional on the update time it was read at
    (``read_time`` None: a new item, created only if it does not exist)."""

    name: str
    fields: ItemFields
    read_time: datetime | None


@dataclass(frozen=True)
class ShardWrite:
    """A shard document written whole, conditional on the update time it was read
    at (``known`` None: created only if it does not exist)."""

    shard: Shard
    known: datetime | None


class RunWriteMode(enum.Enum):
    """How a run record is written."""

    CREATE = "create"  # only if no record of that id exists
    IF_UNCHANGED = "if_unchanged"  # only if still at RunWrite.known
    REPLACE = "replace"  # whatever is there


@dataclass(frozen=True)
class RunWrite:
    """A run record written whole."""

    record: RunRecord
    mode: RunWriteMode
    known: datetime | None = None


class Counter(enum.Enum):
    """Counters of the process document, changed by increments (never read-modify-write)."""

    SETTINGS_VERSION = "settings_version"
    WORK_VERSION = "work_version"
    QUARANTINED_ITEMS = "quarantined_items"
    ITEMS_CHANGED = "items_changed"
    RUN_COUNTED_ERRORS = "run.counted_errors"


@dataclass(frozen=True)
class ProcessChange:
    """A change of the process document, applied without a precondition (so it never
    loses to API traffic; the commit's shard write, if any, is what fences it).

    ``fields`` names top-level fields of ``values`` that replace the stored ones
    whole; ``increments`` add to counters; ``aggregate`` adds into
    ``aggregate_stats``; ``run_aborting`` sets ``run.aborting``. With ``create``
    the document must not exist yet (PreconditionFailed otherwise).
    """

    values: Process = field(default_factory=Process)
    fields: frozenset[str] = frozenset()
    increments: Mapping[Counter, float] = field(default_factory=dict)
    aggregate: Mapping[str, float] = field(default_factory=dict)
    run_aborting: bool = False
    create: bool = False


@dataclass(frozen=True)
class Commit:
    """Writes applied atomically: all of them, or (when any precondition fails) none."""

    shard: ShardWrite | None = None
    items: Sequence[ItemWrite] = ()
    runs: Sequence[RunWrite] = ()
    process: ProcessChange | None = None


@dataclass(frozen=True)
class Committed:
    """Update times a commit gave the documents it wrote: the shard document (None:
    not written), each run record and each item by name."""

    shard: datetime | None = None
    runs: Mapping[str, datetime] = field(default_factory=dict)
    items: Mapping[str, datetime] = field(default_factory=dict)
