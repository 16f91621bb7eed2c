"""The claim: from the process document (one read) decide whether the slot needs
work; from the shard document decide whether this tick may take its lease; take
it with one conditional commit (that also starts the run, when this is its first
shard to come).

A lost race is retried, so a claim that loses to another claimant (or to the
creation of the run by another shard) answers ``busy`` only when a live lease
really stands in its way.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta

from slotwork import rules
from slotwork.buckets import BucketRange, shard_range
from slotwork.budget import Budget
from slotwork.context import KEPT_RUN_ERRORS, ErrorLog, RunBudget, RunTally
from slotwork.engine import runs
from slotwork.engine.backfill import backfill
from slotwork.engine.state import Fence, Policies, RunState, TickDeps, TickResult
from slotwork.errors import InvalidArgument, StoreUnavailable
from slotwork.logs import event
from slotwork.model import Outcome
from slotwork.policies import DEFAULT_ERROR_BUDGET, ErrorBudget, Rate
from slotwork.process import Process as Definition
from slotwork.retries import backoff
from slotwork.schema import Lease, Params, Run, RunRecord, Shard, Status
from slotwork.schema import Process as ProcessState
from slotwork.schema.documents import datetime_to_ts, ts_to_datetime
from slotwork.store import (
    Commit,
    PreconditionFailed,
    ProcessChange,
    ProcessSnapshot,
    RunWrite,
    RunWriteMode,
    ShardSnapshot,
    ShardWrite,
)

# Lost races a claim retries (with jittered backoff) before it answers busy.
MAX_CLAIM_ATTEMPTS = 5
# Missed slots listed one by one in a run (all are counted).
MAX_LISTED_MISSED_SLOTS = 100


def effective_frequency(
    state: ProcessState, definition: Definition, minimum: timedelta
) -> timedelta:
    """The slot length: stored in Firestore once set through the API, else the code's."""
    if state.HasField("schedule_frequency"):
        stored = state.schedule_frequency.ToTimedelta()
    else:
        stored = definition.frequency
    return rules.clamp_frequency(stored, minimum)


def policies_of(state: ProcessState, definition: Definition) -> Policies:
    """The policies in force: what the API stored, else the code's defaults."""
    settings = Params()
    settings.CopyFrom(state.settings if state.HasField("settings") else definition.default_settings)
    rate = Rate.from_message(state.rate_limit) if state.HasField("rate_limit") else definition.rate
    budget: ErrorBudget = definition.error_budget or DEFAULT_ERROR_BUDGET
    if state.HasField("error_budget"):
        budget = ErrorBudget.from_message(state.error_budget)
    return Policies(settings, rate, budget)


def _last_finished(state: ProcessState) -> datetime | None:
    if not state.HasField("last_finished_slot"):
        return None
    return ts_to_datetime(state.last_finished_slot)


def _observe(deps: TickDeps, snap: ProcessSnapshot) -> None:
    observe = getattr(deps.clock, "observe", None)
    if observe is not None and snap.read_time is not None:
        observe(snap.read_time)


def _skipped(
    deps: TickDeps, outcome: Outcome, slot: datetime, shard: int, epoch: int = 0
) -> TickResult:
    event(
        logging.DEBUG,
        f"tick skipped: {outcome.value}",
        process=deps.name,
        shard=shard,
        slot=slot,
        instance=deps.instance,
    )
    return TickResult(outcome.value, deps.name, deps.instance, shard=shard, slot=slot, epoch=epoch)


