"""The rules of a tick, as pure functions: slots, frequency limits, the claim rules,
final states, stalls. Each rule lives here once; the engine and the API call these.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from slotwork.clock import EPOCH
from slotwork.model import FINAL_STATES
from slotwork.schema import Lease, Process, Run, Shard, Status
from slotwork.schema.documents import ts_to_datetime

# A frequency that cannot be read counts as one hour, as in the seed library.
FALLBACK_FREQUENCY = timedelta(hours=1)
# Takeovers of a shard's unreleased lease in a row, with no item done in
# between, before its items are worked one at a time to find one that kills
# its invocation.
STALLS_BEFORE_SUSPECT = 2


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


def current_slot(now: datetime, frequency: timedelta, last_finished: datetime | None) -> datetime:
    """The slot a tick works in: ``slot_of(now)``, but never one before the last
    finished slot. (A frequency made longer can put ``slot_of(now)`` before it:
    that slot's period is covered by the finished run, so the tick stays there,
    done, until the new frequency's next slot begins.)"""
    slot = slot_of(now, frequency)
    if last_finished is not None and slot < last_finished:
        return last_finished
    return slot


@dataclass(frozen=True)
class Missed:
    """Slots that never ran between two runs: how many, and the last few of them."""

    count: int
    listed: tuple[datetime, ...]


def missed_slots(
    last_finished: datetime | None, slot: datetime, frequency: timedelta, listed: int
) -> Missed:
    """Slots strictly between the last finished run's slot and ``slot`` on the grid of
    ``frequency``, counted arithmetically (a frequency cut from ten years to a
    minute must not list millions); the last ``listed`` are given."""
    if last_finished is None or last_finished <= EPOCH or slot <= last_finished:
        return Missed(0, ())
    first = slot_of(last_finished, frequency) + frequency  # the grid may have moved
    if first >= slot:
        return Missed(0, ())
    count = (slot - first) // frequency
    shown = min(count, listed)
    return Missed(count, tuple(slot - frequency * n for n in range(shown, 0, -1)))


class Decision(enum.Enum):
    """What a tick does, from the process document it read."""

    PAUSED = "paused"
    DONE = "done"
    RESUME = "resumed"  # join or continue the current unfinished run
    CLAIM = "claimed"  # start a new run for this slot


def run_is_final(run: Run) -> bool:
    """Whether a run has ended."""
    return run.status.state in FINAL_STATES


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
    """The claim rule (DESIGN "Rules of a tick" 2, SEED_SPEC "A run" 1), on the
    process document alone (whose lease is the shard's, decided next).

    Skip when paused, or when this slot's run has ended and no settings or item
    changed since it started. Otherwise resume this slot's unfinished run, or
    start a new one. With ``run_late_within``, an unfinished run of an earlier
    slot is resumed instead while its period ended less than that long ago.
    """
    if process.paused:
        return Claim(Decision.PAUSED, slot)
    run = process.run
    has_run = run.HasField("slot")
    run_slot = ts_to_datetime(run.slot) if has_run else None
    if run_slot == slot:
        if not run_is_final(run):
            return Claim(Decision.RESUME, slot)
        if (
            run.settings_version == process.settings_version
            and run.work_version == process.work_version
        ):
            return Claim(Decision.DONE, slot)
        return Claim(Decision.CLAIM, slot)
    if (
        run_slot is not None
        and run_late_within is not None
        and run_slot < slot
        and not run_is_final(run)
        and now - (run_slot + frequency) < run_late_within
    ):
        return Claim(Decision.RESUME, run_slot)
    return Claim(Decision.CLAIM, slot)


def lease_is_live(lease: Lease, now: datetime) -> bool:
    """Whether some instance holds an unexpired, unreleased lease."""
    return bool(lease.holder) and not lease.released and ts_to_datetime(lease.expire_time) > now


def lease_was_abandoned(lease: Lease, now: datetime) -> bool:
    """Whether a holder stopped without releasing its lease (it died or hung)."""
    return bool(lease.holder) and not lease.released and ts_to_datetime(lease.expire_time) <= now


def part_is_final(shard: Shard, run_id: str) -> bool:
    """Whether ``shard`` has finished its part of run ``run_id``."""
    return shard.run_id == run_id and shard.status.state in FINAL_STATES


@dataclass(frozen=True)
class Stall:
    """A shard's stall count after a takeover, and its items done at that takeover."""

    takeovers: int
    done_at: int

    @property
    def suspect(self) -> bool:
        """Whether its items should be worked one at a time to find a killer."""
        return self.takeovers >= STALLS_BEFORE_SUSPECT


def stall_after_takeover(previous: Shard, run_id: str, now: datetime) -> Stall:
    """How stuck a shard is when a tick takes its lease over: a takeover of an
    abandoned lease with no item done since the last one is one more stall."""
    if previous.run_id != run_id or not lease_was_abandoned(previous.lease, now):
        return Stall(0, previous.items_done)
    if previous.stalled_takeovers and previous.items_done == previous.done_at_takeover:
        return Stall(previous.stalled_takeovers + 1, previous.items_done)
    return Stall(1, previous.items_done)


def final_state(aborted: bool, failures: int) -> Status.State:
    """The state a finished item, shard part or run ends in: aborted, incomplete with
    any failure (an item's errors; a part's or a run's items that ended failed),
    else completed."""
    if aborted:
        return Status.ABORTED
    return Status.INCOMPLETE if failures else Status.COMPLETED


def run_final_state(parts: Iterable[Status]) -> Status.State:
    """The state of a run whose shard parts ended in ``parts``: aborted if any part
    was, incomplete if any had errors, else completed."""
    states = [p.state for p in parts]
    return final_state(
        Status.ABORTED in states, sum(1 for s in states if s == Status.INCOMPLETE)
    )
