"""``Harness``: a worker's test bench. An ``App`` over a ``MemoryStore`` and a fake
clock runs real ticks of your processes in milliseconds; faults are injected
at the worker call where you want them; what happened to each item comes back
as a report to assert on.

    def test_rotation_retries_a_throttled_account():
        h = Harness(Process("rotate", RotateKeys(api), timedelta(hours=1), retry=Retry()))
        h.register("rotate", "acct-1")
        report = h.run_slot("rotate")
        assert report.items["acct-1"].state == "completed"
"""

from __future__ import annotations

import enum
import itertools
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from slotwork.app import App
from slotwork.buckets import bucket_of, shard_range
from slotwork.engine import TickResult
from slotwork.model import Outcome
from slotwork.params import ParamsLike
from slotwork.process import Context, Item, Process, Worker
from slotwork.rules import run_is_final
from slotwork.schema import Lease, Shard, Status
from slotwork.schema import Process as ProcessState
from slotwork.schema.documents import datetime_to_ts
from slotwork.store import Commit, PreconditionFailed, ShardWrite, StateStore
from slotwork.testing.clock import DEFAULT_START, FakeClock
from slotwork.testing.memory import MemoryStore

# Ticks ``run_slot`` makes before it gives up on a slot that does not finish.
MAX_TICKS = 1000
# The instance that "takes over" when a fault loses a tick's lease.
THIEF = "harness-takeover"


class HarnessCrash(BaseException):
    """Raised inside a worker call by ``crash``: the invocation dies there, as a
    killed instance would, with nothing since its last checkpoint committed."""


class Phase(enum.Enum):
    BEFORE = "before"
    AFTER = "after"


@dataclass
class _Fault:
    """Something the harness does at one worker call."""

    phase: Phase
    action: Callable[[str, Item], None]
    at_call: int | None = None
    at_item: str | None = None
    fired: bool = False

    def due(self, call: int, item: str) -> bool:
        if self.fired:
            return False
        return call == self.at_call if self.at_call is not None else item == self.at_item


@dataclass
class ItemReport:
    """One item after the harness ran: its calls, state, errors and stats."""

    name: str
    calls: int
    cleanups: int
    state: str
    errors: list[str] = field(default_factory=list)
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class SlotReport:
    """What ``run_slot`` did: its ticks, every item, and the process at the end."""

    ticks: list[TickResult]
    items: dict[str, ItemReport]
    process: ProcessState

    @property
    def outcomes(self) -> list[str]:
        return [t.outcome for t in self.ticks]

    @property
    def run_state(self) -> str:
        return Status.State.Name(self.process.run.status.state)


class _Recorder:
    """Wraps a worker: counts each call and fires the harness's faults around it."""

    def __init__(self, harness: Harness, process: str, worker: Worker) -> None:
        self.harness = harness
        self.process_name = process
        self.inner = worker

    def process(self, ctx: Context, item: Item) -> None:
        call = self.harness._start(self.process_name, item, cleanup=False)
        self.inner.process(ctx, item)
        self.harness._finish(self.process_name, item, call)

    def cleanup(self, ctx: Context, item: Item) -> None:
        call = self.harness._start(self.process_name, item, cleanup=True)
        self.inner.cleanup(ctx, item)
        self.harness._finish(self.process_name, item, call)


class _AsyncRecorder(_Recorder):
    """``_Recorder`` for ``async def`` workers."""

    async def process(self, ctx: Context, item: Item) -> None:  # type: ignore[override]
        call = self.harness._start(self.process_name, item, cleanup=False)
        await self.inner.process(ctx, item)  # type: ignore[func-returns-value,misc]
        self.harness._finish(self.process_name, item, call)

    async def cleanup(self, ctx: Context, item: Item) -> None:  # type: ignore[override]
        call = self.harness._start(self.process_name, item, cleanup=True)
        await self.inner.cleanup(ctx, item)  # type: ignore[func-returns-value,misc]
        self.harness._finish(self.process_name, item, call)


