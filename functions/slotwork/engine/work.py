"""The work of a tick: read this shard's pending items, keep up to the process's
concurrency of them in flight, record each as it finishes, checkpoint, and stop
dispatching when the deadline, the lease, a pause or the error budget says so.

One thread (this one) reads the stream, keeps every book and commits; the
dispatcher's threads only call the worker. A checkpoint commits finished
items only, never one still in flight.
"""

from __future__ import annotations

import logging

from slotwork.context import KEPT_ITEM_ERRORS, ErrorLog, ItemContext
from slotwork.engine import outcomes
from slotwork.engine.checkpoint import Checkpointer
from slotwork.engine.dispatch import (
    Finished,
    Job,
    RateLimiter,
    RetryQueue,
    dispatcher_for,
)
from slotwork.engine.outcomes import Kind
from slotwork.engine.runs import entry
from slotwork.engine.state import RunState, Stop, TickDeps
from slotwork.errors import Permanent
from slotwork.logs import event
from slotwork.model import CLEANUP, PENDING_LISTS
from slotwork.policies import NO_RETRY
from slotwork.schema import Params
from slotwork.store import Counter, StoredItem, StreamCut
from slotwork.store.documents import status_doc

# A pending-items stream lives until the tick's deadline, but at least this
# long: the emulator takes seconds to start answering a query over a million
# documents. (The tick's deadline leaves room before Scheduler's.)
MIN_STREAM_SECONDS = 30.0
# Longest wait of the loop for a call to finish before it looks at the time again.
MAX_WAIT_SECONDS = 0.2
# Items waiting for a retry kept in memory (others wait in their stored state).
MAX_PARKED_RETRIES = 10_000
KILLED_TEXT = (
    "the invocation died while this item was being processed (it was killed, ran out "
    "of memory, or raised SystemExit): set aside for this slot"
)


