"""Registering and unregistering work items: the list rules, applied with
optimistic concurrency (a batch conditional on what was read, retried on a race).

An item is on exactly one list. Registering makes it active (cancelling a
pending cleanup, reviving a dropped item); registering it again with equal
params changes nothing. Unregistering moves an active or dropped item to
cleanup; an item already waiting for cleanup stays as it is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from google.cloud.firestore import Increment

from slotwork.clock import EPOCH
from slotwork.errors import NotFound
from slotwork.params import params_from_doc, params_to_doc
from slotwork.schema import SCHEMA_VERSION, Params, Status
from slotwork.store import (
    ACTIVE,
    CLEANUP,
    MAX_BATCH,
    FirestoreStore,
    ItemSnapshot,
    ItemWrite,
    PreconditionFailed,
    conflict_after_retries,
)

MAX_ATTEMPTS = 5  # a register losing this many races in a row reports a conflict
NEW = Status.State.Name(Status.NEW)


@dataclass(frozen=True)
class Registration:
    """What registering one item did."""

    name: str
    created: bool
    changed: bool


def _fresh_status() -> dict[str, Any]:
    return {"state": NEW, "stats": {}, "errors": [], "total_errors": 0}


def settings_changed(now: datetime) -> dict[str, Any]:
    """Process-document fields that mark a change of items or settings: the grown
    settings_version tells a finished slot to run again for what changed.
    """
    return {"settings_version": Increment(1), "settings_time": now}


class Registry:
    """Register and unregister items of one store."""

    def __init__(self, store: FirestoreStore, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.clock = clock

    def register(self, process: str, items: Sequence[tuple[str, Params]]) -> list[Registration]:
        """Register ``items`` atomically per batch of 500; idempotent for equal params."""
        results: list[Registration] = []
        for start in range(0, len(items), MAX_BATCH - 1):
            results.extend(self._register_batch(process, items[start : start + MAX_BATCH - 1]))
        return results

    def _register_batch(
        self, process: str, items: Sequence[tuple[str, Params]]
    ) -> list[Registration]:
        for _ in range(MAX_ATTEMPTS):
            now = self.clock()
            existing = self.store.get_items(process, [name for name, _ in items])
            creates: dict[str, dict[str, Any]] = {}
            updates: list[ItemWrite] = []
            results = []
            for name, params in items:
                doc = {
                    "list": ACTIVE,
                    "params": params_to_doc(params),
                    "modified": now,
                    "status": _fresh_status(),
                    "done_slot": EPOCH,
                }
                snap = existing.get(name)
                if snap is None:
                    creates[name] = {"schema_version": SCHEMA_VERSION, "name": name, **doc}
                    results.append(Registration(name, created=True, changed=True))
                elif (
                    snap.data.get("list") == ACTIVE
                    and params_from_doc(snap.data.get("params")) == params
                ):
                    results.append(Registration(name, created=False, changed=False))
                else:
                    updates.append(ItemWrite(name, doc, snap.update_time))
                    results.append(Registration(name, created=False, changed=True))
            if not creates and not updates:
                return results
            try:
                self.store.write_items(process, creates, updates, settings_changed(now))
                return results
            except PreconditionFailed:
                continue
        raise conflict_after_retries(f"registering work in {process}")

    def unregister(self, process: str, name: str) -> bool:
        """Send ``name`` to cleanup; False when it already waits for cleanup."""
        for _ in range(MAX_ATTEMPTS):
            now = self.clock()
            snap: ItemSnapshot | None = self.store.get_items(process, [name]).get(name)
            if snap is None:
                raise NotFound(f"work item {name!r} of process {process!r} not found")
            if snap.data.get("list") == CLEANUP:
                return False
            fields = {
                "list": CLEANUP,
                "modified": now,
                "status": _fresh_status(),
                "done_slot": EPOCH,
            }
            try:
                self.store.write_items(
                    process, {}, [ItemWrite(name, fields, snap.update_time)], settings_changed(now)
                )
                return True
            except PreconditionFailed:
                continue
        raise conflict_after_retries(f"unregistering {name!r} in {process}")