def claim(deps: TickDeps, shard: int | None) -> RunState | TickResult:
    """Claim shard ``shard`` (None: any claimable one) of the slot's run, or say why not."""
    deadline: Budget | None = None
    last: TickResult | None = None
    for attempt in range(1, MAX_CLAIM_ATTEMPTS + 1):
        snap = deps.store.read_process(deps.name)
        _observe(deps, snap)
        now = deps.clock()
        if deadline is None:
            # The deadline counts from here, on the clock as anchored by this read.
            seconds = deps.config.deadline
            deadline = Budget(deps.clock, now + timedelta(seconds=seconds), seconds)
        state = snap.process
        frequency = effective_frequency(state, deps.definition, deps.config.min_frequency)
        slot = rules.current_slot(now, frequency, _last_finished(state))
        late = (
            state.catch_up.run_late_within.ToTimedelta()
            if state.catch_up.policy == state.catch_up.RUN_LATE
            else None
        )
        verdict = rules.decide_claim(state, now, slot, frequency, late)
        if verdict.decision is rules.Decision.PAUSED:
            return _skipped(deps, Outcome.PAUSED, verdict.slot, shard or 0)
        if verdict.decision is rules.Decision.DONE:
            return _skipped(deps, Outcome.DONE, verdict.slot, shard or 0)
        taken = _claim_shard(deps, snap, verdict, frequency, shard, now, deadline)
        if isinstance(taken, RunState | TickResult):
            return taken
        last = taken.busy
        deps.sleep(backoff(attempt, deps.rng))
    assert last is not None
    return last


class _Lost:
    """A claim attempt lost a race: try again (``busy`` is the answer if none is left)."""

    def __init__(self, busy: TickResult) -> None:
        self.busy = busy


def _check_shard(deps: TickDeps, shard: int | None, limit: int) -> None:
    if shard is None:
        return
    if isinstance(shard, bool) or not isinstance(shard, int) or not 0 <= shard < limit:
        raise InvalidArgument(
            f"process {deps.name!r} has shards 0..{limit - 1}; there is no shard {shard!r}"
        )


def _candidates(
    deps: TickDeps, shards: int, shard: int | None
) -> list[tuple[int, ShardSnapshot]]:
    """The shards this tick may try, with their documents, in the order to try them."""
    if shard is not None:
        return [(shard, deps.store.read_shard(deps.name, shard))] if shard < shards else []
    if shards == 1:
        return [(0, deps.store.read_shard(deps.name, 0))]
    stored = deps.store.read_shards(deps.name)
    order = list(range(shards))
    deps.rng.shuffle(order)
    return [(k, stored.get(k) or ShardSnapshot(Shard(index=k), None)) for k in order]


def _claim_shard(
    deps: TickDeps,
    snap: ProcessSnapshot,
    verdict: rules.Claim,
    frequency: timedelta,
    shard: int | None,
    now: datetime,
    deadline: Budget,
) -> RunState | TickResult | _Lost:
    state = snap.process
    new_run = verdict.decision is rules.Decision.CLAIM
    shards = deps.definition.shards if new_run else max(state.run.shards, 1)
    _check_shard(deps, shard, max(shards, deps.definition.shards))
    if shards > 1 and not state.buckets_complete and not _backfilled(deps, shard, deadline):
        return _skipped(deps, Outcome.BUSY, verdict.slot, shard or 0)
    run = _new_run(deps, state, verdict.slot, frequency, shards, now) if new_run else state.run
    if not run.id:
        run.id = runs.run_id(verdict.slot, 1)  # a run begun by a version without run ids
    busy: TickResult | None = None
    for index, current in _candidates(deps, shards, shard):
        lease = current.shard.lease
        if rules.lease_is_live(lease, now):
            busy = busy or _skipped(deps, Outcome.BUSY, verdict.slot, index, lease.epoch)
            continue
        if not new_run and rules.part_is_final(current.shard, run.id):
            continue
        part, killer = _part(deps, current, run, state, now)
        write = ShardWrite(part, current.update_time)
        commit = (
            _starting(deps, state, run, write, now, frequency) if new_run else Commit(shard=write)
        )
        try:
            committed = deps.store.commit(deps.name, commit)
        except PreconditionFailed:
            return _Lost(
                busy
                or TickResult(
                    Outcome.BUSY.value, deps.name, deps.instance, shard=index, slot=verdict.slot
                )
            )
        assert committed.shard is not None
        return _claimed(
            deps, state, run, part, current, committed.shard, frequency, deadline, killer, now
        )
    if busy is not None:
        return busy
    return _skipped(deps, Outcome.DONE, verdict.slot, shard or 0)


