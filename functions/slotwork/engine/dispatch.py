"""Calling the worker. The tick's own thread reads items, keeps the books and
checkpoints; a ``Dispatcher`` only calls the worker, keeping up to its capacity
of items in flight (a sliding window, never a barrier per batch):

- ``Inline``: one item at a time, on the tick's thread (``concurrency=1``);
- ``Threads``: a bounded pool of threads;
- ``EventLoop``: ``async def`` workers on one event loop in a thread of its own.

Also here: the rate limiter the tick consults before each dispatch, and the
queue of items waiting for their retry.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import queue
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from slotwork.clock import Clock
from slotwork.context import ItemContext
from slotwork.policies import Rate
from slotwork.process import Item, Process, Worker
from slotwork.schema import Params
from slotwork.store import StoredItem


@dataclass
class Job:
    """One call of the worker: an item, which method, the item's context, and the
    params the worker gets (its own: mutating them changes nothing stored)."""

    item: StoredItem
    cleanup: bool
    ctx: ItemContext
    params: Params


@dataclass(frozen=True)
class Finished:
    """A finished call: when it ran and what the worker raised (None: nothing)."""

    job: Job
    started: datetime
    finished: datetime
    error: Exception | None


def _item(job: Job) -> Item:
    return Item(job.item.name, job.params, status_doc=job.item.status_doc)


def call(worker: Worker, job: Job, clock: Clock) -> Finished:
    """Call the worker on ``job``; an ``Exception`` it raises is the item's."""
    started = clock()
    method = worker.cleanup if job.cleanup else worker.process
    try:
        method(job.ctx, _item(job))
        error: Exception | None = None
    except Exception as err:  # a worker's failure is the item's, never the tick's
        error = err
    return Finished(job, started, clock(), error)


async def call_async(worker: Worker, job: Job, clock: Clock) -> Finished:
    """``call`` for an ``async def`` worker."""
    started = clock()
    method: Callable[..., Coroutine[Any, Any, None]] = (
        worker.cleanup if job.cleanup else worker.process  # type: ignore[assignment]
    )
    try:
        await method(job.ctx, _item(job))
        error: Exception | None = None
    except Exception as err:  # a worker's failure is the item's, never the tick's
        error = err
    return Finished(job, started, clock(), error)


class Dispatcher(Protocol):
    """Calls the worker on submitted jobs, at most ``capacity`` at once.

    ``submit`` is only called while ``in_flight < capacity``. ``take`` returns
    the calls finished since the last ``take``, waiting up to ``timeout``
    seconds for one when none has (None: not at all); a ``BaseException`` a
    worker raised (not an ``Exception``) is raised again from ``take``, on the
    tick's thread. ``close`` waits for calls in flight and frees the workers.
    """

    capacity: int

    @property
    def in_flight(self) -> int: ...

    def submit(self, job: Job) -> None: ...

    def take(self, timeout: float | None) -> list[Finished]: ...

    def close(self) -> None: ...


class Inline:
    """One call at a time, made by ``submit`` itself: exactly the serial loop."""

    capacity = 1

    def __init__(self, worker: Worker, clock: Clock) -> None:
        self._worker = worker
        self._clock = clock
        self._done: list[Finished] = []

    @property
    def in_flight(self) -> int:
        return 0

    def submit(self, job: Job) -> None:
        self._done.append(call(self._worker, job, self._clock))

    def take(self, timeout: float | None) -> list[Finished]:
        done, self._done = self._done, []
        return done

    def close(self) -> None:
        return None


