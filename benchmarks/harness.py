"""How long a user's worker test takes over ``slotwork.testing``: the example of
docs/testing.md (``tests/test_testing_example.py``), each test run many times."""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from typing import Any

from benchmarks import fixtures as fx
from benchmarks.report import Goal, Section, Table, fmt

EXAMPLE = fx.REPO / "tests" / "test_testing_example.py"
RUNS = 50
GOAL_MS = 100.0


def _tests() -> dict[str, Callable[[], Any]]:
    spec = importlib.util.spec_from_file_location("slotwork_testing_example", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {name: getattr(module, name) for name in dir(module) if name.startswith("test_")}


def measure(runs: int = RUNS) -> dict[str, float]:
    """The median milliseconds of each example test."""
    found: dict[str, float] = {}
    for name, test in _tests().items():
        times = []
        for _ in range(runs):
            began = time.perf_counter()
            test()
            times.append((time.perf_counter() - began) * 1000)
        found[name] = fx.median(times)
    return found


def section(found: dict[str, float]) -> Section:
    table = Table(
        ["example test", "median ms"],
        [[f"`{name}`", fmt(ms, 1)] for name, ms in sorted(found.items())],
        f"A user's worker tests over the harness (medians of {RUNS} runs)",
    )
    slowest = max(found.values(), default=0.0)
    goal = Goal(
        f"a user-style example test over the harness runs in under {GOAL_MS:.0f} ms",
        f"slowest {fmt(slowest, 1)} ms",
        slowest < GOAL_MS,
    )
    return Section("harness", "Testing workers", [table], [], [goal], {"slowest_ms": slowest})
