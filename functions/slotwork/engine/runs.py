"""Run records: their ids, a run's status summed over its shards' parts, the
stats a finished run adds to the process's aggregate, and the close of a run
its slot left unfinished.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from slotwork import rules
from slotwork.buckets import shard_range
from slotwork.context import KEPT_RUN_ERRORS, MAX_AGGREGATE_STATS, add_run_stat
from slotwork.engine.state import TickDeps
from slotwork.errors import StoreUnavailable
from slotwork.logs import event
from slotwork.schema import Error, Run, RunRecord, Shard, Status
from slotwork.schema import Process as ProcessState
from slotwork.schema.documents import datetime_to_ts, ts_to_datetime
from slotwork.store import ErrorEntry

RUN_ID_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_RUN_ID_LENGTH = len("2026-01-01T00:00:00Z")


def run_id(slot: datetime, sequence: int) -> str:
    """A run's id: its slot (UTC, readable in the console), then ``-0002``, ``-0003``
    for later runs of the same slot, so ids sort in the order runs started."""
    base = slot.astimezone(UTC).strftime(RUN_ID_FORMAT)
    return base if sequence <= 1 else f"{base}-{sequence:04d}"


def slot_of_run_id(value: str) -> datetime:
    """The slot a run id names (ValueError if it names none)."""
    return datetime.strptime(value[:_RUN_ID_LENGTH], RUN_ID_FORMAT).replace(tzinfo=UTC)


def entry(error: Error) -> ErrorEntry:
    """A stored error as the engine keeps it."""
    return ErrorEntry(ts_to_datetime(error.time), error.text)


def combined_status(parts: Iterable[Status]) -> Status:
    """The status of a run made of its shards' parts: stats added (within the run's
    bound on names), the latest errors, totals added, the earliest start."""
    combined = Status()
    errors: list[Error] = []
    stats: dict[str, float] = {}
    dropped: list[str] = []
    for part in parts:
        for name, value in part.stats.items():
            add_run_stat(stats, name, value, dropped)
        errors.extend(part.errors)
        combined.total_errors += part.total_errors
        if part.HasField("start_time") and (
            not combined.HasField("start_time")
            or ts_to_datetime(part.start_time) < ts_to_datetime(combined.start_time)
        ):
            combined.start_time.CopyFrom(part.start_time)
        if part.HasField("last_error_time") and (
            not combined.HasField("last_error_time")
            or ts_to_datetime(part.last_error_time) > ts_to_datetime(combined.last_error_time)
        ):
            combined.last_error_time.CopyFrom(part.last_error_time)
    combined.stats.update(stats)
    errors.sort(key=lambda e: ts_to_datetime(e.time))
    combined.errors.extend(errors[-KEPT_RUN_ERRORS:])
    return combined


def finish(run: Run, parts: list[Shard], state: Status.State, now: datetime) -> None:
    """Close ``run`` in ``state`` from its shards' parts (SEED_SPEC "A run" 5): the
    run's stats gain ``workItems`` (always present), ``errors``, ``duration``,
    ``runs`` = 1 and ``state.<state>`` = 1."""
    status = combined_status(p.status for p in parts)
    if run.status.HasField("start_time"):
        status.start_time.CopyFrom(run.status.start_time)
    status.state = state
    status.progress_time.CopyFrom(datetime_to_ts(now))
    status.finish_time.CopyFrom(datetime_to_ts(now))
    stats = status.stats
    if "workItems" not in stats:
        stats["workItems"] = 0.0
    stats["errors"] = float(status.total_errors)
    stats["duration"] = (now - ts_to_datetime(status.start_time)).total_seconds()
    stats["runs"] = 1.0
    stats[f"state.{Status.State.Name(state).lower()}"] = 1.0
    run.status.CopyFrom(status)
    run.invocations = sum(p.invocations for p in parts) or run.invocations
    run.items_total = sum(p.items_total for p in parts)
    run.items_failed = sum(p.items_failed for p in parts)
    run.counted_errors = sum(p.counted_errors for p in parts)


def aggregate_of(run: Run, state: ProcessState) -> dict[str, float]:
    """What a finished run adds to the process's aggregate stats: every run stat,
    but no new name once the aggregate holds ``MAX_AGGREGATE_STATS`` of them."""
    room = MAX_AGGREGATE_STATS - len(state.aggregate_stats)
    added: dict[str, float] = {}
    for name, value in run.status.stats.items():
        if name in state.aggregate_stats:
            added[name] = value
        elif room > 0:
            added[name] = value
            room -= 1
    return added


def parts_of(deps: TickDeps, run: Run, own: Shard | None = None) -> list[Shard]:
    """The stored parts of ``run`` (with ``own`` in place of its stored version)."""
    stored = deps.store.read_shards(deps.name)
    parts = {k: s.shard for k, s in stored.items() if s.shard.run_id == run.id}
    if own is not None:
        parts[own.index] = own
    return [parts[k] for k in sorted(parts)]


def close_abandoned(
    deps: TickDeps, state: ProcessState, now: datetime, frequency: timedelta
) -> RunRecord:
    """Close the process's unfinished run, which a new slot's run replaces:
    INCOMPLETE, with the items it left."""
    run = Run()
    run.CopyFrom(state.run)
    slot = ts_to_datetime(run.slot)
    if not run.id:
        run.id = run_id(slot, 1)
    parts = parts_of(deps, run)
    if not parts:
        # A run of a version that kept its status in the process document.
        legacy = Shard(invocations=run.invocations)
        legacy.status.CopyFrom(run.status)
        parts = [legacy]
    finish(run, parts, Status.INCOMPLETE, now)
    run.reason = "the slot ended before the run finished"
    run.items_left = _left(deps, slot, run)
    finished = ts_to_datetime(run.status.finish_time)
    event(
        logging.WARNING,
        "slot ended with items not processed",
        event="run",
        process=deps.name,
        shard=None,  # closed by whichever shard starts the next slot's run
        slot=slot,
        run_id=run.id,
        instance=deps.instance,
        run_state="INCOMPLETE",
        items_total=run.items_total,
        items_failed=run.items_failed,
        items_left=run.items_left,
        duration_seconds=run.status.stats.get("duration", 0.0),
        slot_lag_seconds=(finished - (slot + frequency)).total_seconds(),
        stats=dict(run.status.stats),
        unfinished=True,
    )
    return RunRecord(run=run)


def _left(deps: TickDeps, slot: datetime, run: Run) -> int:
    try:
        return deps.store.count_pending(deps.name, slot, shard_range(0, 1))
    except StoreUnavailable:
        return max(0, run.items_total - int(run.status.stats.get("workItems", 0)))


def final_state(parts: list[Shard], aborting: bool) -> Status.State:
    """The state a run ends in, from its parts (aborted if any part, or the run, was)."""
    if aborting:
        return Status.ABORTED
    return rules.run_final_state(p.status for p in parts)
