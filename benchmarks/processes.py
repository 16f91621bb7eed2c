"""The processes module of the benchmarks' functions-framework servers
(``SLOTWORK_PROCESSES=benchmarks.processes``): each process is described in the
environment, ``BENCH_PROCESSES`` = ``{"name": {"concurrency": 16, "shards": 4,
"sleep_ms": 50, "rate": 200}}``, and worked by a worker that sleeps that long per
item (a stand-in for one API call).
"""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta
from typing import Any

import slotwork

# Ten years from the Unix epoch: no measurement straddles a slot boundary.
LONG_SLOT = timedelta(days=3650)


class Sleeper:
    """Sleeps ``sleep_ms`` per item: the time an API call would take, and no CPU."""

    def __init__(self, sleep_ms: float) -> None:
        self.seconds = sleep_ms / 1000

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        if self.seconds:
            time.sleep(self.seconds)

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


def define(name: str, spec: dict[str, Any], frequency: timedelta = LONG_SLOT) -> slotwork.Process:
    """One benchmarked process from its description."""
    return slotwork.Process(
        name,
        Sleeper(float(spec.get("sleep_ms", 0))),
        frequency=frequency,
        concurrency=int(spec.get("concurrency", 1)),
        shards=int(spec.get("shards", 1)),
        rate_limit=spec.get("rate"),
    )


PROCESSES = [
    define(name, spec)
    for name, spec in json.loads(os.environ.get("BENCH_PROCESSES", "{}")).items()
]
