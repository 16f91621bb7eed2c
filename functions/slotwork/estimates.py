"""A run's progress as people read it: done, left and failed of its frozen total,
the rate over the last minutes, and when it will be done at that rate.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from slotwork.schema import Estimate, Shard
from slotwork.schema.documents import datetime_to_ts, ts_to_datetime

# The rate is measured over the progress points of this last stretch of time.
RATE_WINDOW = timedelta(minutes=5)


def rate_of(part: Shard) -> float:
    """Items per second of one shard over the last ``RATE_WINDOW`` of its progress."""
    points = [(ts_to_datetime(p.time), p.done) for p in part.progress]
    if not points:
        return 0.0
    last_time, last_done = points[-1]
    recent = [p for p in points if p[0] >= last_time - RATE_WINDOW]
    first_time, first_done = recent[0]
    if first_time == last_time and part.status.HasField("start_time"):
        first_time, first_done = ts_to_datetime(part.status.start_time), 0
    seconds = (last_time - first_time).total_seconds()
    return max(0.0, (last_done - first_done) / seconds) if seconds > 0 else 0.0


def part_estimate(part: Shard, now: datetime, slot_end: datetime) -> Estimate:
    """One shard's part of the run."""
    return _estimate(
        part.items_total, part.items_done, part.items_failed, rate_of(part), now, slot_end
    )


def run_estimate(
    parts: Iterable[Shard], now: datetime, slot_end: datetime, changed: int = 0
) -> Estimate:
    """A whole run: the shards' parts added up, plus the items ``changed`` since it
    began (registered, unregistered or released: each may be one more to do);
    its ETA is the latest of the shards'."""
    parts = list(parts)
    total = sum(p.items_total for p in parts) + max(0, changed)
    done = sum(min(p.items_done, p.items_total) for p in parts)
    failed = sum(p.items_failed for p in parts)
    estimates = [part_estimate(p, now, slot_end) for p in parts]
    combined = _estimate(total, done, failed, sum(e.rate for e in estimates), now, slot_end)
    if any(e.left and not e.HasField("eta") for e in estimates):
        combined.ClearField("eta")  # a shard that has not moved yet: no honest ETA
        combined.finishes_in_slot = False
    elif estimates and combined.left:
        latest = max(ts_to_datetime(e.eta) for e in estimates if e.HasField("eta"))
        combined.eta.CopyFrom(datetime_to_ts(latest))
        combined.finishes_in_slot = latest <= slot_end
    return combined


def final_estimate(total: int, left: int, failed: int, slot_end: datetime) -> Estimate:
    """A finished run: nothing more moves."""
    estimate = Estimate(
        total=total, done=max(0, total - left), left=left, failed=failed, finishes_in_slot=not left
    )
    estimate.slot_end.CopyFrom(datetime_to_ts(slot_end))
    return estimate


def _estimate(
    total: int, done: int, failed: int, rate: float, now: datetime, slot_end: datetime
) -> Estimate:
    done = min(done, total) if total else done
    left = max(0, total - done)
    estimate = Estimate(total=max(total, done), done=done, left=left, failed=failed, rate=rate)
    estimate.slot_end.CopyFrom(datetime_to_ts(slot_end))
    if not left:
        estimate.eta.CopyFrom(datetime_to_ts(now))
        estimate.finishes_in_slot = True
    elif rate > 0:
        eta = now + timedelta(seconds=left / rate)
        estimate.eta.CopyFrom(datetime_to_ts(eta))
        estimate.finishes_in_slot = eta <= slot_end
    return estimate
