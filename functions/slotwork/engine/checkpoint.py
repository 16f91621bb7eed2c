"""Checkpoints: the items finished since the last one, committed with this shard's
document (its part of the run, a renewed or released lease) in one commit
conditional on the shard document, the fence. Only ticks write shard documents,
so API traffic never makes a checkpoint lose its precondition; a lost race is
either a takeover (stop at once, write nothing: ``LeaseLost``), a concurrent
register or unregister of an item (its new registration stands: drop our
write, back off, retry), or this tick's own commit that had landed before its
answer was lost (done).

After each checkpoint that keeps working, the process document is read again:
a pause, new settings or policies, another shard's abort reach the tick here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from slotwork.engine.claim import policies_of
from slotwork.engine.state import RunState, Stop, TickDeps
from slotwork.errors import LeaseLost, StoreUnavailable
from slotwork.logs import event
from slotwork.retries import backoff
from slotwork.schema import Lease, Progress
from slotwork.schema.documents import datetime_to_ts
from slotwork.store import (
    Commit,
    Committed,
    Counter,
    ItemWrite,
    PreconditionFailed,
    ProcessChange,
    RunWrite,
    ShardWrite,
)

# Lost races (concurrent registers of the same items) a checkpoint retries.
MAX_CHECKPOINT_ATTEMPTS = 8
# Points of the progress curve kept on a shard, at least this far apart: the
# rate over the last few minutes.
PROGRESS_POINTS = 16
PROGRESS_SPACING = timedelta(seconds=15)

Ending = Callable[[], tuple[Sequence[RunWrite], ProcessChange | None]]
"""Builds the run and process writes of a finishing commit; called again after a
lost race, so it can read what another shard wrote meanwhile."""


class Checkpointer:
    """The queued item writes of one tick and the commits that land them."""

    def __init__(self, deps: TickDeps, state: RunState) -> None:
        self.deps = deps
        self.state = state
        self.writes: dict[str, ItemWrite] = {}
        self.last = deps.clock()
        # Counters of the process document this tick owes (quarantined items ...).
        self.increments: dict[Counter, float] = {}
        # Errors this shard has reported to the process document (sharded runs).
        self.reported_errors = state.part.counted_errors
        # Items that will be written again this tick (retries): their update times
        # as the last commit that wrote them left them.
        self.watched: set[str] = set()
        self.updated: dict[str, datetime] = {}

    # -- when -------------------------------------------------------------------
    def due(self) -> bool:
        """Whether the items finished so far should be committed now, or the lease
        renewed before another item starts."""
        if self.writes and (
            self.state.part.suspect_items > 0  # narrowing down a killer: each item at once
            or len(self.writes) >= self.deps.config.checkpoint_items
        ):
            return True
        now = self.deps.clock()
        if self.writes and (now - self.last).total_seconds() >= self.deps.config.checkpoint_seconds:
            return True
        margin = timedelta(seconds=self.state.deadline.margin())
        return now >= self.state.fence.expiry - margin

    def lease_running_out(self, after_renewal: bool = False) -> bool:
        """Whether the lease must be renewed before another item starts."""
        margin = self.state.deadline.margin()
        if after_renewal:
            # A fresh lease must leave time for an item, yet a margin as long as
            # the lease itself must not stall the tick for good.
            margin = min(margin, self.deps.config.lease_ttl / 2)
        return self.deps.clock() >= self.state.fence.expiry - timedelta(seconds=margin)

    def queue(self, write: ItemWrite) -> None:
        self.writes[write.name] = write

    def watch(self, name: str) -> None:
        """Keep the update time ``name`` gets from the next commit that writes it."""
        self.watched.add(name)
        self.updated.pop(name, None)

    def unwatch(self, name: str) -> datetime | None:
        """Stop watching ``name``; its update time, if a commit wrote it."""
        self.watched.discard(name)
        return self.updated.pop(name, None)

    def owe(self, counter: Counter, amount: float) -> None:
        """Add to a process counter with the next commit."""
        self.increments[counter] = self.increments.get(counter, 0) + amount

    # -- the commit -----------------------------------------------------------------
    def commit(self, release: bool = False, ending: Ending | None = None) -> Committed:
        """Commit the queued writes with this shard's part, renewing (or releasing)
        the lease; with ``ending``, also the run and process writes it builds."""
        clock = self.deps.clock
        started = clock()
        held_until = self.state.fence.expiry
        self._sync(started, release)
        writes = list(self.writes.values())
        committed: Committed | None = None
        for attempt in range(1, MAX_CHECKPOINT_ATTEMPTS + 1):
            runs, change = ending() if ending is not None else ((), None)
            try:
                committed = self.deps.store.commit(
                    self.deps.name,
                    Commit(
                        shard=ShardWrite(self.state.part, self.state.fence.known),
                        items=writes,
                        runs=runs,
                        process=self._with_increments(change),
                    ),
                )
                break
            except PreconditionFailed:
                outcome = self._after_race(writes)
                if isinstance(outcome, Committed):
                    committed = outcome
                    break
                writes = outcome
                self.deps.sleep(backoff(attempt, self.deps.rng))
        if committed is None:
            raise StoreUnavailable(
                f"checkpoint of {self.deps.name} kept losing races with writers of its items"
            )
        self._landed(committed, started, release, held_until, len(writes))
        if not release:
            self.refresh()
        return committed

    def _with_increments(self, change: ProcessChange | None) -> ProcessChange | None:
        increments = dict(self.increments)
        if self.state.run.shards > 1:
            unreported = self.state.budget.own - self.reported_errors
            if unreported:
                increments[Counter.RUN_COUNTED_ERRORS] = unreported
        if not increments:
            return change
        base = change or ProcessChange()
        merged = dict(base.increments)
        for counter, amount in increments.items():
            merged[counter] = merged.get(counter, 0) + amount
        return ProcessChange(
            values=base.values,
            fields=base.fields,
            increments=merged,
            aggregate=base.aggregate,
            run_aborting=base.run_aborting,
            create=base.create,
        )

    def _sync(self, now: datetime, release: bool) -> None:
        """Bring this shard's document up to date with the tally."""
        state = self.state
        part = state.part
        status = part.status
        tally = state.tally
        status.progress_time.CopyFrom(datetime_to_ts(now))
        status.stats.clear()
        status.stats.update(tally.stats)
        status.total_errors = tally.errors.total
        del status.errors[:]
        for err in tally.errors.recent:
            status.errors.add(time=datetime_to_ts(err.time), text=err.text)
        if tally.errors.last_time is not None:
            status.last_error_time.CopyFrom(datetime_to_ts(tally.errors.last_time))
        part.counted_errors = state.budget.own
        counting = state.counting
        if counting is not None and (counting.done() or release):
            state.counting = None
            try:
                part.items_total = counting.result()
            except Exception as err:  # the count only informs: a failed one is none
                event(logging.WARNING, "could not count the shard's items", detail=str(err)[:500])
        # Items registered after the shard counted its own are done beyond its total.
        part.items_total = max(part.items_total, part.items_done)
        part.commits += 1
        expire = now if release else now + timedelta(seconds=self.deps.config.lease_ttl)
        part.lease.CopyFrom(
            Lease(
                holder=self.deps.instance,
                epoch=state.fence.epoch,
                expire_time=datetime_to_ts(expire),
                released=release,
            )
        )
        state.fence.expiry = expire
        points = part.progress
        if not points or now - points[-1].time.ToDatetime(tzinfo=now.tzinfo) >= PROGRESS_SPACING:
            points.append(Progress(time=datetime_to_ts(now), done=part.items_done))
            del points[: max(0, len(points) - PROGRESS_POINTS)]

    def _after_race(self, writes: list[ItemWrite]) -> list[ItemWrite] | Committed:
        """A commit lost a precondition: find out which, and what to do."""
        fence = self.state.fence
        snap = self.deps.store.read_shard(self.deps.name, fence.shard)
        lease = snap.shard.lease
        if lease.epoch != fence.epoch or lease.holder != self.deps.instance:
            raise LeaseLost(
                f"shard {fence.shard} now held by {lease.holder or 'nobody'} at epoch {lease.epoch}"
            )
        if snap.shard.commits == self.state.part.commits and snap.update_time is not None:
            # Our own commit had landed (its answer was lost and the call retried).
            current = self.deps.store.get_items(self.deps.name, [w.name for w in writes])
            return Committed(
                shard=snap.update_time,
                items={name: item.update_time for name, item in current.items()},
            )
        current = self.deps.store.get_items(self.deps.name, [w.name for w in writes])
        kept = [
            w for w in writes if w.name in current and current[w.name].update_time == w.read_time
        ]
        for w in writes:
            if w not in kept:
                event(
                    logging.INFO,
                    "item changed during the run: its new registration stands",
                    process=self.deps.name,
                    shard=fence.shard,
                    item=w.name[:200],
                    slot=self.state.slot,
                )
        return kept

    def _landed(
        self, committed: Committed, started: datetime, release: bool, held_until: datetime,
        items: int,
    ) -> None:
        state = self.state
        assert committed.shard is not None
        state.fence.known = committed.shard
        self.writes = {}
        self.increments = {}
        self.reported_errors = state.part.counted_errors
        for name, time in committed.items.items():
            if name in self.watched:
                self.updated[name] = time
        now = self.deps.clock()
        self.last = now
        if not release and now >= held_until:
            # Another instance may have been entitled to the shard meanwhile.
            state.stop = state.stop or Stop.LAPSED
            event(
                logging.WARNING,
                "lease lapsed during a checkpoint: handing over",
                process=self.deps.name,
                shard=state.fence.shard,
                slot=state.slot,
                instance=self.deps.instance,
                epoch=state.fence.epoch,
            )
        state.deadline.record_checkpoint((now - started).total_seconds())
        event(
            logging.INFO,
            "checkpoint",
            event="checkpoint",
            process=self.deps.name,
            shard=state.fence.shard,
            slot=state.slot,
            run_id=state.run.id,
            instance=self.deps.instance,
            epoch=state.fence.epoch,
            items=items,
            items_done=state.part.items_done,
            items_failed=state.part.items_failed,
            items_total=state.part.items_total,
            released=release,
        )

    def refresh(self) -> None:
        """Read the process document again: pause, settings, policies, the run."""
        state = self.state
        process = self.deps.store.read_process(self.deps.name).process
        state.process = process
        state.policies = policies_of(process, self.deps.definition)
        state.budget.limit = state.policies.errors.run_limit(state.part.items_total)
        if process.paused:
            state.stop = state.stop or Stop.PAUSED
        if process.run.id and process.run.id != state.run.id:
            state.stop = state.stop or Stop.RUN_REPLACED
        elif process.run.aborting:
            state.stop = state.stop or Stop.ABORTED
        if state.run.shards > 1:
            state.budget.set_elsewhere(process.run.counted_errors - self.reported_errors)
