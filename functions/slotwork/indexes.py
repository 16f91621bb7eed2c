"""The Firestore composite indexes the store's queries need.

Terraform creates exactly these (``terraform/firestore.tf``); a test checks
the two agree, and the store's query builders cite the entry they rely on.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CompositeIndex:
    """One composite index: a collection group and its ordered fields."""

    collection_group: str
    fields: tuple[tuple[str, str], ...]  # (field path, "ASCENDING" | "DESCENDING")


# Pending items of an unsharded process: where list in [ACTIVE, CLEANUP] and
# done_slot < slot, order by list descending (cleanup first), done_slot,
# __name__ (and the same filters counted).
PENDING_WORK = CompositeIndex("work", (("list", "DESCENDING"), ("done_slot", "ASCENDING")))
# Pending items of one shard: the same, and bucket >= low and bucket < high,
# ordered by bucket after done_slot.
PENDING_SHARD_WORK = CompositeIndex(
    "work", (("list", "DESCENDING"), ("done_slot", "ASCENDING"), ("bucket", "ASCENDING"))
)
# (Run records are listed by run.slot then __name__, both descending: served by
# the automatic single-field index.)

COMPOSITE_INDEXES: tuple[CompositeIndex, ...] = (PENDING_WORK, PENDING_SHARD_WORK)
