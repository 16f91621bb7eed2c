"""Throughput past one item at a time: items in flight inside one tick, shards
ticked in parallel over HTTP, and a rate limit held across shards.

- in one tick: ``concurrency=64`` with a worker that waits 50 ms per item, against
  the no-op tick over the same items (the limit is 1.0: the waiting fully hidden);
- shards: the same worker, ``shards=4, concurrency=16`` against ``shards=1,
  concurrency=16``, each shard ticked through its own functions-framework server
  (one instance per shard, as Cloud Run gives them), until every shard is done;
- rate: ``rate_limit=200`` over 4 shards: items over the time from the first
  item's start to the last one's finish, read back from the items.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests

from benchmarks import fixtures as fx
from benchmarks.child import run_child
from benchmarks.report import Goal, Section, Table, fmt, fmt_int
from slotwork.store.firestore import FirestoreStore
from slotwork_local import servers as server_mod
from slotwork_local.emulator import free_port, stop_group
from slotwork_local.jobs import load_jobs

SLEEP_MS = 50
IN_TICK = {"concurrency": 64, "sleep_ms": SLEEP_MS}
ONE_SHARD = {"concurrency": 16, "shards": 1, "sleep_ms": SLEEP_MS}
FOUR_SHARDS = {"concurrency": 16, "shards": 4, "sleep_ms": SLEEP_MS}
RATED = {"concurrency": 8, "shards": 4, "rate": 200}
IN_TICK_ITEMS = 10_000
SHARD_ITEMS = 20_000
RATE_ITEMS = 10_000
READY_SECONDS = 60.0
TICK_TIMEOUT_SECONDS = 900.0
# The retry policy of this repository's deployed job (terraform/processes.auto.tfvars.json).
SCHEDULER_RETRY = next(iter(load_jobs().values())).retry


@dataclass
class Measured:
    """What the parallel figures took (seconds, medians over repeats)."""

    in_tick: list[float] = field(default_factory=list)
    noop: list[float] = field(default_factory=list)
    one_shard: list[float] = field(default_factory=list)
    four_shards: list[float] = field(default_factory=list)
    rates: list[float] = field(default_factory=list)
    items: dict[str, int] = field(default_factory=dict)


def _env(bench: fx.Bench, processes: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(fx.REPO), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "FIRESTORE_EMULATOR_HOST": bench.host,
        "GOOGLE_CLOUD_PROJECT": fx.PROJECT,
        "SLOTWORK_COLLECTION": bench.collection,
        "SLOTWORK_PROCESSES": "benchmarks.processes",
        "SLOTWORK_MIN_FREQUENCY_SECONDS": "60",
        "BENCH_PROCESSES": json.dumps(processes),
    }


@contextlib.contextmanager
def run_servers(
    bench: fx.Bench, count: int, processes: dict[str, dict[str, Any]]
) -> Iterator[list[str]]:
    """``count`` functions-framework servers of ``run`` serving ``processes``: one
    instance per shard."""
    started: list[subprocess.Popen[bytes]] = []
    urls: list[str] = []
    try:
        for _ in range(count):
            port = free_port()
            started.append(
                subprocess.Popen(
                    server_mod.command("run", port),
                    env=_env(bench, processes),
                    cwd=fx.REPO,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            _wait_ready(url)
        yield urls
    finally:
        for process in started:
            stop_group(process)


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        try:
            if requests.get(url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server at {url} did not start")
        time.sleep(0.1)  # nothing to wait on but the port


def drive(
    urls: list[str], process: str, shards: int, timeout: float = TICK_TIMEOUT_SECONDS
) -> float:
    """Tick every shard through its own server, again and again (continuations),
    until each answers done; the wall time of the whole slot."""
    failures: list[str] = []
    unavailable: list[int] = []

    def shard(k: int) -> None:
        url = urls[k % len(urls)]
        ends = time.monotonic() + timeout
        retries = 0
        while time.monotonic() < ends:
            response = requests.post(url, json={"process": process, "shard": k}, timeout=600)
            if response.status_code == 503:
                # Firestore did not answer in time: Cloud Scheduler retries such a tick
                # with its backoff, and so does this driver (counted, and reported).
                unavailable.append(k)
                time.sleep(SCHEDULER_RETRY.backoff(min(retries, SCHEDULER_RETRY.retry_count)))
                retries += 1
                continue
            retries = 0
            if response.status_code != 200:
                failures.append(f"shard {k}: {response.status_code} {response.text[:200]}")
                return
            if response.json()["outcome"] == "done":
                return
        failures.append(f"shard {k} not done in {timeout:.0f} s")

    began = time.perf_counter()
    threads = [threading.Thread(target=shard, args=(k,)) for k in range(shards)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if unavailable:
        print(f"{len(unavailable)} tick(s) answered 503 and were retried", file=sys.stderr)
    if failures:
        raise RuntimeError("; ".join(failures))
    return time.perf_counter() - began


def achieved_rate(bench: fx.Bench, process: str) -> float:
    """Items per second from the first item's start to the last one's finish."""
    store = FirestoreStore(bench.client, bench.collection)
    starts, finishes = [], []
    after: str | None = None
    while page := store.list_items(process, 1000, after):
        for item in page:
            status = item.status
            starts.append(status.start_time.ToDatetime())
            finishes.append(status.finish_time.ToDatetime())
        after = page[-1].name
    seconds = (max(finishes) - min(starts)).total_seconds()
    return len(starts) / seconds if seconds > 0 else float("nan")


def measure(
    bench: fx.Bench,
    repeat: int,
    in_tick_items: int = IN_TICK_ITEMS,
    shard_items: int = SHARD_ITEMS,
    rate_items: int = RATE_ITEMS,
    log: Any = None,
) -> Measured:
    """Every parallel figure, ``repeat`` times (the HTTP ones on fresh processes)."""
    found = Measured(items={"in_tick": in_tick_items, "shards": shard_items, "rate": rate_items})
    say = log or (lambda _msg: None)
    bench.grow("bench-parallel", in_tick_items)
    for _ in range(repeat):
        wide = run_child("parallel", bench.host, "bench-parallel", bench.slots.next_slot(),
                         in_tick_items, spec=IN_TICK)  # fmt: skip
        noop = run_child("engine", bench.host, "bench-parallel", bench.slots.next_slot(),
                         in_tick_items)  # fmt: skip
        found.in_tick.append(wide.wall)
        found.noop.append(noop.wall)
        say(f"in one tick: {wide.wall:.1f} s at concurrency 64, {noop.wall:.1f} s no-op")
    # A fresh process for every measurement: each slot's items are all pending.
    processes: dict[str, dict[str, Any]] = {}
    for n in range(repeat):
        processes |= {
            f"bench-sharded-1-{n}": ONE_SHARD,
            f"bench-sharded-4-{n}": FOUR_SHARDS,
            f"bench-rated-{n}": RATED,
        }
    with run_servers(bench, 4, processes) as urls:
        for n in range(repeat):
            for process, spec, into in (
                (f"bench-sharded-1-{n}", ONE_SHARD, found.one_shard),
                (f"bench-sharded-4-{n}", FOUR_SHARDS, found.four_shards),
            ):
                bench.grow(process, shard_items)
                into.append(drive(urls, process, int(spec["shards"])))
            say(f"shards: {found.one_shard[-1]:.1f} s on 1, {found.four_shards[-1]:.1f} s on 4")
            rated = f"bench-rated-{n}"
            bench.grow(rated, rate_items)
            drive(urls, rated, int(RATED["shards"]))
            found.rates.append(achieved_rate(bench, rated))
            say(f"rate: {found.rates[-1]:.1f} items/s against a limit of {RATED['rate']}")
    return found


def section(found: Measured) -> Section:
    in_tick = fx.median(found.in_tick)
    noop = fx.median(found.noop)
    one, four = fx.median(found.one_shard), fx.median(found.four_shards)
    rate = fx.median(found.rates)
    limit = float(RATED["rate"])
    table = Table(
        ["figure", "items", "slotwork", "against", "ratio"],
        [
            [
                f"one tick, concurrency 64, {SLEEP_MS} ms per item",
                fmt_int(found.items["in_tick"]),
                f"{fmt(in_tick, 2)} s",
                f"{fmt(noop, 2)} s (no-op tick)",
                f"{fmt(fx.ratio(in_tick, noop), 2)}x",
            ],
            [
                f"4 shards x 16 over HTTP, {SLEEP_MS} ms per item",
                fmt_int(found.items["shards"]),
                f"{fmt(four, 2)} s",
                f"{fmt(one, 2)} s (1 shard x 16)",
                f"{fmt(fx.ratio(four, one), 2)}x",
            ],
            [
                f"rate limit {limit:g}/s over 4 shards",
                fmt_int(found.items["rate"]),
                f"{fmt(rate, 1)} items/s",
                f"{limit:g} items/s",
                f"{fmt(fx.ratio(rate, limit), 3)}x",
            ],
        ],
        "Items in flight and shards (medians)",
    )
    goals = [
        Goal(
            "one tick at concurrency 64 (50 ms items): at most 1.3x the no-op tick",
            f"{fmt(fx.ratio(in_tick, noop), 2)}x",
            fx.ratio(in_tick, noop) <= 1.3,
        ),
        Goal(
            "4 shards x 16: at most 0.35x the time of 1 shard x 16",
            f"{fmt(fx.ratio(four, one), 2)}x",
            fx.ratio(four, one) <= 0.35,
        ),
        Goal(
            "a 200/s rate limit over 4 shards holds within 5%",
            f"{fmt(rate, 1)} items/s",
            abs(rate - limit) <= 0.05 * limit,
        ),
    ]
    notes = [
        "Each shard of the HTTP figures is ticked through its own functions-framework "
        "server (Cloud Run gives each tick its own instance); on this 2-core machine "
        "the four servers, their threads and the emulator share the same two cores.",
    ]
    data = {
        "in_tick_ratio": fx.ratio(in_tick, noop),
        "shards_ratio": fx.ratio(four, one),
        "rate": rate,
    }
    title = "Items in flight, shards and rate limits"
    return Section("parallel", title, [table], notes, goals, data)
