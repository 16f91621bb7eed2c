"""How a tick ends once it stops working items: it finishes its shard's part of
the run (and, as the last shard to finish, the run itself, exactly once), or
it hands over (checkpoint, release, ask for a continuation).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from slotwork.engine import runs
from slotwork.engine.checkpoint import Checkpointer
from slotwork.engine.state import HANDS_OVER, RunState, TickDeps, TickResult
from slotwork.errors import Conflict, StoreUnavailable
from slotwork.logs import event
from slotwork.model import Outcome
from slotwork.rules import final_state
from slotwork.schema import Process as ProcessState
from slotwork.schema import Run, RunRecord, Shard, Status
from slotwork.schema.documents import datetime_to_ts, ts_to_datetime
from slotwork.store import ProcessChange, RunWrite, RunWriteMode
from slotwork.triggers import NoTrigger


def result(deps: TickDeps, state: RunState, outcome: str, **kwargs: object) -> TickResult:
    """The tick's answer, with what it did."""
    counts = state.counts
    return TickResult(
        outcome=outcome,
        process=deps.name,
        instance=deps.instance,
        shard=state.fence.shard,
        slot=state.slot,
        epoch=state.fence.epoch,
        processed=counts.processed,
        cleaned=counts.cleaned,
        errors=counts.errors,
        retried=counts.retried,
        failed=counts.failed,
        run_id=state.run.id,
        **kwargs,  # type: ignore[arg-type]
    )


def items_left(part: Shard) -> int:
    """What this shard has left of the items it joined the run with."""
    return max(0, part.items_total - part.items_done)


def finish(deps: TickDeps, state: RunState, checkpointer: Checkpointer) -> TickResult:
    """Nothing is left in this shard's part (or the run aborted): close the part,
    and the run when this is its last part to close."""
    now = deps.clock()
    part = state.part
    aborted = state.aborted
    # Incomplete when an item ended the slot failed (one that failed, then
    # succeeded on a retry, did not).
    part.status.state = final_state(aborted, part.items_failed)
    part.status.finish_time.CopyFrom(datetime_to_ts(now))
    closed: list[Run] = []

    def ending() -> tuple[Sequence[RunWrite], ProcessChange | None]:
        closed.clear()
        if state.run.shards <= 1:
            run, change = _close_run(deps, state, state.run, [part], now)
            closed.append(run)
            return [RunWrite(RunRecord(run=run), RunWriteMode.REPLACE)], change
        snap = deps.store.read_run(deps.name, state.run.id)
        base = Run()
        base.CopyFrom(snap.record.run if snap.update_time is not None else state.run)
        base.finished_shards[:] = sorted(set(base.finished_shards) | {part.index})
        if len(base.finished_shards) >= state.run.shards:
            parts = runs.parts_of(deps, state.run, own=part)
            run, change = _close_run(deps, state, base, parts, now)
            closed.append(run)
        else:
            run = base
            run.aborting = run.aborting or aborted
            change = ProcessChange(run_aborting=True) if aborted else ProcessChange()
        mode = RunWriteMode.IF_UNCHANGED if snap.update_time is not None else RunWriteMode.CREATE
        return [RunWrite(RunRecord(run=run), mode, snap.update_time)], change

    checkpointer.commit(release=True, ending=ending)
    run_state = Status.State.Name(part.status.state)
    if closed:
        _log_run(deps, state, closed[0])
        run_state = Status.State.Name(closed[0].status.state)
    outcome = Outcome.ABORTED.value if aborted else state.outcome.value
    left = items_left(part) if aborted else 0
    return result(deps, state, outcome, run_state=run_state, left=left)


def _close_run(
    deps: TickDeps, state: RunState, base: Run, parts: list[Shard], now: datetime
) -> tuple[Run, ProcessChange]:
    """The finished run, and what it changes in the process document."""
    run = Run()
    run.CopyFrom(base)
    final = runs.final_state(parts, run.aborting or state.aborted)
    runs.finish(run, parts, final, now)
    if final == Status.ABORTED:
        run.items_left = sum(items_left(p) for p in parts)
        run.reason = f"more than {state.budget.limit} errors in the run"
    else:
        run.items_left = 0
    process = state.process
    values = ProcessState(run=run, last_finished_slot=run.slot)
    fields = {"run", "last_finished_slot", "consecutive_aborts"}
    streak = process.consecutive_aborts + 1 if final == Status.ABORTED else 0
    values.consecutive_aborts = streak
    limit = process.pause_after_aborts
    if final == Status.ABORTED and limit and streak >= limit:
        values.paused = True
        values.pause_reason = f"paused after {streak} consecutive aborted runs"
        fields |= {"paused", "pause_reason"}
        event(logging.ERROR, values.pause_reason, process=deps.name, slot=state.slot)
    change = ProcessChange(
        values=values, fields=frozenset(fields), aggregate=runs.aggregate_of(run, process)
    )
    return run, change


def _log_run(deps: TickDeps, state: RunState, run: Run) -> None:
    """The one line per finished run that metrics count."""
    name = Status.State.Name(run.status.state)
    slot = ts_to_datetime(run.slot)
    finished = ts_to_datetime(run.status.finish_time)
    event(
        logging.WARNING if run.status.state == Status.ABORTED else logging.INFO,
        f"run {name.lower()}",
        event="run",
        process=deps.name,
        shard=state.fence.shard,
        slot=slot,
        run_id=run.id,
        instance=deps.instance,
        run_state=name,
        items_total=run.items_total,
        items_failed=run.items_failed,
        items_left=run.items_left,
        duration_seconds=run.status.stats.get("duration", 0.0),
        slot_lag_seconds=(finished - (slot + state.frequency)).total_seconds(),
        stats=dict(run.status.stats),
    )


def hand_over(deps: TickDeps, state: RunState, checkpointer: Checkpointer) -> TickResult:
    """Stopped with work left: checkpoint, release, and ask for a continuation when
    the work is due now."""
    checkpointer.commit(release=True)
    left = items_left(state.part) if state.part.items_total else None
    stop = state.stop
    continuation = False
    if stop in HANDS_OVER and not isinstance(deps.trigger, NoTrigger):
        try:
            deps.trigger.run_now(deps.name, state.fence.shard)
            continuation = True
        except (StoreUnavailable, Conflict) as err:
            event(
                logging.WARNING,
                "continuation request failed; the next scheduled tick resumes",
                process=deps.name,
                shard=state.fence.shard,
                slot=state.slot,
                detail=str(err),
            )
    event(
        logging.INFO,
        "tick stopped with work left",
        process=deps.name,
        shard=state.fence.shard,
        slot=state.slot,
        instance=deps.instance,
        epoch=state.fence.epoch,
        processed=state.counts.processed,
        items_left=left,
        stop=stop.value if stop else None,
        continuation=continuation,
    )
    return result(
        deps, state, state.outcome.value, run_state="ACTIVE", left=left, continuation=continuation
    )
