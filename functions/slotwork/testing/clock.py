"""A clock for tests: it moves only when told to (or by ``step`` on every read)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

DEFAULT_START = datetime(2026, 1, 5, 12, 0, 0, tzinfo=UTC)


class FakeClock:
    """A ``slotwork`` clock (a callable returning an aware UTC datetime) under the
    test's control; ``sleep`` moves it instead of waiting, so an App given both
    never waits on the wall clock."""

    def __init__(self, start: datetime = DEFAULT_START, step: timedelta = timedelta(0)) -> None:
        if start.tzinfo is None:
            raise ValueError("a FakeClock starts at an aware datetime")
        self.now = start
        self.step = step
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            value = self.now
            self.now += self.step
            return value

    def advance(self, delta: timedelta) -> None:
        """Move the clock forward by ``delta``."""
        with self._lock:
            self.now += delta

    def sleep(self, seconds: float) -> None:
        """A ``sleep`` for the App that only moves this clock."""
        self.advance(timedelta(seconds=seconds))
