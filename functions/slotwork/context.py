"""A run's bookkeeping while a tick works (stats, bounded errors, the error
budget) and the per-item ``Context`` a worker receives.

Workers may run on several threads at once: each gets its own ``ItemContext``,
whose stats and errors stay with the item until the engine records it on its
own thread. Only the run's error budget is shared, behind a lock, so the
error that exceeds it is exactly the one that aborts the run.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from slotwork.errors import InvalidArgument
from slotwork.params import check_map_key, shorten
from slotwork.process import ABORT, CONTINUE, ErrorAction
from slotwork.schema import Params
from slotwork.store import ErrorEntry

MAX_ERROR_TEXT = 1024  # keeps a run's 25 kept errors far below the document limit
KEPT_ITEM_ERRORS = 10  # errors kept (the most recent) on an item ...
KEPT_RUN_ERRORS = 25  # ... and on a run; totals count them all
# Distinct stat names an item, a run and the aggregate may hold: with keys of at
# most 256 bytes, the largest stats map stays below 300 KB of a 1 MiB document.
MAX_ITEM_STATS = 64
MAX_RUN_STATS = 256
MAX_AGGREGATE_STATS = 1024
# The run stats slotwork itself keeps: always counted, never dropped for the bound
# (the workers' own names get the rest of it).
ENGINE_STATS = frozenset(
    {
        "workItems",
        "workItemsCleaned",
        "workItemsDirty",
        "workItemsAborted",
        "workItemsRetried",
        "workItemsQuarantined",
        "errors",
        "duration",
        "runs",
        "state.completed",
        "state.incomplete",
        "state.aborted",
    }
)


def error_text(err: BaseException | str) -> str:
    """A bounded text for an error that Firestore can always store."""
    try:
        detail = str(err)
    except Exception:  # a worker's exception whose __str__ fails must not escape
        detail = "(unprintable)"
    if isinstance(err, BaseException):
        text = f"{type(err).__name__}: {detail}" if detail else type(err).__name__
    else:
        text = detail
    if len(text) > MAX_ERROR_TEXT:
        text = text[: MAX_ERROR_TEXT - 3] + "..."
    # Lone surrogates (os.fsdecode, surrogateescape) cannot be encoded: replace them.
    return text.encode("utf-8", "replace").decode("utf-8")


def stat_value(name: str, value: object) -> float:
    """A stat increment Firestore can store: a finite number."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidArgument(f"stat {name!r}: the value must be a finite number, got {value!r}")
    return float(value)


@dataclass
class ErrorLog:
    """Errors of a run or an item: a total, and the most recent ``keep`` entries."""

    keep: int
    total: int = 0
    last_time: datetime | None = None
    recent: list[ErrorEntry] = field(default_factory=list)

    def add(self, when: datetime, text: str) -> None:
        self.total += 1
        self.last_time = when
        self.recent.append(ErrorEntry(when, text))
        if len(self.recent) > self.keep:
            del self.recent[0]

    def extend(self, other: ErrorLog) -> None:
        """Add ``other``'s entries (its total, its kept entries) after these."""
        for entry in other.recent:
            self.recent.append(entry)
        del self.recent[: max(0, len(self.recent) - self.keep)]
        self.total += other.total
        if other.last_time is not None:
            self.last_time = other.last_time


class RunBudget:
    """The run's error budget, shared by the items in flight: ``limit`` errors, the
    next one aborts the run. ``own`` counts this shard's errors (starting with what
    its earlier ticks counted); ``elsewhere`` what other shards reported."""

    def __init__(self, limit: int, own: int = 0) -> None:
        self._lock = threading.Lock()
        self.limit = limit
        self._own = own
        self._elsewhere = 0

    def count(self) -> bool:
        """Count one error; True when the run is now over its budget."""
        with self._lock:
            self._own += 1
            return self._own + self._elsewhere > self.limit

    def set_elsewhere(self, errors: int) -> None:
        """What other shards of the run counted, as last reported."""
        with self._lock:
            self._elsewhere = max(0, errors)

    @property
    def own(self) -> int:
        with self._lock:
            return self._own

    @property
    def exceeded(self) -> bool:
        with self._lock:
            return self._own + self._elsewhere > self.limit


# Room the workers' own run stat names get within MAX_RUN_STATS.
WORKER_RUN_STATS = MAX_RUN_STATS - len(ENGINE_STATS)


def add_bounded(
    stats: dict[str, float], name: str, amount: float, limit: int, dropped: list[str]
) -> None:
    """Add ``amount`` to ``stats[name]`` unless that would make more than ``limit``
    names: then the stat is dropped and its name noted in ``dropped``."""
    if name in stats:
        stats[name] += amount
    elif len(stats) < limit:
        stats[name] = amount
    else:
        dropped.append(name)


