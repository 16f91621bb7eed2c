"""The rules of a tick, as pure functions: slots, frequency limits, the claim rule,
error limits. Each rule lives here once; the engine and the API call these.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from slotwork.clock import EPOCH
from slotwork.schema import Process, Status
from slotwork.schema.documents import ts_to_datetime

MAX_ITEM_ERRORS = 10  # as the seed library: the 11th error on an item aborts it
MAX_RUN_ERRORS = 25  # as the seed library: the 26th error in a run aborts the run
# A frequency that cannot be read counts as one hour, as in the seed library.
FALLBACK_FREQUENCY = timedelta(hours=1)


def clamp_frequency(frequency: timedelta, minimum: timedelta) -> timedelta:
    """A requested slot length, raised to ``minimum`` when below it (as the seed)."""
    if frequency <= timedelta(0):
        return FALLBACK_FREQUENCY
    return max(frequency, minimum)


def slot_of(now: datetime, frequency: timedelta) -> datetime:
    """The slot containing ``now``: floor(now / frequency) x frequency from the Unix epoch."""
    step = int(frequency.total_seconds() * 1_000_000)
    elapsed = (now - EPOCH) // timedelta(microseconds=1)
    return EPOCH + timedelta(microseconds=elapsed - elapsed % step)


def missed_slots_between(
    last_finished: datetime | None, slot: datetime, frequency: timedelta
) -> list[datetime]:
    """Slots strictly between the last finished run's slot and ``slot``: they never ran."""
    if last_finished is None or last_finished <= EPOCH:
        return []
    missed = []
    current = last_finished + frequency
    while current < slot:
        missed.append(current)
        current += frequency
    return missed


class Decision(enum.Enum):
    """What a tick does with the process document it read."""

    PAUSED = "paused"
    BUSY = "busy"
    DONE = "done"
    RESUME = "resumed"  # continue this slot's unfinished run
    CLAIM = "claimed"  # start a new run for this slot


FINAL_STATES = frozenset({Status.COMPLETED, Status.INCOMPLETE, Status.ABORTED})


def run_is_final(process: Process) -> bool:
    """Whether the process's current run has ended."""
    return process.run.status.state in FINAL_STATES


def lease_is_live(process: Process, now: datetime) -> bool:
    """Whether some instance holds an unexpired lease."""
    lease = process.lease
    return bool(lease.holder) and ts_to_datetime(lease.expire_time) > now


@dataclass(frozen=True)
class Claim:
    """The claim rule's verdict, and the slot it is about."""

    decision: Decision
    slot: datetime


def decide_claim(
    process: Process,
    now: datetime,
    slot: datetime,
    frequency: timedelta,
    run_late_within: timedelta | None = None,
) -> Claim:
    """The claim rule (DESIGN "Rules of a tick" 2, SEED_SPEC "A run" 1).

    Skip when paused, when another instance holds a live lease, or when this
    slot's run has ended and no register/unregister/settings change happened
    since it started. Otherwise resume this slot's unfinished run, or start a
    new one. With ``run_late_within``, an unfinished run of an earlier slot is
    resumed instead while its period ended less than that long ago.
    """
    if process.paused:
        return Claim(Decision.PAUSED, slot)
    if lease_is_live(process, now):
        return Claim(Decision.BUSY, slot)
    run = process.run
    has_run = run.HasField("slot")
    run_slot = ts_to_datetime(run.slot) if has_run else None
    if run_slot == slot:
        if not run_is_final(process):
            return Claim(Decision.RESUME, slot)
        if run.settings_version == process.settings_version:
            return Claim(Decision.DONE, slot)
        return Claim(Decision.CLAIM, slot)
    if (
        run_slot is not None
        and run_late_within is not None
        and run_slot < slot
        and not run_is_final(process)
        and now - (run_slot + frequency) < run_late_within
    ):
        return Claim(Decision.RESUME, run_slot)
    return Claim(Decision.CLAIM, slot)


def item_error_action(item_errors: int, run_errors: int) -> tuple[bool, bool]:
    """After recording an error: (item aborted, run aborted), from the counts so far."""
    return item_errors > MAX_ITEM_ERRORS, run_errors > MAX_RUN_ERRORS
