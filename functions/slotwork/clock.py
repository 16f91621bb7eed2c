"""Time as slotwork sees it: every time decision goes through a ``Clock``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
"""A callable returning an aware UTC datetime. Tests pass a fake one."""


def system_clock() -> datetime:
    """The machine's wall clock, aware UTC."""
    return datetime.now(UTC)


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ServerAnchoredClock:
    """A clock that agrees with Firestore's: the base clock plus the offset last
    observed between it and a server read time.

    Every tick reads the process document first and hands its read time to
    ``observe``, so instances whose own clocks disagree by minutes still agree
    on lease expiry to within one round trip. The production default; tests
    pass a fake clock instead.
    """

    def __init__(self, base: Clock = system_clock) -> None:
        self._base = base
        self._offset = timedelta(0)

    def __call__(self) -> datetime:
        return self._base() + self._offset

    def observe(self, server_time: datetime) -> None:
        """Anchor on a time the server reported (a document's read time)."""
        self._offset = server_time - self._base()
