"""One tick of one process: claim the slot, work through pending items until the
deadline, checkpoint under the fencing epoch, finish or hand over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from slotwork import rules
from slotwork.budget import Budget
from slotwork.context import ErrorLog, ItemContext, RunTally, error_text
from slotwork.errors import Conflict, Gone, LeaseLost, StoreUnavailable
from slotwork.logs import event
from slotwork.params import params_from_doc
from slotwork.process import Item, Process
from slotwork.schema import SCHEMA_VERSION, Lease, Params, Run, RunRecord, Status
from slotwork.schema import Process as ProcessState
from slotwork.schema.documents import datetime_to_ts, to_doc, ts_to_datetime
from slotwork.store import (
    ACTIVE,
    CLEANUP,
    DROPPED,
    FirestoreStore,
    ItemWrite,
    PreconditionFailed,
    StreamCut,
)
from slotwork.triggers import NoTrigger, Trigger

# A checkpoint writes at most this many items: with the process document and
# a run record it stays within one 500-write commit.
MAX_CHECKPOINT_ITEMS = 400
# Lost precondition races (concurrent registers) a checkpoint retries before giving up.
MAX_CHECKPOINT_ATTEMPTS = 8
# A pending-items stream lives until the tick's deadline, but at least this
# long: the emulator takes seconds to start answering a query over a million
# documents. (The tick's deadline leaves room before Scheduler's.)
MIN_STREAM_SECONDS = 30.0
# Missed slots listed one by one in a run (all are counted).
MAX_LISTED_MISSED_SLOTS = 100


@dataclass(frozen=True)
class EngineConfig:
    """Tunables of a tick; ``App`` builds it from its arguments."""

    deadline: float
    lease_ttl: float
    min_frequency: timedelta
    checkpoint_items: int = MAX_CHECKPOINT_ITEMS
    checkpoint_seconds: float = 5.0


@dataclass(frozen=True)
class TickResult:
    """What one tick did. ``outcome`` is one word of DESIGN.md's list."""

    outcome: str
    process: str
    instance: str
    slot: datetime | None = None
    epoch: int = 0
    processed: int = 0
    cleaned: int = 0
    errors: int = 0
    left: int | None = 0  # None: not counted (the count failed, or was skipped)
    continuation: bool = False
    run_state: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["slot"] = self.slot.isoformat() if self.slot else None
        return data


def effective_frequency(state: ProcessState, definition: Process, minimum: timedelta) -> timedelta:
    """The slot length: stored in Firestore once set through the API, else the code's default."""
    if state.HasField("schedule_frequency"):
        stored = state.schedule_frequency.ToTimedelta()
    else:
        stored = definition.frequency
    return rules.clamp_frequency(stored, minimum)


RUN_ID_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def run_record_id(slot: datetime) -> str:
    """Run records are named by their slot (UTC), readable in the console."""
    return slot.strftime(RUN_ID_FORMAT)


def finish_run(run: Run, state: int, now: datetime, aggregate: dict[str, float]) -> None:
    """Close ``run`` in ``state`` and add its stats into ``aggregate`` (SEED_SPEC "A run" 5)."""
    status = run.status
    status.state = state  # type: ignore[assignment]
    status.finish_time.CopyFrom(datetime_to_ts(now))
    stats = status.stats
    if "workItems" not in stats:
        stats["workItems"] = 0.0
    stats["errors"] = float(status.total_errors)
    stats["duration"] = (now - ts_to_datetime(status.start_time)).total_seconds()
    stats["runs"] = 1.0
    stats[f"state.{Status.State.Name(state).lower()}"] = 1.0
    for key, value in stats.items():
        aggregate[key] = aggregate.get(key, 0.0) + value