class _Completions:
    """Futures of calls in flight, and a queue of those that finished."""

    def __init__(self) -> None:
        self._finished: queue.SimpleQueue[Future[Finished]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._running = 0

    def track(self, future: Future[Finished]) -> None:
        with self._lock:
            self._running += 1
        future.add_done_callback(self._finished.put)

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    def take(self, timeout: float | None) -> list[Finished]:
        futures: list[Future[Finished]] = []
        try:
            if timeout is not None and timeout > 0 and self.running:
                futures.append(self._finished.get(timeout=timeout))
            while True:
                futures.append(self._finished.get_nowait())
        except queue.Empty:
            pass
        with self._lock:
            self._running -= len(futures)
        # .result() raises what the call raised: only a BaseException gets this far.
        return [f.result() for f in futures]


class Threads:
    """Up to ``capacity`` calls at once on a pool of threads."""

    def __init__(self, worker: Worker, clock: Clock, capacity: int) -> None:
        self.capacity = capacity
        self._worker = worker
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=capacity, thread_name_prefix="slotwork-item")
        self._calls = _Completions()

    @property
    def in_flight(self) -> int:
        return self._calls.running

    def submit(self, job: Job) -> None:
        self._calls.track(self._pool.submit(call, self._worker, job, self._clock))

    def take(self, timeout: float | None) -> list[Finished]:
        return self._calls.take(timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class EventLoop:
    """Up to ``capacity`` calls of an ``async def`` worker at once on one event loop."""

    def __init__(self, worker: Worker, clock: Clock, capacity: int) -> None:
        self.capacity = capacity
        self._worker = worker
        self._clock = clock
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="slotwork-loop", daemon=True
        )
        self._thread.start()
        self._calls = _Completions()

    @property
    def in_flight(self) -> int:
        return self._calls.running

    def submit(self, job: Job) -> None:
        coro = call_async(self._worker, job, self._clock)
        self._calls.track(asyncio.run_coroutine_threadsafe(coro, self._loop))

    def take(self, timeout: float | None) -> list[Finished]:
        return self._calls.take(timeout)

    def close(self) -> None:
        while self._calls.running:
            self._calls.take(0.1)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


def dispatcher_for(definition: Process, clock: Clock, one_at_a_time: bool) -> Dispatcher:
    """The dispatcher of ``definition``'s concurrency (one at a time when asked)."""
    capacity = 1 if one_at_a_time else definition.concurrency
    if definition.asynchronous:
        return EventLoop(definition.worker, clock, capacity)
    if capacity == 1:
        return Inline(definition.worker, clock)
    return Threads(definition.worker, clock, capacity)


class RateLimiter:
    """Spaces dispatches ``1 / rate`` apart (a shard takes its share of the
    process's rate) on a fixed grid: a dispatch a little late (the loop's own
    work) keeps the grid, so the average holds the rate exactly; after an idle
    spell longer than one interval the grid starts again, so nothing is banked."""

    def __init__(self) -> None:
        self._next: datetime | None = None

    def delay(self, now: datetime) -> float:
        """Seconds to wait before the next dispatch may start (0: now)."""
        if self._next is None:
            return 0.0
        return max(0.0, (self._next - now).total_seconds())

    def take(self, rate: Rate | None, share: int, now: datetime) -> None:
        """Record a dispatch at ``now``."""
        if rate is None:
            self._next = None
            return
        interval = timedelta(seconds=max(share, 1) / rate.per_second)
        if self._next is not None and timedelta(0) <= now - self._next < interval:
            self._next += interval
        else:
            self._next = max(now, self._next or now) + interval


class RetryQueue:
    """Items waiting for their next attempt, earliest first (bounded: an item that
    does not fit waits in its stored state for a later tick)."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._heap: list[tuple[datetime, int, StoredItem]] = []
        self._order = itertools.count()
        self.names: set[str] = set()

    def park(self, item: StoredItem, due: datetime) -> bool:
        """Wait for ``due``; False when the queue is full."""
        if len(self._heap) >= self._limit:
            return False
        heapq.heappush(self._heap, (due, next(self._order), item))
        self.names.add(item.name)
        return True

    def due(self) -> datetime | None:
        return self._heap[0][0] if self._heap else None

    def pop_due(self, now: datetime) -> StoredItem | None:
        """The earliest item whose time has come, if any."""
        if not self._heap or self._heap[0][0] > now:
            return None
        _, _, item = heapq.heappop(self._heap)
        self.names.discard(item.name)
        return item

    def __len__(self) -> int:
        return len(self._heap)
