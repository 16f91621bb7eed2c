"""When a job fires next: its cron schedule in its time zone, or a fixed demo interval."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

from slotwork_local.jobs import JobsFileError, JobSpec


class Cadence(Protocol):
    """Something that names the next fire time strictly after a given time."""

    def next_after(self, when: datetime) -> datetime:
        """The first fire time after ``when`` (aware), as an aware UTC datetime."""
        ...

    def describe(self) -> str:
        """A short human description for logs and the job listing."""
        ...


class CronCadence:
    """A unix-cron schedule evaluated in the job's time zone, as Cloud Scheduler does."""

    def __init__(self, schedule: str, time_zone: str = "Etc/UTC") -> None:
        if not croniter.is_valid(schedule):
            raise JobsFileError(f"invalid cron schedule {schedule!r}")
        try:
            self.zone = ZoneInfo(time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise JobsFileError(f"unknown time zone {time_zone!r}") from None
        self.schedule = schedule

    def next_after(self, when: datetime) -> datetime:
        start = when.astimezone(self.zone)
        following = croniter(self.schedule, start).get_next(datetime)
        return following.astimezone(UTC)  # type: ignore[no-any-return]

    def describe(self) -> str:
        return f"{self.schedule} {self.zone.key}"


class IntervalCadence:
    """Every ``seconds``, aligned on multiples from the Unix epoch (the demo override)."""

    def __init__(self, seconds: float) -> None:
        if seconds <= 0:
            raise ValueError("the tick interval must be positive")
        self.seconds = seconds

    def next_after(self, when: datetime) -> datetime:
        stamp = when.timestamp()
        following = (math.floor(stamp / self.seconds) + 1) * self.seconds
        return datetime.fromtimestamp(0, UTC) + timedelta(seconds=following)

    def describe(self) -> str:
        return f"every {self.seconds:g} s"


def cadence_for(spec: JobSpec, tick_seconds: float | None = None) -> Cadence:
    """The job's cron cadence, or the ``--tick-seconds`` override when given."""
    if tick_seconds is not None:
        return IntervalCadence(tick_seconds)
    return CronCadence(spec.schedule, spec.time_zone)