class Harness:
    """Runs ``processes`` on a ``MemoryStore`` (or ``store``) with a ``FakeClock``.

    ``item_duration`` moves the clock by that much at every worker call, so
    deadlines come as they would with slow items. Faults: ``lose_lease``,
    ``deadline_after``, ``crash``, ``register_during``, ``unregister_during``,
    each at a worker call (``at_call``: the n-th call through this harness,
    1-based; or ``at_item``: the first call of that item).
    """

    def __init__(
        self,
        *processes: Process,
        start: datetime = DEFAULT_START,
        deadline: float = 480,
        lease_ttl: float = 120,
        item_duration: timedelta = timedelta(0),
        store: StateStore | None = None,
        checkpoint_items: int | None = None,
        checkpoint_seconds: float | None = None,
    ) -> None:
        self.clock = FakeClock(start)
        self.store: StateStore = store if store is not None else MemoryStore()
        self.item_duration = item_duration
        self.calls: Counter[str] = Counter()
        self.cleanups: Counter[str] = Counter()
        self.call_count = 0
        self._faults: list[_Fault] = []
        ids = itertools.count(1)
        self.app = App(
            [self._wrap(p) for p in processes],
            store=self.store,
            clock=self.clock,
            deadline=deadline,
            lease_ttl=lease_ttl,
            min_frequency=timedelta(seconds=1),
            checkpoint_items=checkpoint_items,
            checkpoint_seconds=checkpoint_seconds,
            sleep=self.clock.sleep,
            ids=lambda: f"harness-{next(ids)}",
        )

    def _wrap(self, process: Process) -> Process:
        recorder = _AsyncRecorder if process.asynchronous else _Recorder
        return replace(process, worker=recorder(self, process.name, process.worker))

    # -- what the worker's calls do ---------------------------------------------------
    def _start(self, process: str, item: Item, cleanup: bool) -> int:
        self.call_count += 1
        call = self.call_count
        (self.cleanups if cleanup else self.calls)[item.name] += 1
        self.clock.advance(self.item_duration)
        self._fire(Phase.BEFORE, process, item, call)
        return call

    def _finish(self, process: str, item: Item, call: int) -> None:
        self._fire(Phase.AFTER, process, item, call)

    def _fire(self, phase: Phase, process: str, item: Item, call: int) -> None:
        for fault in self._faults:
            if fault.phase is phase and fault.due(call, item.name):
                fault.fired = True
                fault.action(process, item)

    def _add(
        self,
        phase: Phase,
        action: Callable[[str, Item], None],
        at_call: int | None,
        at_item: str | None,
    ) -> None:
        if (at_call is None) == (at_item is None):
            raise ValueError("give at_call or at_item")
        self._faults.append(_Fault(phase, action, at_call, at_item))

    # -- faults -----------------------------------------------------------------------
    def lose_lease(self, *, at_call: int | None = None, at_item: str | None = None) -> None:
        """When that call starts, another instance takes the tick's lease over: the
        tick finds out at its next checkpoint, writes nothing and answers conflict."""
        self._add(Phase.BEFORE, self._take_over, at_call, at_item)

    def deadline_after(self, *, at_call: int | None = None, at_item: str | None = None) -> None:
        """When that call returns, the tick's deadline has come: it hands over."""

        def late(process: str, item: Item) -> None:
            self.clock.advance(timedelta(seconds=self.app.config.deadline))

        self._add(Phase.AFTER, late, at_call, at_item)

    def crash(self, *, at_call: int | None = None, at_item: str | None = None) -> None:
        """That call never returns: the invocation dies before its next checkpoint."""

        def die(process: str, item: Item) -> None:
            raise HarnessCrash(f"crashed at {item.name!r}")

        self._add(Phase.BEFORE, die, at_call, at_item)

    def register_during(
        self,
        item: str,
        params: ParamsLike = None,
        *,
        at_call: int | None = None,
        at_item: str | None = None,
    ) -> None:
        """Another client registers ``item`` while that call runs."""
        self._add(
            Phase.BEFORE, lambda process, _: self.register(process, item, params), at_call, at_item
        )

    def unregister_during(
        self, item: str, *, at_call: int | None = None, at_item: str | None = None
    ) -> None:
        """Another client unregisters ``item`` while that call runs."""
        self._add(Phase.BEFORE, lambda process, _: self.unregister(process, item), at_call, at_item)

    def _take_over(self, process: str, item: Item) -> None:
        state = self.app.store.read_process(process).process
        shards = max(state.run.shards, 1)
        index = next(
            k for k in range(shards) if bucket_of(item.name) in shard_range(k, shards)
        )
        snap = self.store.read_shard(process, index)
        stolen = Shard()
        stolen.CopyFrom(snap.shard)
        expiry = self.clock.now + timedelta(seconds=self.app.config.lease_ttl)
        stolen.lease.CopyFrom(
            Lease(
                holder=THIEF, epoch=snap.shard.lease.epoch + 1, expire_time=datetime_to_ts(expiry)
            )
        )
        try:
            self.store.commit(process, Commit(shard=ShardWrite(stolen, snap.update_time)))
        except PreconditionFailed:  # pragma: no cover - only the tick writes it meanwhile
            raise AssertionError("the takeover lost a race with the tick itself") from None

    # -- driving ----------------------------------------------------------------------
    def register(self, process: str, item: str, params: ParamsLike = None) -> None:
        self.app.register(process, item, params)

    def register_many(self, process: str, items: Iterable[str | tuple[str, ParamsLike]]) -> None:
        pairs = [(i, None) if isinstance(i, str) else i for i in items]
        self.app.register_many(process, pairs)

    def unregister(self, process: str, item: str) -> None:
        self.app.unregister(process, item)

    def advance(self, delta: timedelta) -> None:
        """Move the clock (to the next slot: ``advance(frequency)``)."""
        self.clock.advance(delta)

    def tick(self, process: str, shard: int | None = None) -> TickResult:
        """One tick; a crash fault ends it with the outcome ``crashed``."""
        try:
            return self.app.tick(process, shard)
        except HarnessCrash:
            return TickResult("crashed", process, "", shard=shard or 0)

    def run_slot(self, process: str, max_ticks: int = MAX_TICKS) -> SlotReport:
        """Tick every shard until the slot's run is done (across hand-overs, crashes
        and takeovers: the clock moves past a lease that stands in the way)."""
        definition = self.app.definition(process)
        ticks: list[TickResult] = []
        while len(ticks) < max_ticks:
            shards = max(self.app.store.read_process(process).process.run.shards, 1)
            round_ = [self.tick(process, k) for k in range(max(shards, definition.shards))]
            ticks.extend(round_)
            outcomes = {t.outcome for t in round_}
            if outcomes <= {Outcome.DONE.value, Outcome.PAUSED.value}:
                break
            if outcomes & {Outcome.ABORTED.value} and self._final(process):
                break
            if outcomes & {"crashed", Outcome.CONFLICT.value, Outcome.BUSY.value}:
                self.clock.advance(timedelta(seconds=self.app.config.lease_ttl + 1))
        else:
            raise AssertionError(f"{process}: the slot did not finish in {max_ticks} ticks")
        return SlotReport(ticks, self.items(process), self.app.get_process(process))

    def _final(self, process: str) -> bool:
        return run_is_final(self.app.store.read_process(process).process.run)

    def items(self, process: str) -> dict[str, ItemReport]:
        """Every item of ``process`` as it stands, with the calls made through the harness."""
        found: dict[str, ItemReport] = {}
        token = ""
        while True:
            page = self.app.list_work(process, page_size=1000, page_token=token)
            for work in page.items:
                status = work.details.status
                found[work.id] = ItemReport(
                    work.id,
                    self.calls[work.id],
                    self.cleanups[work.id],
                    work.state,
                    [e.text for e in status.errors],
                    dict(status.stats),
                )
            token = page.next_page_token
            if not token:
                return found


__all__ = ["Harness", "HarnessCrash", "ItemReport", "SlotReport"]
