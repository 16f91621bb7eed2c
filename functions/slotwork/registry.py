"""Registering, unregistering and releasing work items: the list rules, applied
with optimistic concurrency (one commit conditional on what was read, retried
when another writer came first).

An item is on exactly one list. Registering makes it active (cancelling a
pending cleanup, reviving a dropped item, releasing a quarantined one whose
params change); registering it again with equal params changes nothing.
Unregistering moves an active or quarantined item to cleanup; one already
waiting for cleanup, or dropped, stays as it is. Releasing makes a
quarantined item active again.

Every change also counts in the process document's ``work_version`` (an
increment, never a read-modify-write): a finished slot runs again for what
changed. Nothing here writes a shard document, so registrations never touch
the fence of a running tick.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from slotwork.buckets import bucket_of
from slotwork.clock import EPOCH
from slotwork.errors import Conflict, NotFound
from slotwork.model import ACTIVE, CLEANUP, DROPPED, NEW, QUARANTINED
from slotwork.schema import Params
from slotwork.schema import Process as ProcessState
from slotwork.store import (
    Commit,
    Counter,
    ItemFields,
    ItemStatus,
    ItemWrite,
    PreconditionFailed,
    ProcessChange,
    StateStore,
    StoredItem,
)

MAX_ATTEMPTS = 5  # a change losing this many races in a row reports a conflict
# Items per commit: one request's batch (Firestore no longer limits writes per commit).
MAX_BATCH = 500


@dataclass(frozen=True)
class Registration:
    """What registering one item did."""

    name: str
    created: bool
    changed: bool


@dataclass(frozen=True)
class Change:
    """What one operation does to one item: the write (None: nothing to do) and how
    it moves the process's count of quarantined items."""

    write: ItemWrite | None
    quarantined: int = 0
    created: bool = False


Decide = Callable[[str, StoredItem | None, datetime], Change]


def fresh_fields(
    list_name: str, name: str, now: datetime, params: Params | None, found: StoredItem | None
) -> ItemFields:
    """An item's fields as (re)registered or unregistered: nothing done in any slot.
    Retry and quarantine state is written only to reset what ``found`` holds (an
    absent field reads as its default, and every field written costs each tick)."""
    retried = found is not None and (
        found.attempts or found.attempt_slot is not None or found.next_attempt_time is not None
    )
    failed = found is not None and (found.failed_slots or found.list == QUARANTINED)
    return ItemFields(
        list=list_name,
        params=params,
        modified=now,
        status=ItemStatus(state=NEW),
        done_slot=EPOCH,
        bucket=bucket_of(name) if found is None or found.bucket is None else None,
        attempts=0 if retried else None,
        attempt_slot=EPOCH if retried else None,
        next_attempt_time=EPOCH if retried else None,
        failed_slots=0 if failed else None,
        quarantine_reason="" if failed else None,
    )


def conflict_after_retries(what: str) -> Conflict:
    """The error when optimistic retries kept losing to concurrent writers."""
    return Conflict(f"{what}: concurrent writers kept changing the same documents; retry")


class Registry:
    """Register, unregister and release the items of one store."""

    def __init__(self, store: StateStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def register(self, process: str, items: Sequence[tuple[str, Params]]) -> list[Registration]:
        """Register ``items`` atomically per batch of ``MAX_BATCH``; idempotent for equal params."""
        wanted = dict(items)
        results: list[Registration] = []

        def decide(name: str, found: StoredItem | None, now: datetime) -> Change:
            params = wanted[name]
            fields = fresh_fields(ACTIVE, name, now, params, found)
            if found is None:
                return Change(ItemWrite(name, fields, None), created=True)
            if found.list in (ACTIVE, QUARANTINED) and found.params == params:
                return Change(None)
            released = -1 if found.list == QUARANTINED else 0
            return Change(ItemWrite(name, fields, found.update_time), quarantined=released)

        for start in range(0, len(items), MAX_BATCH):
            names = [name for name, _ in items[start : start + MAX_BATCH]]
            changes = self._apply(process, names, decide, f"registering work in {process}")
            results.extend(
                Registration(name, c.created, c.write is not None)
                for name, c in zip(names, changes, strict=True)
            )
        return results

    def unregister(
        self, process: str, names: Sequence[str], missing_ok: bool = False
    ) -> list[bool]:
        """Send ``names`` to cleanup; False for those already waiting for it or dropped.
        An unknown name is NotFound unless ``missing_ok`` (then False)."""

        def decide(name: str, found: StoredItem | None, now: datetime) -> Change:
            if found is None:
                if missing_ok:
                    return Change(None)
                raise NotFound(f"work item {name!r} of process {process!r} not found")
            if found.list in (CLEANUP, DROPPED):
                return Change(None)
            fields = fresh_fields(CLEANUP, name, now, None, found)
            released = -1 if found.list == QUARANTINED else 0
            return Change(ItemWrite(name, fields, found.update_time), quarantined=released)

        changes = self._apply(process, names, decide, f"unregistering work in {process}")
        return [c.write is not None for c in changes]

    def release(self, process: str, names: Sequence[str], missing_ok: bool = False) -> list[bool]:
        """Make quarantined items active again (False for those that were not)."""

        def decide(name: str, found: StoredItem | None, now: datetime) -> Change:
            if found is None:
                if missing_ok:
                    return Change(None)
                raise NotFound(f"work item {name!r} of process {process!r} not found")
            if found.list != QUARANTINED:
                return Change(None)
            fields = fresh_fields(ACTIVE, name, now, found.params, found)
            return Change(ItemWrite(name, fields, found.update_time), quarantined=-1)

        changes = self._apply(process, names, decide, f"releasing work in {process}")
        return [c.write is not None for c in changes]

    def _apply(
        self, process: str, names: Sequence[str], decide: Decide, what: str
    ) -> list[Change]:
        """Decide each item's change from what is stored and commit them at once,
        with the process's counters; retried when another writer came first."""
        for _ in range(MAX_ATTEMPTS):
            now = self.clock()
            found = self.store.get_items(process, names)
            changes = [decide(name, found.get(name), now) for name in names]
            writes = [c.write for c in changes if c.write is not None]
            if not writes:
                return changes
            exists = self.store.read_process(process).update_time is not None
            increments: dict[Counter, float] = {
                Counter.WORK_VERSION: 1,
                Counter.ITEMS_CHANGED: len(writes),
            }
            quarantined = sum(c.quarantined for c in changes)
            if quarantined:
                increments[Counter.QUARANTINED_ITEMS] = quarantined
            # A process document created here has only items with buckets; one
            # written by an earlier version may have items without.
            change = ProcessChange(
                values=ProcessState(buckets_complete=True),
                fields=frozenset() if exists else frozenset({"buckets_complete"}),
                increments=increments,
                create=not exists,
            )
            try:
                self.store.commit(process, Commit(items=writes, process=change))
                return changes
            except PreconditionFailed:
                continue
        raise conflict_after_retries(what)
