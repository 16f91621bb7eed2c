"""The one-time migration of a process whose items were written before items had
buckets: before its first sharded run, every item gets its bucket.

Shard 0's tick does it, page by page in name order, each item written only if
unchanged since it was read (a concurrent register writes the bucket itself);
the other shards wait for it (``busy``). Unsharded processes need no bucket
(their pending query has no bucket filter), so they are never held up.
"""

from __future__ import annotations

import logging

from slotwork.buckets import bucket_of
from slotwork.engine.state import TickDeps
from slotwork.logs import event
from slotwork.schema import Process as ProcessState
from slotwork.store import Commit, ItemFields, ItemWrite, PreconditionFailed, ProcessChange

PAGE = 500
# A page that keeps losing races to registrations is read again this many times.
MAX_PAGE_ATTEMPTS = 5


def backfill(deps: TickDeps, remaining: float) -> bool:
    """Give buckets to the items that lack one, while ``remaining()`` seconds last;
    True once every item has one (recorded in the process document)."""
    after: str | None = None
    written = 0
    started = deps.clock()
    while (deps.clock() - started).total_seconds() < remaining:
        page = deps.store.scan_items(deps.name, after, PAGE)
        if not page:
            change = ProcessChange(
                values=ProcessState(buckets_complete=True), fields=frozenset({"buckets_complete"})
            )
            deps.store.commit(deps.name, Commit(process=change))
            event(
                logging.INFO,
                "every item has its bucket: the process can run sharded",
                event="backfill",
                process=deps.name,
                items_written=written,
            )
            return True
        missing = [item for item in page if item.bucket is None]
        for _ in range(MAX_PAGE_ATTEMPTS):
            writes = [
                ItemWrite(item.name, ItemFields(bucket=bucket_of(item.name)), item.update_time)
                for item in missing
            ]
            if not writes:
                break
            try:
                deps.store.commit(deps.name, Commit(items=writes))
                written += len(writes)
                break
            except PreconditionFailed:
                # Some changed meanwhile: read them again (a register gave them buckets).
                again = deps.store.get_items(deps.name, [item.name for item in missing])
                missing = [item for item in again.values() if item.bucket is None]
        after = page[-1].name
    return False
