"""Rate limits (``rate_limit``): items per second for the whole process, shared by
its shards, set in code or through the API; on the emulator with a fake clock."""

from __future__ import annotations

import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest
from google.cloud import firestore

import slotwork

from helpers import FakeClock, make_app


class Starts:
    """Records when each call starts, on the app's clock."""

    def __init__(self) -> None:
        self.times: list[datetime] = []
        self.lock = threading.Lock()

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        with self.lock:
            self.times.append(ctx.now())

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


def names(n: int) -> list[str]:
    return [f"item-{i:04d}" for i in range(n)]


def spacing(times: list[datetime]) -> list[float]:
    ordered = sorted(times)
    return [(b - a).total_seconds() for a, b in itertools.pairwise(ordered)]


def test_a_rate_limit_spaces_items_out(client: firestore.Client) -> None:
    clock = FakeClock()
    worker = Starts()
    app = make_app(client, worker, clock, definition={"rate_limit": 10})
    app.register_many("sweep", [(n, None) for n in names(30)])
    assert app.tick("sweep").processed == 30
    gaps = spacing(worker.times)
    assert min(gaps) == pytest.approx(0.1, abs=1e-6)
    assert (max(worker.times) - min(worker.times)).total_seconds() == pytest.approx(2.9)


def test_each_shard_takes_its_share_of_the_process_rate(client: firestore.Client) -> None:
    clock = FakeClock()
    worker = Starts()
    rate = slotwork.Rate(20, timedelta(seconds=2))  # 10 items/s for the process
    app = make_app(client, worker, clock, definition={"rate_limit": rate, "shards": 2})
    app.register_many("sweep", [(n, None) for n in names(40)])
    per_shard = app.tick("sweep", 0).processed
    assert per_shard > 0
    # One shard alone: its share is half of 10/s, one item every 0.2 s.
    assert min(spacing(worker.times)) == pytest.approx(0.2, abs=1e-6)


def test_the_rate_set_through_the_api_reaches_a_running_tick(client: firestore.Client) -> None:
    """The stored rate replaces the code's at the tick's next checkpoint."""
    clock = FakeClock()
    holder: list[slotwork.App] = []
    worker = Starts()

    class Steer(Starts):
        def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
            worker.process(ctx, item)
            if item.name == "item-0004":
                holder[0].update_settings("sweep", rate_limit=slotwork.Rate(1))

    app = make_app(
        client, Steer(), clock, checkpoint_items=5, definition={"rate_limit": 100}
    )
    holder.append(app)
    app.register_many("sweep", [(n, None) for n in names(10)])
    app.tick("sweep")
    gaps = spacing(worker.times)
    assert max(gaps[:4]) == pytest.approx(0.01, abs=1e-6)  # 100/s before the change
    assert min(gaps[5:]) == pytest.approx(1.0, abs=1e-6)  # 1/s after it
    assert app.get_process("sweep").rate_limit.count == 1


def test_a_rate_holds_across_threads(client: firestore.Client) -> None:
    """With 8 threads the dispatches are still 1/50 s apart: the tick's clock (moved
    only by the limiter's waits) ran at least 39 intervals. (The workers' own reads
    of a fake clock cannot show it: a thread may start after the clock moved on.)"""
    worker = Starts()
    clock = FakeClock()
    app = make_app(client, worker, clock, definition={"rate_limit": 50, "concurrency": 8})
    app.register_many("sweep", [(n, None) for n in names(40)])
    started = clock.now
    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(app.tick, "sweep").result().processed == 40
    assert (clock.now - started).total_seconds() >= 39 * 0.02 - 1e-6


@pytest.mark.parametrize("bad", [0, -1, float("inf"), 1e9])
def test_a_rate_out_of_range_is_refused(bad: float) -> None:
    with pytest.raises(ValueError):
        slotwork.Rate(bad)
