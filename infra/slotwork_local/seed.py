"""Demo work for the local stack: collections with aging documents and sweeper items.

Each demo collection gets documents whose ``created_at`` is spread evenly over
``spread`` seconds before now, so some are already past the maximum age and
more age out as the demo runs: the user watches the counts fall slot by slot.
Seeding is idempotent (fixed document ids, re-registration is a no-op).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from google.cloud import firestore

import slotwork

PROCESS = "ttl-sweeper"
BATCH = 500  # Firestore's limit of writes per batch


@dataclass(frozen=True)
class DemoCollection:
    """A demo collection: how many documents, spread over how long, swept after what age."""

    name: str
    documents: int
    spread: timedelta
    max_age: timedelta

    @property
    def params(self) -> dict[str, dict[str, object]]:
        """The sweeper item's params for this collection."""
        return {
            "string_params": {"collection": self.name, "timestamp_field": "created_at"},
            "int_params": {"max_age_seconds": int(self.max_age.total_seconds())},
        }


DEMO_COLLECTIONS = (
    DemoCollection("demo_sessions", 40, timedelta(minutes=4), timedelta(minutes=2)),
    DemoCollection("demo_events", 60, timedelta(minutes=10), timedelta(minutes=5)),
)


def seed_documents(client: firestore.Client, demo: DemoCollection, now: datetime) -> None:
    """Write the collection's documents, the newest at ``now``, the oldest ``spread`` before."""
    step = demo.spread / max(1, demo.documents - 1)
    batch = client.batch()
    for n in range(demo.documents):
        created = now - step * n
        ref = client.collection(demo.name).document(f"doc-{n:04d}")
        batch.set(ref, {"created_at": created, "n": n, "demo": True})
        if (n + 1) % BATCH == 0:
            batch.commit()
            batch = client.batch()
    batch.commit()


def seed(
    app: slotwork.App,
    client: firestore.Client,
    now: datetime,
    frequency: timedelta,
    collections: tuple[DemoCollection, ...] = DEMO_COLLECTIONS,
) -> None:
    """Seed every demo collection, register one sweeper item each, set the slot frequency."""
    for demo in collections:
        seed_documents(client, demo, now)
    app.register_many(PROCESS, [(demo.name, demo.params) for demo in collections])
    app.update_settings(PROCESS, frequency=frequency)


def expired_count(demo: DemoCollection, now: datetime, seeded_at: datetime) -> int:
    """How many of the seeded documents are older than the max age at ``now``."""
    step = demo.spread / max(1, demo.documents - 1)
    cutoff = now - demo.max_age
    return sum(1 for n in range(demo.documents) if seeded_at - step * n < cutoff)
