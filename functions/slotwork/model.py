"""slotwork's vocabularies, each defined once: tick outcomes, item lists, the
state words the API shows, and how stored enums map onto them.
"""

from __future__ import annotations

import enum

from slotwork.schema import Status, Work


class Outcome(enum.StrEnum):
    """The one word a tick answers with (DESIGN.md "Functions")."""

    DONE = "done"  # this slot's run (or this shard's part of it) is complete
    BUSY = "busy"  # another instance holds a live lease
    PAUSED = "paused"
    CLAIMED = "claimed"  # started this slot's run
    RESUMED = "resumed"  # continued a run begun by an earlier tick
    ABORTED = "aborted"  # the run hit its error budget
    CONFLICT = "conflict"  # lost the lease to another instance and stopped


SKIPPED = frozenset({Outcome.DONE, Outcome.BUSY, Outcome.PAUSED})
"""Outcomes of a tick that did not claim."""

FAILED_TICK = "failed"
"""The outcome in a tick's log line when it answered an error instead (4xx/5xx)."""


# The list an item is on, as stored (Work.List names).
ACTIVE = Work.List.Name(Work.ACTIVE)
CLEANUP = Work.List.Name(Work.CLEANUP)
DROPPED = Work.List.Name(Work.DROPPED)
QUARANTINED = Work.List.Name(Work.QUARANTINED)
PENDING_LISTS = (ACTIVE, CLEANUP)

# Run and item states, as stored (Status.State names).
NEW = Status.State.Name(Status.NEW)
COMPLETED = Status.State.Name(Status.COMPLETED)
INCOMPLETE = Status.State.Name(Status.INCOMPLETE)
ABORTED = Status.State.Name(Status.ABORTED)
FINAL_STATES = frozenset({Status.COMPLETED, Status.INCOMPLETE, Status.ABORTED})


class WorkState(enum.StrEnum):
    """The state word of one item, as the API, the CLI and the local table show it."""

    QUEUED = "queued"  # registered, not processed since
    ACTIVE = "active"  # being processed
    RETRYING = "retrying"  # failed this slot, tried again after a backoff
    COMPLETED = "completed"
    INCOMPLETE = "incomplete"  # errors in its last processing
    ABORTED = "aborted"  # hit the per-item error limit, or set aside for the slot
    QUARANTINED = "quarantined"  # failed in too many consecutive slots: skipped until released
    CLEANUP = "cleanup"  # unregistered, cleanup pending
    DROPPED = "dropped"  # cleaned up
    PURGED = "purged"  # not present (the Go library's word; never stored)
    UNSPECIFIED = "unspecified"


# The state word of an item on the active list, by its stored status.
_ACTIVE_BY_STATUS = {
    Status.State.Name(Status.NEW): WorkState.QUEUED,
    Status.State.Name(Status.ACTIVE): WorkState.ACTIVE,
    COMPLETED: WorkState.COMPLETED,
    INCOMPLETE: WorkState.INCOMPLETE,
    ABORTED: WorkState.ABORTED,
}
_BY_LIST = {
    CLEANUP: WorkState.CLEANUP,
    DROPPED: WorkState.DROPPED,
    QUARANTINED: WorkState.QUARANTINED,
}
# The state word of a stored Status (an item's processing, a shard's part, a run):
# the API shows these words, never the enum's names.
STATUS_WORDS: dict[str, str] = {
    Status.State.Name(Status.STATE_UNSPECIFIED): WorkState.UNSPECIFIED.value,
    Status.State.Name(Status.NEW): WorkState.QUEUED.value,
    Status.State.Name(Status.ACTIVE): WorkState.ACTIVE.value,
    COMPLETED: WorkState.COMPLETED.value,
    INCOMPLETE: WorkState.INCOMPLETE.value,
    ABORTED: WorkState.ABORTED.value,
}
FILTERABLE_STATES = tuple(
    s for s in WorkState if s not in (WorkState.PURGED, WorkState.UNSPECIFIED)
)


def work_state(list_name: str | None, status_state: str | None, retrying: bool) -> WorkState:
    """The state word of a stored item: by its list, else by its status."""
    by_list = _BY_LIST.get(str(list_name))
    if by_list is not None:
        return by_list
    if retrying:
        return WorkState.RETRYING
    return _ACTIVE_BY_STATUS.get(str(status_state), WorkState.UNSPECIFIED)


def state_filter(state: WorkState) -> tuple[str, str | None]:
    """(list, stored status state or None) that select items in ``state``."""
    for list_name, word in _BY_LIST.items():
        if word is state:
            return list_name, None
    for status_state, word in _ACTIVE_BY_STATUS.items():
        if word is state:
            return ACTIVE, status_state
    # RETRYING items are INCOMPLETE on the active list (with a next attempt time).
    if state is WorkState.RETRYING:
        return ACTIVE, INCOMPLETE
    raise ValueError(f"no stored form selects {state.value!r}")
