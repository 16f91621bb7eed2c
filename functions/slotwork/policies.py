"""The policies a process is defined with: rate limit, retries within a slot, and
error budgets. Frozen values with the arithmetic of each; the engine applies them.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import timedelta

from google.protobuf.duration_pb2 import Duration

from slotwork.schema import ErrorBudget as ErrorBudgetMessage
from slotwork.schema import Rate as RateMessage

ONE_SECOND = timedelta(seconds=1)
# As the seed library: the 11th error on an item aborts it for the slot, the
# 26th error in a run aborts the run.
DEFAULT_PER_ITEM_ERRORS = 10
DEFAULT_PER_RUN_ERRORS = 25
# Policies users set through the API stay within these.
MAX_ERRORS = 1_000_000
MAX_RATE_PER_SECOND = 100_000.0


@dataclass(frozen=True)
class Rate:
    """At most ``count`` items every ``per`` (``Rate(200)``: 200 items per second)."""

    count: float
    per: timedelta = ONE_SECOND

    def __post_init__(self) -> None:
        if not (self.count > 0 and math.isfinite(self.count)):
            raise ValueError("a rate's count must be positive")
        if self.per <= timedelta(0):
            raise ValueError("a rate's period must be positive")
        if self.per_second > MAX_RATE_PER_SECOND:
            raise ValueError(f"a rate may be at most {MAX_RATE_PER_SECOND:g} items per second")

    @property
    def per_second(self) -> float:
        return self.count / self.per.total_seconds()

    def to_message(self) -> RateMessage:
        per = Duration()
        per.FromTimedelta(self.per)
        return RateMessage(count=self.count, per=per)

    @classmethod
    def from_message(cls, message: RateMessage) -> Rate | None:
        """The rate a stored message holds (None when it holds none)."""
        if message.count <= 0:
            return None
        per = message.per.ToTimedelta() if message.HasField("per") else ONE_SECOND
        return cls(message.count, per if per > timedelta(0) else ONE_SECOND)


RateLike = Rate | float | int | None


def to_rate(value: RateLike) -> Rate | None:
    """A ``Rate`` from a Rate, a number of items per second, or None (no limit)."""
    if value is None or isinstance(value, Rate):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("rate_limit must be a number of items per second or a slotwork.Rate")
    return Rate(float(value))


@dataclass(frozen=True)
class Retry:
    """Retries of a failed item within its slot: ``attempts`` in all (1: no retry),
    the n-th retry after ``initial * multiplier**(n-1)``, at most ``maximum``,
    jittered between half and all of that so retries of many items spread out.
    """

    attempts: int = 3
    initial: timedelta = ONE_SECOND
    maximum: timedelta = timedelta(minutes=5)
    multiplier: float = 2.0

    def __post_init__(self) -> None:
        if not 1 <= self.attempts <= 100:
            raise ValueError("Retry.attempts must be within 1..100")
        if self.initial <= timedelta(0) or self.maximum < self.initial:
            raise ValueError("Retry needs 0 < initial <= maximum")
        if not (self.multiplier >= 1 and math.isfinite(self.multiplier)):
            raise ValueError("Retry.multiplier must be at least 1")

    def delay(self, failures: int, rng: random.Random) -> timedelta:
        """The wait before the attempt that follows ``failures`` failed ones."""
        ceiling = min(
            self.maximum.total_seconds(),
            self.initial.total_seconds() * self.multiplier ** max(failures - 1, 0),
        )
        return timedelta(seconds=rng.uniform(ceiling / 2, ceiling))


NO_RETRY = Retry(attempts=1)


@dataclass(frozen=True)
class ErrorBudget:
    """Errors a slot tolerates: ``per_item`` errors on one item before it is aborted
    for the slot; ``per_run`` errors in a run before the run is aborted, as a
    count, or as a fraction (0 < f < 1) of the items the run started with.
    The errors of an item's retries count once, with its first failed attempt.
    """

    per_item: int = DEFAULT_PER_ITEM_ERRORS
    per_run: int | float = DEFAULT_PER_RUN_ERRORS

    def __post_init__(self) -> None:
        if isinstance(self.per_item, bool) or not 0 <= self.per_item <= MAX_ERRORS:
            raise ValueError(f"ErrorBudget.per_item must be within 0..{MAX_ERRORS}")
        run = self.per_run
        if isinstance(run, bool) or not isinstance(run, int | float):
            raise ValueError("ErrorBudget.per_run must be a count or a fraction")
        if isinstance(run, float) and not 0 < run < 1:
            raise ValueError("a fractional ErrorBudget.per_run must be between 0 and 1")
        if isinstance(run, int) and not 0 <= run <= MAX_ERRORS:
            raise ValueError(f"ErrorBudget.per_run must be within 0..{MAX_ERRORS}")

    def run_limit(self, items: int) -> int:
        """Errors a run of ``items`` items may have; one more aborts it."""
        if isinstance(self.per_run, float):
            return math.floor(self.per_run * items)
        return self.per_run

    def to_message(self) -> ErrorBudgetMessage:
        if isinstance(self.per_run, float):
            return ErrorBudgetMessage(per_item=self.per_item, per_run_fraction=self.per_run)
        return ErrorBudgetMessage(per_item=self.per_item, per_run=self.per_run)

    @classmethod
    def from_message(cls, message: ErrorBudgetMessage) -> ErrorBudget:
        per_run: int | float = (
            message.per_run_fraction if message.per_run_fraction > 0 else message.per_run
        )
        return cls(message.per_item, per_run)


DEFAULT_ERROR_BUDGET = ErrorBudget()
