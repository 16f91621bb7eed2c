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


# Pending items: where list in [ACTIVE, CLEANUP] and done_slot < slot,
# order by list, done_slot, __name__ (and the same filters counted).
PENDING_WORK = CompositeIndex("work", (("list", "ASCENDING"), ("done_slot", "ASCENDING")))

COMPOSITE_INDEXES: tuple[CompositeIndex, ...] = (PENDING_WORK,)