class Tick:
    """The work of one invocation on one process."""

    def __init__(
        self,
        store: FirestoreStore,
        definition: Process,
        config: EngineConfig,
        clock: Callable[[], datetime],
        trigger: Trigger,
        instance: str,
    ) -> None:
        self.store = store
        self.definition = definition
        self.name = definition.name
        self.config = config
        self.clock = clock
        self.trigger = trigger
        self.instance = instance
        self.writes: dict[str, ItemWrite] = {}  # queued until the next checkpoint
        self.processed = 0
        self.cleaned = 0
        self.item_errors = 0
        self.stop_requested = False
        # Set when a checkpoint returned after the lease it renewed had expired:
        # another instance may have been entitled to the slot, so hand over.
        self.lapsed = False
        # Set when the pending-items stream ended at the deadline: Firestore is
        # slow or stalled, so the hand-over spends no time counting what is left.
        self.stream_cut = False

    # -- claim ----------------------------------------------------------------
    def run(self) -> TickResult:
        """Claim, work, and say what happened."""
        snap = self.store.read_process(self.name)
        observe = getattr(self.clock, "observe", None)
        if observe is not None and snap.read_time is not None:
            observe(snap.read_time)
        state = snap.process
        now = self.clock()
        # The deadline counts from here, on the clock as anchored by this read.
        deadline = self.config.deadline
        self.budget = Budget(self.clock, now + timedelta(seconds=deadline), deadline)
        frequency = effective_frequency(state, self.definition, self.config.min_frequency)
        slot = rules.slot_of(now, frequency)
        late = (
            state.catch_up.run_late_within.ToTimedelta()
            if (state.catch_up.policy == state.catch_up.RUN_LATE)
            else None
        )
        claim = rules.decide_claim(state, now, slot, frequency, late)
        if claim.decision in (rules.Decision.PAUSED, rules.Decision.BUSY, rules.Decision.DONE):
            event(
                logging.DEBUG,
                f"tick skipped: {claim.decision.value}",
                process=self.name,
                slot=slot,
                instance=self.instance,
            )
            return TickResult(
                claim.decision.value,
                self.name,
                self.instance,
                slot=claim.slot,
                epoch=state.lease.epoch,
            )
        self.state = state
        self.slot = claim.slot
        self.frequency = frequency
        self.epoch = state.lease.epoch + 1
        self.outcome = claim.decision.value
        self.settings = Params()
        self.settings.CopyFrom(
            state.settings if state.HasField("settings") else self.definition.default_settings
        )
        abandoned = self._prepare_run(state, claim.decision, now)
        fields: dict[str, Any] = {"lease": to_doc(self._lease(now)), "run": to_doc(self.run_state)}
        if abandoned is not None:
            fields["aggregate_stats"] = dict(self.aggregate)
            fields["last_finished_slot"] = ts_to_datetime(abandoned.slot)
        try:
            self.update_time = self.store.commit_process(
                self.name,
                fields,
                snap.update_time,
                run_record=self._run_record(self.run_state),
            )
        except PreconditionFailed:
            return TickResult(
                "busy", self.name, self.instance, slot=self.slot, epoch=state.lease.epoch
            )
        if abandoned is not None:
            self._write_abandoned(abandoned)
        previous = state.lease
        took_over = bool(previous.holder) and ts_to_datetime(previous.expire_time) > ts_to_datetime(
            state.run.status.progress_time
        )
        event(
            logging.WARNING if took_over else logging.INFO,
            f"slot {self.outcome}" + (" after a lease expired unreleased" if took_over else ""),
            process=self.name,
            slot=self.slot,
            instance=self.instance,
            epoch=self.epoch,
            invocations=self.run_state.invocations,
            previous_holder=previous.holder,
            previous_epoch=previous.epoch,
            previous_expiry=ts_to_datetime(previous.expire_time) if previous.holder else None,
        )
        return self._work()

    def _lease(self, now: datetime, release: bool = False) -> Lease:
        expire = now if release else now + timedelta(seconds=self.config.lease_ttl)
        self.lease_expiry = expire
        return Lease(holder=self.instance, epoch=self.epoch, expire_time=datetime_to_ts(expire))

    def _prepare_run(
        self, state: ProcessState, decision: rules.Decision, now: datetime
    ) -> Run | None:
        """Set up ``run_state`` and the tally; return an earlier unfinished run this claim ends."""
        self.aggregate: dict[str, float] = dict(state.aggregate_stats)
        abandoned: Run | None = None
        if decision is rules.Decision.RESUME:
            run = Run()
            run.CopyFrom(state.run)
            run.invocations += 1
        else:
            previous = state.run
            if previous.HasField("slot") and not rules.run_is_final(state):
                abandoned = Run()
                abandoned.CopyFrom(previous)
                abandoned.reason = "the slot ended before the run finished"
                finish_run(abandoned, Status.INCOMPLETE, now, self.aggregate)
            run = Run(
                slot=datetime_to_ts(self.slot),
                invocations=1,
                settings_version=state.settings_version,
            )
            run.status.state = Status.ACTIVE
            run.status.start_time.CopyFrom(datetime_to_ts(now))
            last = (
                ts_to_datetime(state.last_finished_slot)
                if state.HasField("last_finished_slot")
                else None
            )
            if previous.HasField("slot"):
                prev_slot = ts_to_datetime(previous.slot)
                last = prev_slot if last is None else max(last, prev_slot)
            missed = rules.missed_slots_between(last, self.slot, self.frequency)
            if missed:
                run.missed_slot_count = len(missed)
                for slot in missed[-MAX_LISTED_MISSED_SLOTS:]:
                    run.missed_slots.append(datetime_to_ts(slot))
                event(
                    logging.WARNING,
                    f"{len(missed)} slot(s) missed before this run",
                    process=self.name,
                    slot=self.slot,
                    missed=len(missed),
                    first_missed=missed[0],
                    last_missed=missed[-1],
                )
        run.status.progress_time.CopyFrom(datetime_to_ts(now))
        self.last_checkpoint = now
        self.run_state = run
        status = run.status
        self.tally = RunTally(stats=dict(status.stats))
        self.tally.errors = ErrorLog(
            rules.MAX_RUN_ERRORS,
            total=status.total_errors,
            recent=[{"time": ts_to_datetime(e.time), "text": e.text} for e in status.errors],
        )
        return abandoned

    def _write_abandoned(self, run: Run) -> None:
        """Record the run the new slot replaced, with the items it left."""
        slot = ts_to_datetime(run.slot)
        run.items_left = self.store.count_pending(self.name, slot)
        self.store.runs_ref(self.name).document(run_record_id(slot)).set(self._record_doc(run))
        event(
            logging.WARNING,
            "slot ended with items not processed",
            process=self.name,
            slot=slot,
            items_left=run.items_left,
            run_state="INCOMPLETE",
        )

    def _record_doc(self, run: Run) -> dict[str, Any]:
        return to_doc(RunRecord(schema_version=SCHEMA_VERSION, process_name=self.name, run=run))

    def _run_record(self, run: Run) -> tuple[str, dict[str, Any]]:
        return run_record_id(ts_to_datetime(run.slot)), self._record_doc(run)

    # -- work -----------------------------------------------------------------
    def _work(self) -> TickResult:
        try:
            finished = self._process_lists()
            if finished:
                return self._finish()
            return self._hand_over()
        except LeaseLost as err:
            event(
                logging.WARNING,
                "lease lost to another instance: stopping without writing",
                process=self.name,
                slot=self.slot,
                instance=self.instance,
                epoch=self.epoch,
                detail=str(err),
            )
            return self._result("conflict")

    def _process_lists(self) -> bool:
        """Work through pending items; True when none is left (or the run aborted)."""
        try:
            return self._process_pending()
        except StreamCut as err:
            # Items stopped arriving and the deadline came: what was done is
            # checkpointed by the hand-over, and the continuation reads on.
            self.stream_cut = True
            event(
                logging.WARNING,
                "pending items stopped arriving before the deadline",
                process=self.name,
                slot=self.slot,
                instance=self.instance,
                processed=self.processed,
                detail=str(err),
            )
            return False

    def _process_pending(self) -> bool:
        for snap in self.store.pending(self.name, self.slot, self._stream_timeout):
            if self.tally.aborted:
                return True
            if self.stop_requested or self.lapsed or self.budget.exhausted():
                return False
            if self._lease_running_out():
                self._checkpoint()  # renew before starting: never work on an expired lease
                if self.stop_requested or self._lease_running_out(after_renewal=True):
                    return False  # the renewal itself took too long: hand over
            if snap.name in self.writes:
                # Changed since we read it (a register): let the checkpoint drop
                # our stale write, then work on the new version.
                self._checkpoint()
            list_name = CLEANUP if snap.data.get("list") == CLEANUP else ACTIVE
            self._handle(list_name, snap.name, snap.data, snap.update_time)
            if self._checkpoint_due():
                self._checkpoint()
        return True

    def _lease_running_out(self, after_renewal: bool = False) -> bool:
        margin = self.budget.margin()
        if after_renewal:
            # A fresh lease must leave time for an item, yet a margin as long
            # as the lease itself must not stall the tick for good.
            margin = min(margin, self.config.lease_ttl / 2)
        return self.clock() >= self.lease_expiry - timedelta(seconds=margin)

    def _stream_timeout(self) -> float | None:
        # The stream lives as long as the tick may; past that, a silent
        # Firestore must end it rather than hold the tick forever, and a
        # broken stream is not reopened once the deadline has passed.
        remaining = self.budget.remaining()
        return max(remaining, MIN_STREAM_SECONDS) if remaining > 0 else None

    def _checkpoint_due(self) -> bool:
        if len(self.writes) >= self.config.checkpoint_items:
            return True
        since = (self.clock() - self.last_checkpoint).total_seconds()
        return since >= self.config.checkpoint_seconds

    def _handle(self, list_name: str, name: str, data: dict[str, Any], read_time: datetime) -> None:
        """Call the worker on one item and queue its new state."""
        settings = Params()
        settings.CopyFrom(self.settings)
        item = Item(name, params_from_doc(data.get("params")), status_doc=data.get("status"))
        ctx = ItemContext(
            self.name, name, settings, self.slot, self.tally, self.clock, self.budget.remaining
        )
        started = self.clock()
        gone = False
        try:
            if list_name == ACTIVE:
                self.definition.worker.process(ctx, item)
            else:
                self.definition.worker.cleanup(ctx, item)
        except Gone:
            gone = list_name == CLEANUP
            if not gone:
                ctx.add_error("worker raised Gone while processing an active item")
        except Exception as err:  # a worker's failure is the item's, never the tick's
            ctx.add_error(err if list_name == ACTIVE else f"clean up: {error_text(err)}")
        finished = self.clock()
        self.budget.record_item((finished - started).total_seconds())
        if ctx.item_aborted:
            state = Status.ABORTED
        elif ctx.errors.total:
            state = Status.INCOMPLETE
        else:
            state = Status.COMPLETED
        fields: dict[str, Any] = {
            "status": {
                "state": Status.State.Name(state),
                "start_time": started,
                "finish_time": finished,
                "stats": ctx.stats,
                "errors": ctx.errors.recent,
                "total_errors": ctx.errors.total,
                **({"last_error_time": ctx.errors.last_time} if ctx.errors.last_time else {}),
            },
            "done_slot": self.slot,
        }
        self.item_errors += ctx.errors.total
        if list_name == ACTIVE:
            self.processed += 1
            self.tally.add_stat("workItems")
        elif state == Status.COMPLETED:
            self.cleaned += 1
            self.tally.add_stat("workItemsCleaned")
            fields["list"] = DROPPED
            fields["modified"] = finished
        else:
            self.tally.add_stat("workItemsDirty")
            if self.tally.aborted:
                self.tally.add_stat("workItemsAborted")
        self.writes[name] = ItemWrite(name, fields, read_time)

    # -- checkpoints ------------------------------------------------------------
    def _sync_run(self, now: datetime) -> None:
        self.last_checkpoint = now
        status = self.run_state.status
        status.progress_time.CopyFrom(datetime_to_ts(now))
        status.stats.clear()
        status.stats.update(self.tally.stats)
        status.total_errors = self.tally.errors.total
        del status.errors[:]
        for err in self.tally.errors.recent:
            status.errors.add(time=datetime_to_ts(err["time"]), text=err["text"])
        if self.tally.errors.last_time is not None:
            status.last_error_time.CopyFrom(datetime_to_ts(self.tally.errors.last_time))

    def _checkpoint(
        self,
        release: bool = False,
        extra: dict[str, Any] | None = None,
        record: bool = False,
    ) -> None:
        """Commit queued item writes with the run and a renewed (or released) lease,
        conditional on the process document: a takeover raises LeaseLost.
        """
        started = self.clock()
        held_until = self.lease_expiry
        self._sync_run(started)
        fields = {"lease": to_doc(self._lease(started, release)), "run": to_doc(self.run_state)}
        fields.update(extra or {})
        writes = list(self.writes.values())
        for _ in range(MAX_CHECKPOINT_ATTEMPTS):
            try:
                self.update_time = self.store.commit_process(
                    self.name,
                    fields,
                    self.update_time,
                    writes,
                    run_record=self._run_record(self.run_state) if record else None,
                )
                break
            except PreconditionFailed:
                writes = self._after_race(writes)
        else:
            raise StoreUnavailable(f"checkpoint of {self.name} kept losing precondition races")
        self.writes = {}
        if not release and self.clock() >= held_until:
            self.lapsed = True
            event(
                logging.WARNING,
                "lease lapsed during a checkpoint: handing over",
                process=self.name,
                slot=self.slot,
                instance=self.instance,
                epoch=self.epoch,
            )
        self.budget.record_checkpoint((self.clock() - started).total_seconds())
        event(
            logging.INFO,
            "checkpoint",
            process=self.name,
            slot=self.slot,
            instance=self.instance,
            epoch=self.epoch,
            items=len(writes),
            released=release,
        )

    def _after_race(self, writes: list[ItemWrite]) -> list[ItemWrite]:
        """Someone wrote the process document or an item: fence, then drop the item
        writes a concurrent register or unregister superseded.
        """
        snap = self.store.read_process(self.name)
        lease = snap.process.lease
        if snap.update_time is None or lease.epoch != self.epoch or lease.holder != self.instance:
            raise LeaseLost(f"lease now held by {lease.holder or 'nobody'} at epoch {lease.epoch}")
        self.update_time = snap.update_time
        stored = snap.process
        if stored.HasField("settings"):
            self.settings.CopyFrom(stored.settings)
        if stored.paused:
            self.stop_requested = True
        current = self.store.get_items(self.name, [w.name for w in writes])
        kept = [
            w for w in writes if w.name in current and current[w.name].update_time == w.read_time
        ]
        for w in writes:
            if w not in kept:
                event(
                    logging.INFO,
                    "item changed during the run: its new registration stands",
                    process=self.name,
                    item=w.name,
                    slot=self.slot,
                )
        return kept

    # -- endings ------------------------------------------------------------------
    def _finish(self) -> TickResult:
        now = self.clock()
        self._sync_run(now)
        if self.tally.aborted:
            final = Status.ABORTED
        elif self.tally.errors.total:
            final = Status.INCOMPLETE
        else:
            final = Status.COMPLETED
        if final == Status.ABORTED:
            self.run_state.items_left = self._items_left() or 0
            self.run_state.reason = f"more than {rules.MAX_RUN_ERRORS} errors in the run"
        else:
            self.run_state.items_left = 0
        finish_run(self.run_state, final, now, self.aggregate)
        extra: dict[str, Any] = {
            "aggregate_stats": dict(self.aggregate),
            "last_finished_slot": self.slot,
        }
        extra.update(self._abort_streak(final))
        # _checkpoint re-syncs the run from the tally: keep the finished stats.
        self.tally.stats = dict(self.run_state.status.stats)
        self._checkpoint(release=True, extra=extra, record=True)
        state_name = Status.State.Name(final)
        level = logging.WARNING if final == Status.ABORTED else logging.INFO
        event(
            level,
            f"run {state_name.lower()}",
            process=self.name,
            slot=self.slot,
            instance=self.instance,
            epoch=self.epoch,
            run_state=state_name,
            stats=dict(self.run_state.status.stats),
            items_left=self.run_state.items_left,
        )
        outcome = "aborted" if final == Status.ABORTED else self.outcome
        return self._result(outcome, run_state=state_name, left=self.run_state.items_left)

    def _abort_streak(self, final: int) -> dict[str, Any]:
        """Pause on failure: count consecutive aborted runs, pause after the configured number."""
        snap_streak = self.state.consecutive_aborts
        if final != Status.ABORTED:
            return {"consecutive_aborts": 0}
        streak = snap_streak + 1
        fields: dict[str, Any] = {"consecutive_aborts": streak}
        limit = self.state.pause_after_aborts
        if limit and streak >= limit:
            reason = f"paused after {streak} consecutive aborted runs"
            fields.update({"paused": True, "pause_reason": reason})
            event(logging.ERROR, reason, process=self.name, slot=self.slot)
        return fields

    def _hand_over(self) -> TickResult:
        """Stopped before the deadline with work left: checkpoint, release, ask for more."""
        left = None if self.stream_cut else self._items_left()
        if left is not None:
            self.run_state.items_left = left
        self._checkpoint(release=True)
        continuation = False
        # With no scheduler configured, the next scheduled tick resumes.
        if left != 0 and not self.stop_requested and not isinstance(self.trigger, NoTrigger):
            try:
                self.trigger.run_now(self.name)
                continuation = True
            except (StoreUnavailable, Conflict) as err:
                event(
                    logging.WARNING,
                    "continuation request failed; the next scheduled tick resumes",
                    process=self.name,
                    slot=self.slot,
                    detail=str(err),
                )
        event(
            logging.INFO,
            "tick stopped with work left",
            process=self.name,
            slot=self.slot,
            instance=self.instance,
            epoch=self.epoch,
            processed=self.processed,
            items_left=left,
            continuation=continuation,
        )
        return self._result(self.outcome, run_state="ACTIVE", left=left, continuation=continuation)

    def _items_left(self) -> int | None:
        """Items still pending in the slot: the stored count less this tick's queued
        writes; None when counting failed (the count only informs, it decides nothing).
        """
        try:
            counted = self.store.count_pending(self.name, self.slot)
        except StoreUnavailable as err:
            event(
                logging.WARNING,
                "could not count the items left",
                process=self.name,
                slot=self.slot,
                detail=str(err)[:500],
            )
            return None
        return max(0, counted - len(self.writes))

    def _result(self, outcome: str, **kwargs: Any) -> TickResult:
        return TickResult(
            outcome=outcome,
            process=self.name,
            instance=self.instance,
            slot=self.slot,
            epoch=self.epoch,
            processed=self.processed,
            cleaned=self.cleaned,
            errors=self.item_errors,
            **kwargs,
        )
