"""Test doubles for the parts slotwork takes as arguments: a clock, ids, workers.

(Firestore is never doubled: tests use the real emulator.)
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

import slotwork
import slotwork.testing
from slotwork import Context, Item
from slotwork.params import ParamsLike

START = datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


class FakeClock(slotwork.testing.FakeClock):
    """The library's test clock, starting at this suite's ``START``."""

    def __init__(self, start: datetime = START, step: timedelta = timedelta(0)) -> None:
        super().__init__(start, step)


def counter_ids(prefix: str = "inst") -> Callable[[], str]:
    """Instance ids inst-1, inst-2, ... so tests can name the holder."""
    numbers = itertools.count(1)
    return lambda: f"{prefix}-{next(numbers)}"


def make_app(
    client: firestore.Client,
    worker: Any,
    clock: Callable[[], datetime],
    prefix: str = "inst",
    *,
    process: str = "sweep",
    settings: ParamsLike = None,
    definition: dict[str, Any] | None = None,
    **options: Any,
) -> slotwork.App:
    """An App of one hourly ``process`` run by ``worker``: instance ids
    ``{prefix}-1``, ``{prefix}-2``, ...; ``definition`` goes to ``slotwork.Process``
    (concurrency, shards, policies), ``options`` to ``slotwork.App`` (a minimum
    frequency of 60 s unless given; a FakeClock's own ``sleep``).
    """
    defined = slotwork.Process(
        process, worker, frequency=HOUR, settings=settings, **(definition or {})
    )
    defaults: dict[str, Any] = {"min_frequency": 60, "ids": counter_ids(prefix)}
    if isinstance(clock, FakeClock):
        defaults["sleep"] = clock.sleep
    return slotwork.App([defined], client=client, clock=clock, **{**defaults, **options})


class RecordingTrigger:
    """Records continuation and :run requests; raises ``error`` when one is set."""

    def __init__(self) -> None:
        self.requested: list[str] = []
        self.error: Exception | None = None

    def run_now(self, process: str, shard: int) -> None:
        if self.error is not None:
            raise self.error
        self.requested.append(process if shard == 0 else f"{process}/{shard}")


@dataclass
class RecordingWorker:
    """Records every call; fails items named in ``fail`` (how many times, or forever)."""

    fail: dict[str, int] = field(default_factory=dict)
    errors_per_call: dict[str, int] = field(default_factory=dict)
    gone: set[str] = field(default_factory=set)
    clean_fail: set[str] = field(default_factory=set)
    on_process: Callable[[Context, Item], None] | None = None
    processed: list[str] = field(default_factory=list)
    cleaned: list[str] = field(default_factory=list)

    def process(self, ctx: Context, item: Item) -> None:
        self.processed.append(item.name)
        ctx.add_stat("calls")
        for _ in range(self.errors_per_call.get(item.name, 0)):
            if ctx.add_error(f"sub-error on {item.name}") is slotwork.ABORT:
                break
        if self.on_process is not None:
            self.on_process(ctx, item)
        left = self.fail.get(item.name, 0)
        if left:
            self.fail[item.name] = left - 1
            raise RuntimeError(f"boom on {item.name}")

    def cleanup(self, ctx: Context, item: Item) -> None:
        self.cleaned.append(item.name)
        if item.name in self.gone:
            raise slotwork.Gone(item.name)
        if item.name in self.clean_fail:
            raise RuntimeError(f"HTTP 500 cleaning {item.name}")


def wait_for(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    """Poll until ``predicate`` returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