def _backfilled(deps: TickDeps, shard: int | None, deadline: Budget) -> bool:
    """Whether every item has a bucket, after shard 0's tick gave them theirs."""
    if shard not in (None, 0):
        event(
            logging.INFO,
            "waiting for shard 0 to give every item its bucket",
            process=deps.name,
            shard=shard,
        )
        return False
    return backfill(deps, deadline.remaining() - deadline.margin())


def _new_run(
    deps: TickDeps,
    state: ProcessState,
    slot: datetime,
    frequency: timedelta,
    shards: int,
    now: datetime,
) -> Run:
    previous = state.run
    same_slot = previous.HasField("slot") and ts_to_datetime(previous.slot) == slot
    sequence = max(previous.sequence, 1) + 1 if same_slot else 1
    run = Run(
        id=runs.run_id(slot, sequence),
        sequence=sequence,
        slot=datetime_to_ts(slot),
        shards=shards,
        invocations=1,
        settings_version=state.settings_version,
        work_version=state.work_version,
        items_changed=state.items_changed,
    )
    run.status.state = Status.ACTIVE
    run.status.start_time.CopyFrom(datetime_to_ts(now))
    run.status.progress_time.CopyFrom(datetime_to_ts(now))
    last = _last_finished(state)
    if previous.HasField("slot"):
        prev_slot = ts_to_datetime(previous.slot)
        last = prev_slot if last is None else max(last, prev_slot)
    missed = rules.missed_slots(last, slot, frequency, MAX_LISTED_MISSED_SLOTS)
    if missed.count:
        run.missed_slot_count = missed.count
        run.missed_slots.extend(datetime_to_ts(s) for s in missed.listed)
        event(
            logging.WARNING,
            f"{missed.count} slot(s) missed before this run",
            event="missed_slots",
            process=deps.name,
            slot=slot,
            missed=missed.count,
            last_missed=missed.listed[-1],
        )
    return run


def _starting(
    deps: TickDeps,
    state: ProcessState,
    run: Run,
    shard: ShardWrite,
    now: datetime,
    frequency: timedelta,
) -> Commit:
    """The claim that starts ``run``: the shard's lease, the run's record (created
    only if no other shard did first), the process's summary, and the close of
    an unfinished earlier run."""
    writes = [RunWrite(RunRecord(run=run), RunWriteMode.CREATE)]
    fields = {"run"}
    aggregate: dict[str, float] = {}
    previous = state.run
    if previous.HasField("slot") and not rules.run_is_final(previous):
        closed = runs.close_abandoned(deps, state, now, frequency)
        writes.insert(0, RunWrite(closed, RunWriteMode.REPLACE))
        aggregate = runs.aggregate_of(closed.run, state)
    values = ProcessState(run=run)
    return Commit(
        shard=shard,
        runs=writes,
        process=ProcessChange(values=values, fields=frozenset(fields), aggregate=aggregate),
    )


def _part(
    deps: TickDeps, current: ShardSnapshot, run: Run, state: ProcessState, now: datetime
) -> tuple[Shard, str]:
    """This shard's document as the claim writes it, and the item that killed the
    previous holder ("" when none is known)."""
    previous = current.shard
    continuing = previous.run_id == run.id
    part = Shard()
    if continuing:
        part.CopyFrom(previous)
        part.invocations += 1
    else:
        part.index = previous.index
        part.run_id = run.id
        part.slot.CopyFrom(run.slot)
        part.shards = run.shards
        part.invocations = 1
        part.status.state = Status.ACTIVE
        part.status.start_time.CopyFrom(datetime_to_ts(now))
        if not state.run.id and state.run.HasField("status"):
            # The run of a version that kept it in the process document: go on from it.
            part.status.CopyFrom(state.run.status)
    part.commits = previous.commits + 1
    part.lease.CopyFrom(
        Lease(
            holder=deps.instance,
            epoch=previous.lease.epoch + 1,
            expire_time=datetime_to_ts(now + timedelta(seconds=deps.config.lease_ttl)),
        )
    )
    stall = rules.stall_after_takeover(previous, run.id, now)
    part.stalled_takeovers = stall.takeovers
    part.done_at_takeover = stall.done_at
    killer = ""
    if continuing and rules.lease_was_abandoned(previous.lease, now):
        killer = previous.current_item
    part.current_item = ""
    if stall.suspect and part.suspect_items == 0:
        # The killer is among the items the dead holder had not checkpointed.
        part.suspect_items = deps.config.checkpoint_items + deps.definition.concurrency
    return part, killer


