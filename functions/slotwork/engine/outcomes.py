"""What a finished worker call means for its item: done for the slot, tried
again after a backoff, or set aside (quarantined); and the fields to write.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from slotwork import rules
from slotwork.clock import EPOCH
from slotwork.context import ItemContext, error_text
from slotwork.engine.dispatch import Finished
from slotwork.errors import Gone, Permanent, RetryAfter
from slotwork.model import DROPPED, QUARANTINED
from slotwork.policies import Retry
from slotwork.schema import Status
from slotwork.store import ItemFields, ItemStatus, ItemWrite, StoredItem


class Kind(enum.Enum):
    """What happened to an item."""

    DONE = "done"  # processed, without errors
    FAILED = "failed"  # processed, with errors, final for the slot
    RETRY = "retry"  # failed, tried again later in the slot
    QUARANTINED = "quarantined"  # failed in too many slots in a row: set aside
    CLEANED = "cleaned"  # cleaned up (or already gone): dropped
    DIRTY = "dirty"  # its cleanup failed


@dataclass(frozen=True)
class Verdict:
    """An item's fate after one call, and the write that records it."""

    kind: Kind
    write: ItemWrite
    retry_at: datetime | None = None
    state: Status.State = Status.COMPLETED


def attempts_before(item: StoredItem, slot: datetime) -> int:
    """Failed attempts of ``item`` earlier in ``slot``."""
    return item.attempts if item.attempt_slot == slot else 0


def record_raised(finished: Finished) -> tuple[bool, bool, float | None]:
    """Record what the worker raised on its context: (gone, permanent, retry after s)."""
    error = finished.error
    job = finished.job
    ctx = job.ctx
    if error is None:
        return False, False, None
    if isinstance(error, Gone):
        if job.cleanup:
            return True, False, None
        ctx.add_error("worker raised Gone while processing an active item")
        return False, False, None
    ctx.add_error(error if not job.cleanup else f"clean up: {error_text(error)}")
    if isinstance(error, RetryAfter):
        return False, False, error.seconds
    return False, isinstance(error, Permanent), None


def judge(
    finished: Finished,
    slot: datetime,
    retry: Retry,
    quarantine_after: int,
    run_aborted: bool,
    rng: random.Random,
    seeded_errors: int,
) -> Verdict:
    """The fate of ``finished``'s item. ``seeded_errors``: the errors its context
    started with (from earlier attempts in the slot)."""
    job = finished.job
    ctx = job.ctx
    item = job.item
    gone, permanent, retry_after = record_raised(finished)
    failed = ctx.errors.total > seeded_errors
    state = rules.final_state(ctx.item_aborted, ctx.errors.total if failed else 0)
    status = _status(ctx, state, finished)
    tries = attempts_before(item, slot) + 1
    # Only what changes is written: every field written costs each tick.
    if job.cleanup:
        if gone or not failed:
            fields = ItemFields(
                status=status,
                done_slot=slot,
                list=DROPPED,
                modified=finished.finished,
            )
            return _verdict(Kind.CLEANED, item, fields, state)
        dirty = ItemFields(status=status, done_slot=slot)
        return _verdict(Kind.DIRTY, item, dirty, state)
    retryable = failed and not (permanent or ctx.item_aborted or run_aborted)
    if retryable and tries < retry.attempts:
        delay = (
            timedelta(seconds=retry_after)
            if retry_after is not None
            else retry.delay(tries, rng)
        )
        due = finished.finished + delay
        fields = ItemFields(
            status=status, attempts=tries, attempt_slot=slot, next_attempt_time=due
        )
        return Verdict(Kind.RETRY, ItemWrite(item.name, fields, item.update_time), due, state)
    failed_slots = item.failed_slots + 1 if failed else 0
    retried = item.attempts or item.attempt_slot is not None or item.next_attempt_time is not None
    done = ItemFields(
        status=status,
        done_slot=slot,
        attempts=0 if retried else None,
        attempt_slot=EPOCH if retried else None,
        next_attempt_time=EPOCH if retried else None,
        failed_slots=failed_slots if failed_slots != item.failed_slots else None,
    )
    if failed and quarantine_after and failed_slots >= quarantine_after:
        last = ctx.errors.recent[-1].text if ctx.errors.recent else "unknown"
        fields = replace(
            done,
            list=QUARANTINED,
            modified=finished.finished,
            quarantine_reason=f"failed in {failed_slots} slots in a row; last error: {last}"[:1024],
        )
        return _verdict(Kind.QUARANTINED, item, fields, state)
    return _verdict(Kind.FAILED if failed else Kind.DONE, item, done, state)


def _verdict(kind: Kind, item: StoredItem, fields: ItemFields, state: Status.State) -> Verdict:
    return Verdict(kind, ItemWrite(item.name, fields, item.update_time), None, state)


def _status(ctx: ItemContext, state: Status.State, finished: Finished) -> ItemStatus:
    return ItemStatus(
        state=Status.State.Name(state),
        start_time=finished.started,
        finish_time=finished.finished,
        stats=dict(ctx.stats),
        errors=list(ctx.errors.recent),
        total_errors=ctx.errors.total,
        last_error_time=ctx.errors.last_time,
    )