def add_run_stat(stats: dict[str, float], name: str, amount: float, dropped: list[str]) -> None:
    """``add_bounded`` for a run's stats: slotwork's own names are always kept, the
    workers' names get ``WORKER_RUN_STATS`` of the room."""
    if name in stats or name in ENGINE_STATS:
        stats[name] = stats.get(name, 0.0) + amount
    elif len(stats.keys() - ENGINE_STATS) < WORKER_RUN_STATS:
        stats[name] = amount
    else:
        dropped.append(name)


@dataclass
class RunTally:
    """What this shard's part of the run has counted (across the ticks that worked it).

    Touched only by the engine's own thread: items are merged in as they finish.
    """

    clock: Callable[[], datetime]
    stats: dict[str, float] = field(default_factory=dict)
    errors: ErrorLog = field(default_factory=lambda: ErrorLog(KEPT_RUN_ERRORS))
    stats_bounded: bool = False  # whether the stat-name bound was hit (noted once)

    def add_stat(self, name: str, value: float = 1) -> None:
        dropped: list[str] = []
        add_run_stat(self.stats, name, value, dropped)
        if dropped:
            self._bounded(f"more than {MAX_RUN_STATS} stat names in this run", dropped[0])

    def _bounded(self, what: str, first: str) -> None:
        if not self.stats_bounded:
            self.stats_bounded = True
            self.note(f"{what}: {first[:80]!r} and later new names are not counted")

    def note(self, text: str) -> None:
        """Record an error of the run itself (it does not count toward the budget)."""
        self.errors.add(self.clock(), text)

    def merge(self, item: ItemContext) -> None:
        """Add a finished item's run stats and errors."""
        for name, value in item.run_stats.items():
            self.add_stat(name, value)
        if item.dropped_stats:
            self._bounded(
                f"item {item.item[:80]!r} has more than {MAX_ITEM_STATS} stat names",
                item.dropped_stats[0],
            )
        # Only this attempt's errors: its earlier attempts' are counted already.
        new = item.errors.total - item.earlier_errors
        shown = item.errors.recent[len(item.errors.recent) - min(new, len(item.errors.recent)) :]
        for entry in shown:
            self.errors.add(entry.time, f"item {shorten(item.item)}: {entry.text}")
        self.errors.total += new - len(shown)


class ItemContext:
    """The ``Context`` for one item: stats and errors stay here until the item is
    recorded; each error is counted against the run's budget at once."""

    def __init__(
        self,
        process: str,
        item: str,
        settings: Params,
        slot: datetime,
        clock: Callable[[], datetime],
        remaining: Callable[[], float],
        budget: RunBudget,
        per_item: int,
        counts_toward_run: bool = True,
    ) -> None:
        self._process = process
        self.item = item
        self._settings = settings
        self._slot = slot
        self._clock = clock
        self._remaining = remaining
        self._budget = budget
        self._per_item = per_item
        # An item's retries count toward the run's budget once, with its first failure.
        self._counts_toward_run = counts_toward_run
        self.stats: dict[str, float] = {}
        self.run_stats: dict[str, float] = {}
        self.dropped_stats: list[str] = []
        self.errors = ErrorLog(KEPT_ITEM_ERRORS)
        self.earlier_errors = 0  # errors of earlier attempts in the slot, seeded into errors
        self.item_aborted = False
        self.run_aborted = False

    @property
    def process(self) -> str:
        return self._process

    @property
    def settings(self) -> Params:
        return self._settings

    @property
    def slot(self) -> datetime:
        return self._slot

    def now(self) -> datetime:
        """The app's clock: workers use it instead of the wall clock."""
        return self._clock()

    def remaining(self) -> float:
        return self._remaining()

    def add_stat(self, name: str, value: float = 1) -> None:
        name = check_map_key(name, "stat")
        amount = stat_value(name, value)
        add_bounded(self.stats, name, amount, MAX_ITEM_STATS, self.dropped_stats)
        self.run_stats[f"work.{name}"] = self.run_stats.get(f"work.{name}", 0.0) + amount

    def add_run_stat(self, name: str, value: float = 1) -> None:
        name = check_map_key(name, "stat")
        amount = stat_value(name, value)
        self.run_stats[name] = self.run_stats.get(name, 0.0) + amount

    def add_error(self, err: BaseException | str) -> ErrorAction:
        self.errors.add(self._clock(), error_text(err))
        if self.errors.total > self._per_item:
            self.item_aborted = True
        if self._counts_toward_run and self._budget.count():
            self.run_aborted = True
        return ABORT if (self.item_aborted or self.run_aborted) else CONTINUE