class Work:
    """Works this shard's pending items (``run``), then says whether any are left."""

    def __init__(self, deps: TickDeps, state: RunState, checkpointer: Checkpointer) -> None:
        self.deps = deps
        self.state = state
        self.checkpointer = checkpointer
        self.dispatch = dispatcher_for(
            deps.definition, deps.clock, one_at_a_time=state.part.suspect_items > 0
        )
        self.retry = deps.definition.retry or NO_RETRY
        self.retries = RetryQueue(MAX_PARKED_RETRIES)
        self.limiter = RateLimiter()
        self.in_flight: set[str] = set()
        self.set_aside: set[str] = set()
        # A retry that did not fit in memory waits in the store: the part is not done.
        self.unparked = False

    def run(self) -> bool:
        """True when the shard has nothing left in the slot (or its run aborted)."""
        try:
            return self._loop()
        finally:
            self.dispatch.close()

    # -- the loop -------------------------------------------------------------------
    def _loop(self) -> bool:
        state = self.state
        if state.killer:
            self._set_aside(state.killer)
        upcoming = iter(
            self.deps.store.pending(self.deps.name, state.slot, state.buckets, self._stream_timeout)
        )
        exhausted = False
        while True:
            self._record_all(self.dispatch.take(None))
            if self.checkpointer.due():
                # (Also when the lease runs short: never start an item on an expired one.)
                self.checkpointer.commit()
                if state.stop is None and self.checkpointer.lease_running_out(after_renewal=True):
                    state.stop = Stop.LAPSED  # the renewal itself took too long
            self._check_stop()
            if state.stop is None and self.dispatch.in_flight < self.dispatch.capacity:
                if state.policies.rate is not None:
                    wait = self.limiter.delay(self.deps.clock())
                    if wait > 0:
                        self.deps.sleep(min(wait, MAX_WAIT_SECONDS))
                        continue
                item = self._due_retry() if len(self.retries) else None
                if item is None and not exhausted:
                    try:
                        item = next(upcoming)
                    except StopIteration:
                        exhausted = True
                        continue
                    except StreamCut as err:
                        self._stream_cut(err)
                        continue
                    if not self._admit(item):
                        continue
                if item is not None:
                    self._submit(item)
                    continue
            if self.dispatch.in_flight:
                self._record_all(self.dispatch.take(MAX_WAIT_SECONDS))
                continue
            if state.stop is not None:
                return state.aborted
            if len(self.retries):
                self._wait_for_retries()
                continue
            if exhausted and self.unparked:
                state.stop = Stop.RETRY_LATER
                return False
            return exhausted

    def _check_stop(self) -> None:
        state = self.state
        if state.stop is not None:
            return
        if state.budget.exceeded:
            state.stop = Stop.ABORTED
        elif state.deadline.exhausted():
            state.stop = Stop.DEADLINE

    def _wait_for_retries(self) -> None:
        """Only retries are left: wait for the first if it is due before the deadline."""
        due = self.retries.due()
        assert due is not None
        now = self.deps.clock()
        deadline = self.state.deadline
        if (due - now).total_seconds() >= deadline.remaining() - deadline.margin():
            self.state.stop = Stop.RETRY_LATER
            return
        if self.checkpointer.writes or self.checkpointer.due():
            self.checkpointer.commit()
        self.deps.sleep(min(max((due - now).total_seconds(), 0.0), MAX_WAIT_SECONDS))

    def _stream_timeout(self) -> float | None:
        # The stream lives as long as the tick may; past that, a silent Firestore
        # must end it rather than hold the tick forever, and a broken stream is
        # not reopened once the deadline has passed.
        remaining = self.state.deadline.remaining()
        return max(remaining, MIN_STREAM_SECONDS) if remaining > 0 else None

    def _stream_cut(self, err: StreamCut) -> None:
        # Items stopped arriving and the deadline came: what was done is
        # checkpointed by the hand-over, and the continuation reads on.
        self.state.stop = Stop.STREAM_CUT
        event(
            logging.WARNING,
            "pending items stopped arriving before the deadline",
            process=self.deps.name,
            shard=self.state.fence.shard,
            slot=self.state.slot,
            instance=self.deps.instance,
            processed=self.state.counts.processed,
            detail=str(err),
        )

    # -- items in -----------------------------------------------------------------
    def _admit(self, item: StoredItem) -> bool:
        """Whether a streamed item is to be worked now (else it is skipped or parked)."""
        name = item.name
        if name in self.in_flight or name in self.retries.names or name in self.set_aside:
            return False
        if name in self.checkpointer.writes:
            # Changed since we read it (a register): let the checkpoint drop our
            # stale write, then work on the new version.
            self.checkpointer.commit()
        due = item.next_attempt_time
        if item.attempt_slot == self.state.slot and due is not None and due > self.deps.clock():
            if not self.retries.park(item, due):
                self.unparked = True
            return False
        return True

    def _due_retry(self) -> StoredItem | None:
        item = self.retries.pop_due(self.deps.clock())
        if item is None or item.name not in self.checkpointer.watched:
            return item  # none due, or one read from the stream as it is stored
        if item.name in self.checkpointer.writes:
            self.checkpointer.commit()  # its retry state must land before it runs again
        updated = self.checkpointer.unwatch(item.name)
        if updated is None:
            return None  # its write was dropped: a new registration stands
        return StoredItem(
            item.name,
            item.list,
            item.params,
            item.done_slot,
            updated,
            bucket=item.bucket,
            attempts=item.attempts,
            attempt_slot=item.attempt_slot,
            next_attempt_time=item.next_attempt_time,
            failed_slots=item.failed_slots,
            doc={"status": item.status_doc},
        )

    def _context(self, item: StoredItem) -> ItemContext:
        settings = Params()
        settings.CopyFrom(self.state.policies.settings)
        earlier = outcomes.attempts_before(item, self.state.slot)
        ctx = ItemContext(
            self.deps.name,
            item.name,
            settings,
            self.state.slot,
            self.deps.clock,
            self.state.deadline.remaining,
            self.state.budget,
            self.state.policies.errors.per_item,
            counts_toward_run=earlier == 0,
        )
        if earlier:
            # The errors of its earlier attempts in the slot count toward its own limit.
            status = item.status
            ctx.errors = ErrorLog(
                KEPT_ITEM_ERRORS,
                total=status.total_errors,
                recent=[entry(e) for e in status.errors],
            )
            ctx.earlier_errors = status.total_errors
        return ctx

    def _submit(self, item: StoredItem) -> None:
        state = self.state
        if state.part.suspect_items > 0:
            # Narrowing down an item that kills its invocation: say which one
            # runs before it runs, so the next holder knows.
            state.part.current_item = item.name
            self.checkpointer.commit()
            if state.stop is not None:
                state.part.current_item = ""
                return
        # Each read of an item has params of its own; an item that may run again in
        # this tick (a retry) gives its worker a copy.
        params = item.params
        if self.retry.attempts > 1:
            params = Params()
            params.CopyFrom(item.params)
        job = Job(item, item.list == CLEANUP, self._context(item), params)
        if state.policies.rate is not None:
            self.limiter.take(state.policies.rate, max(state.run.shards, 1), self.deps.clock())
        self.in_flight.add(item.name)
        self.dispatch.submit(job)

    # -- items out ------------------------------------------------------------------
    def _record_all(self, finished: list[Finished]) -> None:
        for done in finished:
            self._record(done)

    def _record(self, finished: Finished) -> None:
        state = self.state
        job = finished.job
        ctx = job.ctx
        self.in_flight.discard(job.item.name)
        seeded = ctx.earlier_errors
        verdict = outcomes.judge(
            finished,
            state.slot,
            self.retry,
            self.deps.definition.quarantine_after,
            state.aborted,
            self.deps.rng,
            seeded,
        )
        state.deadline.record_item((finished.finished - finished.started).total_seconds())
        state.tally.merge(ctx)
        state.counts.errors += ctx.errors.total - seeded
        self._count(verdict, job)
        self.checkpointer.queue(verdict.write)
        if verdict.kind is Kind.RETRY and verdict.retry_at is not None:
            fields = verdict.write.fields
            assert fields.status is not None
            parked = StoredItem(
                job.item.name,
                job.item.list,
                job.item.params,
                job.item.done_slot,
                job.item.update_time,
                bucket=job.item.bucket,
                attempts=fields.attempts or 0,
                attempt_slot=fields.attempt_slot,
                next_attempt_time=verdict.retry_at,
                failed_slots=job.item.failed_slots,
                doc={"status": status_doc(fields.status)},
            )
            if self.retries.park(parked, verdict.retry_at):
                self.checkpointer.watch(parked.name)
            else:
                self.unparked = True
        if state.part.suspect_items > 0:
            state.part.current_item = ""
            state.part.suspect_items -= 1

    def _count(self, verdict: outcomes.Verdict, job: Job) -> None:
        state = self.state
        part = state.part
        tally = state.tally
        kind = verdict.kind
        if kind is Kind.RETRY:
            state.counts.retried += 1
            tally.add_stat("workItemsRetried")
            return
        part.items_done += 1
        if kind in (Kind.DONE, Kind.FAILED, Kind.QUARANTINED):
            state.counts.processed += 1
            tally.add_stat("workItems")
        if kind in (Kind.FAILED, Kind.QUARANTINED, Kind.DIRTY):
            part.items_failed += 1
            state.counts.failed += 1
        if kind is Kind.CLEANED:
            state.counts.cleaned += 1
            tally.add_stat("workItemsCleaned")
        elif kind is Kind.DIRTY:
            tally.add_stat("workItemsDirty")
            if state.aborted:
                tally.add_stat("workItemsAborted")
        elif kind is Kind.QUARANTINED:
            tally.add_stat("workItemsQuarantined")
            self.checkpointer.owe(Counter.QUARANTINED_ITEMS, 1)
            event(
                logging.WARNING,
                "item quarantined",
                event="quarantined",
                process=self.deps.name,
                shard=state.fence.shard,
                slot=state.slot,
                item=job.item.name[:200],
                reason=verdict.write.fields.quarantine_reason,
            )

    def _set_aside(self, name: str) -> None:
        """The previous holder died while ``name`` was being processed (its worker
        killed the invocation): record the item aborted for the slot, with why."""
        state = self.state
        found = self.deps.store.get_items(self.deps.name, [name]).get(name)
        self.set_aside.add(name)
        state.part.stalled_takeovers = 0
        if found is None or found.list not in PENDING_LISTS or found.done_slot >= state.slot:
            return
        ctx = self._context(found)
        ctx.item_aborted = True
        now = self.deps.clock()
        job = Job(found, found.list == CLEANUP, ctx, found.params)
        finished = Finished(job, now, now, Permanent(KILLED_TEXT))
        event(
            logging.WARNING,
            "an item killed its invocation: set aside for the slot",
            event="killer",
            process=self.deps.name,
            shard=state.fence.shard,
            slot=state.slot,
            item=name[:200],
        )
        self._record(finished)