def _claimed(
    deps: TickDeps,
    state: ProcessState,
    run: Run,
    part: Shard,
    previous: ShardSnapshot,
    known: datetime,
    frequency: timedelta,
    deadline: Budget,
    killer: str,
    now: datetime,
) -> RunState:
    new_part = previous.shard.run_id != run.id
    slot = ts_to_datetime(run.slot)
    buckets = shard_range(part.index, max(run.shards, 1))
    policies = policies_of(state, deps.definition)
    counting: Future[int] | None = None
    if new_part and isinstance(policies.errors.per_run, float):
        # A fractional budget needs the count before the first error is judged.
        part.items_total = _count(deps, slot, buckets, part.index)
    elif new_part:
        # Else the count (a query in proportion to the items, on the emulator) runs
        # beside the first items; the first checkpoint after it records it.
        counting = _count_beside(deps, slot, buckets, part.index)
    budget = RunBudget(policies.errors.run_limit(part.items_total), own=part.counted_errors)
    if run.shards > 1:
        budget.set_elsewhere(state.run.counted_errors - part.counted_errors)
    status = part.status
    tally = RunTally(
        clock=deps.clock,
        stats=dict(status.stats),
        errors=ErrorLog(
            KEPT_RUN_ERRORS,
            total=status.total_errors,
            recent=[runs.entry(e) for e in status.errors],
        ),
    )
    lease = previous.shard.lease
    took_over = rules.lease_was_abandoned(lease, now)
    outcome = Outcome.CLAIMED if new_part else Outcome.RESUMED
    event(
        logging.WARNING if took_over else logging.INFO,
        f"shard {outcome.value}" + (" after a lease expired unreleased" if took_over else ""),
        event="claim",
        process=deps.name,
        shard=part.index,
        slot=slot,
        run_id=run.id,
        instance=deps.instance,
        epoch=part.lease.epoch,
        invocations=part.invocations,
        previous_holder=lease.holder,
        previous_epoch=lease.epoch,
        previous_expiry=ts_to_datetime(lease.expire_time) if lease.holder else None,
        stalled_takeovers=part.stalled_takeovers,
    )
    state_run = state.run if state.run.id == run.id else run
    return RunState(
        slot=slot,
        frequency=frequency,
        outcome=outcome,
        run=state_run,
        part=part,
        buckets=buckets,
        fence=Fence(
            part.index, part.lease.epoch, known, ts_to_datetime(part.lease.expire_time)
        ),
        policies=policies,
        process=state,
        deadline=deadline,
        tally=tally,
        budget=budget,
        killer=killer,
        counting=counting,
    )


def _count_beside(
    deps: TickDeps, slot: datetime, buckets: BucketRange, shard: int
) -> Future[int]:
    """``_count`` on a thread of its own (the Firestore client is thread-safe)."""
    future: Future[int] = Future()

    def count() -> None:
        try:
            future.set_result(_count(deps, slot, buckets, shard))
        except Exception as err:  # read by the checkpoint that records the count
            future.set_exception(err)

    threading.Thread(target=count, name="slotwork-count", daemon=True).start()
    return future


def _count(deps: TickDeps, slot: datetime, buckets: BucketRange, shard: int) -> int:
    """The shard's pending items as it joins the run (the count only informs)."""
    try:
        return deps.store.count_pending(deps.name, slot, buckets)
    except StoreUnavailable as err:
        event(
            logging.WARNING,
            "could not count the shard's items",
            process=deps.name,
            shard=shard,
            slot=slot,
            detail=str(err)[:500],
        )
        return 0


__all__ = ["MAX_CLAIM_ATTEMPTS", "claim", "effective_frequency", "policies_of"]
