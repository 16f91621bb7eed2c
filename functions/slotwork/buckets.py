"""Spreading items over shards: a fixed hash of the name picks one of
``BUCKETS`` buckets, written on the item when it is registered; shard k of K
works a contiguous range of buckets. The shard count can change between slots
without rewriting any item.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

# Fine enough that 100 shards get equal shares to within 0.2%.
BUCKETS = 65536
# Cloud Scheduler allows 1,000 jobs per region by default and each shard is one.
MAX_SHARDS = 100


def bucket_of(name: str) -> int:
    """The bucket of an item name: stable across versions, machines and Pythons."""
    digest = hashlib.blake2b(name.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % BUCKETS


@dataclass(frozen=True)
class BucketRange:
    """The buckets ``[low, high)`` one shard works."""

    low: int
    high: int

    @property
    def whole(self) -> bool:
        """Whether the range covers every bucket (an unsharded process)."""
        return self.low == 0 and self.high == BUCKETS

    def __contains__(self, bucket: int) -> bool:
        return self.low <= bucket < self.high


def shard_range(shard: int, shards: int) -> BucketRange:
    """The buckets of shard ``shard`` of ``shards``: equal contiguous ranges."""
    if not 1 <= shards <= MAX_SHARDS:
        raise ValueError(f"shards must be within 1..{MAX_SHARDS}")
    if not 0 <= shard < shards:
        raise ValueError(f"shard must be within 0..{shards - 1}")
    return BucketRange(shard * BUCKETS // shards, (shard + 1) * BUCKETS // shards)
