"""The tick's time budget: a deadline, and a safety margin learnt from how long
items and checkpoints take, so the tick stops before the platform stops it.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from datetime import datetime

# Recent durations kept to estimate the next item's cost.
WINDOW = 32
# Stop when fewer seconds than this part of the deadline are left, at least.
BASE_MARGIN_FRACTION = 0.05
MAX_BASE_MARGIN_SECONDS = 5.0
# The next item is assumed to take up to this many times the slowest recent one.
ITEM_SAFETY_FACTOR = 2.0


class Budget:
    """Seconds left before ``deadline_at`` by ``clock``, and whether to stop now."""

    def __init__(self, clock: Callable[[], datetime], deadline_at: datetime, deadline: float):
        self._clock = clock
        self._deadline_at = deadline_at
        self._base = min(MAX_BASE_MARGIN_SECONDS, BASE_MARGIN_FRACTION * deadline)
        self._items: deque[float] = deque(maxlen=WINDOW)
        self._checkpoint = 0.0
        self._margin: float | None = None  # computed once per change, read per item

    def remaining(self) -> float:
        """Seconds to the deadline (negative once past it)."""
        return (self._deadline_at - self._clock()).total_seconds()

    def record_item(self, seconds: float) -> None:
        self._items.append(max(seconds, 0.0))
        self._margin = None

    def record_checkpoint(self, seconds: float) -> None:
        self._checkpoint = max(self._checkpoint, seconds)
        self._margin = None

    def margin(self) -> float:
        """Time kept in hand: base, plus the next item's likely cost, plus the final checkpoint."""
        if self._margin is None:
            slowest = max(self._items, default=0.0)
            self._margin = self._base + ITEM_SAFETY_FACTOR * (slowest + self._checkpoint)
        return self._margin

    def exhausted(self) -> bool:
        """Whether starting another item would risk overrunning the deadline."""
        return self.remaining() <= self.margin()
