"""A TTL sweeper: deletes a collection's documents older than a maximum age.

Each work item names one top-level collection (``string_params["collection"]``),
a maximum age (``int_params["max_age_seconds"]``) and optionally the timestamp
field to compare (``string_params["timestamp_field"]``, default ``created_at``).
Processing deletes, in batches, every document whose timestamp is older than
``ctx.now() - max_age``, until none is left or the tick's deadline nears;
what is left then waits for the next slot. A document rewritten between the
query and its delete (a refreshed session) is not deleted: each delete is
conditional on the update time that was read. Re-running an item is harmless.

Bookkeeping lives in ``slotwork_ttl_sweeper/{item}`` (last sweep, totals);
cleanup deletes it. Documents without the timestamp field are never touched.

Which collections may be swept is the deployment's decision, not the item's:
only those on the allowlist (``SLOTWORK_TTL_SWEEPER_COLLECTIONS``, passed in
as a ``SweepScope``), and never slotwork's own collection
(``SLOTWORK_COLLECTION``) or the bookkeeping, even when listed. An item
naming any other collection fails with an error saying how to allow it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from google.api_core import exceptions as gexc
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

import slotwork
from slotwork.config import Config
from slotwork.params import validate_name

BOOKKEEPING_COLLECTION = "slotwork_ttl_sweeper"
DEFAULT_TIMESTAMP_FIELD = "created_at"
BATCH_SIZE = 500  # Firestore's limit of writes in one batch commit
# Never start a batch with less than this many seconds before the deadline, and
# at least twice the slowest batch seen in this sweep (learnt as it goes).
MIN_MARGIN_SECONDS = 2.0
# A batch whose conditional delete failed is re-read and retried; after this
# many failures in a row the documents are being rewritten faster than swept.
MAX_CONFLICTS_IN_A_ROW = 5
ALLOWLIST_VARIABLE = "SLOTWORK_TTL_SWEEPER_COLLECTIONS"

ClientFactory = Callable[[], firestore.Client]
Monotonic = Callable[[], float]
Snapshot = firestore.DocumentSnapshot[firestore.DocumentReference]


@dataclass(frozen=True)
class SweepScope:
    """The collections a sweeper may sweep (``allowed``) and those it never touches
    (``protected``, which wins over ``allowed``)."""

    allowed: frozenset[str]
    protected: frozenset[str]

    @classmethod
    def from_config(cls, config: Config) -> SweepScope:
        """The allowlist of the deployment; slotwork's collection and the bookkeeping protected."""
        return cls(
            allowed=frozenset(config.ttl_sweeper_collections),
            protected=frozenset({config.collection, BOOKKEEPING_COLLECTION}),
        )

    def check(self, collection: str) -> None:
        """InvalidArgument unless ``collection`` may be swept, saying why and what to do."""
        if collection in self.protected:
            raise slotwork.InvalidArgument(
                f"the sweeper refuses to sweep {collection!r}: it holds slotwork's own state "
                f"or the sweeper's bookkeeping (even when {ALLOWLIST_VARIABLE} lists it)"
            )
        if collection not in self.allowed:
            listed = ", ".join(sorted(self.allowed)) or "empty"
            raise slotwork.InvalidArgument(
                f"the sweeper may not sweep {collection!r}: it sweeps only the collections "
                f"listed in {ALLOWLIST_VARIABLE} (now {listed}); to allow it, add "
                f"{collection!r} to that comma-separated list in the function's environment"
            )


@dataclass(frozen=True)
class SweepSpec:
    """An item's validated parameters."""

    collection: str
    max_age: timedelta
    timestamp_field: str

    @classmethod
    def from_item(cls, item: slotwork.Item, scope: SweepScope) -> SweepSpec:
        """Validate the item's params against ``scope``; InvalidArgument names the bad one."""
        collection = validate_name(
            item.params.string_params.get("collection", ""), "string_params['collection']"
        )
        scope.check(collection)
        max_age = item.params.int_params.get("max_age_seconds", 0)
        if max_age <= 0:
            raise slotwork.InvalidArgument("int_params['max_age_seconds'] must be positive")
        field = item.params.string_params.get("timestamp_field") or DEFAULT_TIMESTAMP_FIELD
        if field.startswith("__") or "`" in field:
            raise slotwork.InvalidArgument(f"invalid timestamp_field {field!r}")
        return cls(collection, timedelta(seconds=max_age), field)


