"""The run's bookkeeping while a tick works: stats, bounded errors, error limits,
and the per-item ``Context`` a worker receives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from slotwork import rules
from slotwork.errors import InvalidArgument
from slotwork.params import check_map_key
from slotwork.process import ABORT, CONTINUE, ErrorAction
from slotwork.schema import Params

MAX_ERROR_TEXT = 1024  # keeps a run's 25 kept errors far below the document limit


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
    recent: list[dict[str, Any]] = field(default_factory=list)

    def add(self, when: datetime, text: str) -> None:
        self.total += 1
        self.last_time = when
        self.recent.append({"time": when, "text": text})
        if len(self.recent) > self.keep:
            del self.recent[0]


@dataclass
class RunTally:
    """What the current run has counted so far (across the ticks that resumed it)."""

    stats: dict[str, float] = field(default_factory=dict)
    errors: ErrorLog = field(default_factory=lambda: ErrorLog(rules.MAX_RUN_ERRORS))
    aborted: bool = False

    def add_stat(self, name: str, value: float = 1) -> None:
        self.stats[name] = self.stats.get(name, 0.0) + value


class ItemContext:
    """The ``Context`` for one item: stats and errors land on the item and the run."""

    def __init__(
        self,
        process: str,
        item: str,
        settings: Params,
        slot: datetime,
        tally: RunTally,
        clock: Callable[[], datetime],
        remaining: Callable[[], float],
    ) -> None:
        self._process = process
        self._item = item
        self._settings = settings
        self._slot = slot
        self._tally = tally
        self._clock = clock
        self._remaining = remaining
        self.stats: dict[str, float] = {}
        self.errors = ErrorLog(rules.MAX_ITEM_ERRORS)
        self.item_aborted = False

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
        check_map_key(name, "stat")
        amount = stat_value(name, value)
        self.stats[name] = self.stats.get(name, 0.0) + amount
        self._tally.add_stat(f"work.{name}", amount)

    def add_run_stat(self, name: str, value: float = 1) -> None:
        check_map_key(name, "stat")
        self._tally.add_stat(name, stat_value(name, value))

    def add_error(self, err: BaseException | str) -> ErrorAction:
        when = self._clock()
        text = error_text(err)
        self.errors.add(when, text)
        self._tally.errors.add(when, f"item {self._item!r}: {text}")
        item_abort, run_abort = rules.item_error_action(self.errors.total, self._tally.errors.total)
        self.item_aborted = self.item_aborted or item_abort
        self._tally.aborted = self._tally.aborted or run_abort
        return ABORT if (item_abort or run_abort) else CONTINUE
