"""Time as slotwork sees it: every time decision goes through a ``Clock``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]
"""A callable returning an aware UTC datetime. Tests pass a fake one."""


def system_clock() -> datetime:
    """The machine's wall clock, aware UTC."""
    return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