class TtlSweeper:
    """The worker: one item sweeps one collection (see the module docstring)."""

    def __init__(
        self,
        client_factory: ClientFactory,
        scope: SweepScope,
        *,
        batch_size: int = BATCH_SIZE,
        bookkeeping: str = BOOKKEEPING_COLLECTION,
        monotonic: Monotonic = time.monotonic,
    ) -> None:
        """``client_factory`` gives the Firestore client (called per item, so it can be
        created on first use); ``scope`` says which collections may be swept;
        ``monotonic`` times batches, for the deadline margin."""
        if not 1 <= batch_size <= BATCH_SIZE:
            raise ValueError(f"batch_size must be within 1..{BATCH_SIZE}")
        self._client_factory = client_factory
        # The bookkeeping in use is protected whatever its name.
        self.scope = SweepScope(scope.allowed, scope.protected | {bookkeeping})
        self.batch_size = batch_size
        self.bookkeeping = bookkeeping
        self._monotonic = monotonic

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        """Delete the item's expired documents, batch by batch, while time allows."""
        spec = SweepSpec.from_item(item, self.scope)
        client = self._client_factory()
        now = ctx.now()
        cutoff = now - spec.max_age
        scanned = deleted = conflicts = 0
        slowest = 0.0
        complete = False
        while ctx.remaining() > max(MIN_MARGIN_SECONDS, 2 * slowest):
            started = self._monotonic()
            batch = self.expired_batch(client, spec, cutoff)
            if not batch:
                complete = True
                break
            scanned += len(batch)
            try:
                self.delete(client, batch)
            except gexc.FailedPrecondition:
                # One of them changed since it was read: read the batch again.
                conflicts += 1
                if conflicts >= MAX_CONFLICTS_IN_A_ROW:
                    raise
                continue
            conflicts = 0
            deleted += len(batch)
            slowest = max(slowest, self._monotonic() - started)
        ctx.add_stat("scanned", scanned)
        ctx.add_stat("deleted", deleted)
        if not complete:
            ctx.add_stat("deferred")  # stopped for the deadline: the next slot goes on
        self._record(client, item.name, spec, now, ctx.slot, scanned, deleted, complete)

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        """Delete the sweeper's bookkeeping of the item (Gone if there is none)."""
        ref = self._client_factory().collection(self.bookkeeping).document(item.name)
        try:
            ref.delete(option=firestore.Client.write_option(exists=True))
        except gexc.NotFound:
            raise slotwork.Gone(f"no bookkeeping for {item.name!r}") from None

    # -- Firestore -------------------------------------------------------------------------
    def expired_batch(
        self, client: firestore.Client, spec: SweepSpec, cutoff: datetime
    ) -> list[Snapshot]:
        """Up to one batch of documents older than ``cutoff`` (only their timestamp read)."""
        query = (
            client.collection(spec.collection)
            .where(filter=FieldFilter(spec.timestamp_field, "<", cutoff))
            .select([spec.timestamp_field])
            .limit(self.batch_size)
        )
        return list(query.stream())

    def delete(self, client: firestore.Client, snaps: list[Snapshot]) -> None:
        """Delete ``snaps`` in one commit, each only if unchanged since it was read."""
        batch = client.batch()
        for snap in snaps:
            batch.delete(
                snap.reference,
                option=client.write_option(last_update_time=snap.update_time),
            )
        batch.commit()

    def _record(
        self,
        client: firestore.Client,
        name: str,
        spec: SweepSpec,
        now: datetime,
        slot: datetime,
        scanned: int,
        deleted: int,
        complete: bool,
    ) -> None:
        doc: dict[str, Any] = {
            "collection": spec.collection,
            "timestamp_field": spec.timestamp_field,
            "max_age_seconds": int(spec.max_age.total_seconds()),
            "last_sweep_time": now,
            "last_slot": slot,
            "last_scanned": scanned,
            "last_deleted": deleted,
            "last_complete": complete,
            # Counts of what was really deleted, so a re-run after a crash stays exact.
            "total_scanned": firestore.Increment(scanned),
            "total_deleted": firestore.Increment(deleted),
            "sweeps": firestore.Increment(1),
        }
        client.collection(self.bookkeeping).document(name).set(doc, merge=True)
