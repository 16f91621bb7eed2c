"""The whole run: one emulator, the items seeded once and grown size by size,
every figure measured on them, extra repeats of the largest sizes while the
time budget lasts.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks import (
    baseline,
    docsize,
    harness,
    hotpath,
    memory,
    ops,
    overhead,
    parallel,
    registration,
    resume,
    scale,
)
from benchmarks import fixtures as fx
from benchmarks.report import Section
from slotwork_local import emulator as emulator_mod

PROCESS = "bench"
# Sizes from here up run once first; their other repeats come last, within the budget.
LARGE = 50_000
OPS_SIZE = 10_000
WARM_UP_ITEMS = 1_000


@dataclass
class Options:
    sizes: list[int] = field(default_factory=lambda: [1_000, 10_000, 100_000])
    repeat: int = 3
    million: bool = False
    scale_items: int = scale.ITEMS
    profile: bool = False
    profile_dir: Path = Path(__file__).resolve().parent
    profile_html: Path | None = None
    budget_seconds: float | None = 14 * 60
    registration_items: int = registration.BATCH_ITEMS
    single_items: int = registration.SINGLE_ITEMS
    resume_deadline: float | None = None
    host: str | None = None
    in_tick_items: int = parallel.IN_TICK_ITEMS
    shard_items: int = parallel.SHARD_ITEMS
    rate_items: int = parallel.RATE_ITEMS
    baseline_revision: str | None = None  # a revision whose no-op tick this one is compared with
    baseline_items: int = baseline.ITEMS
    log: Callable[[str], None] = field(default=lambda msg: print(msg, file=sys.stderr))


@contextlib.contextmanager
def _bench(host: str | None) -> Iterator[fx.Bench]:
    if host is None:
        with fx.bench() as bench:
            yield bench
        return
    # An emulator someone else runs (the smoke test's): used, not stopped.
    client = fx.new_client(host)
    port = int(host.rsplit(":", 1)[1])
    emu = emulator_mod.Emulator(process=None, port=port, project=fx.PROJECT)  # type: ignore[arg-type]
    yield fx.Bench(emu, client)


def _ops_size(sizes: list[int]) -> int:
    smaller = [s for s in sizes if s <= OPS_SIZE]
    return max(smaller) if smaller else min(sizes)


def run(options: Options) -> list[Section]:
    """Measure everything; return the sections of the results file, in order."""
    log = options.log
    # The parent's own ticks (ops, profile) stay quiet; the timed children log as deployed.
    logging.getLogger("slotwork").setLevel(logging.ERROR)
    budget = fx.TimeBudget(options.budget_seconds)
    sizes = sorted(set(options.sizes))
    ops_size = _ops_size(sizes)
    sections: list[Section] = []
    runs: list[overhead.SizeRuns] = []
    counts: list[ops.Count] = []
    profile: Section | None = None
    with _bench(options.host) as bench:
        began = time.monotonic()
        bench.grow(PROCESS, min(sizes[0], WARM_UP_ITEMS))
        overhead.warm_up(bench, PROCESS)
        log(f"emulator at {bench.host}; warmed up ({time.monotonic() - began:.0f} s)")
        for size in sizes:
            seconds = bench.grow(PROCESS, size)
            log(f"{size:,} items seeded (+{seconds:.1f} s)")
            # A large size runs slotwork and the floor once now; more repeats, and the
            # blind-write floor, come at the end while the budget lasts.
            large = size >= LARGE
            runs.append(
                overhead.run_repeats(
                    bench,
                    overhead.SizeRuns(size, PROCESS),
                    1 if large else options.repeat,
                    budget,
                    kinds=("engine", "floor") if large else overhead.KINDS,
                )
            )
            log(
                f"{size:,}: slotwork {runs[-1].wall('engine'):.2f} s, floor "
                f"{runs[-1].wall('floor'):.2f} s ({budget.elapsed():.0f} s so far)"
            )
            if size == ops_size:
                counts = ops.measure(bench, PROCESS)
                log(f"ops counted at {size:,} items")
                if options.profile:
                    hot, calls, seconds = hotpath.profile_tick(
                        bench, PROCESS, options.profile_dir, options.profile_html
                    )
                    profile = hotpath.section(hot, calls, seconds, size)
                    log(f"profile written to {options.profile_dir / 'profile.txt'}")
        reg = registration.measure(
            bench, options.repeat, options.registration_items, options.single_items
        )
        log(f"registration measured ({budget.elapsed():.0f} s so far)")
        largest = runs[-1]
        single = largest.wall("engine")
        deadline = options.resume_deadline or resume.deadline_for(single)
        resumed = resume.measure(bench, PROCESS, deadline)
        sizes_found = docsize.survey(bench.client, PROCESS)
        log(f"resume: {resumed.invocations} invocations ({budget.elapsed():.0f} s so far)")
        wide = parallel.measure(
            bench,
            options.repeat,
            options.in_tick_items,
            options.shard_items,
            options.rate_items,
            log,
        )
        log(f"parallel figures measured ({budget.elapsed():.0f} s so far)")
        compared = None
        if options.baseline_revision:
            compared = baseline.measure(
                bench, options.baseline_revision, max(options.repeat, 3), options.baseline_items
            )
            log(f"compared with {options.baseline_revision} ({budget.elapsed():.0f} s so far)")
        scaled = None
        if options.million:
            scaled = scale.measure(bench, options.scale_items)
            log(f"scale: {options.scale_items:,} items done ({budget.elapsed():.0f} s so far)")
        for size_runs in runs:
            if size_runs.items >= LARGE:
                overhead.complete(bench, size_runs, budget)
                overhead.run_repeats(bench, size_runs, options.repeat, budget)
                log(f"{size_runs.items:,}: {len(size_runs.runs['engine'])} run(s) in the budget")
        sections.append(overhead.section(runs))
        sections.append(memory.section(runs))
        sections.append(ops.section(counts))
        sections.append(
            registration.section(
                reg,
                options.registration_items,
                options.single_items,
                bench.seed_rate,
            )
        )
        sections.append(resume.section(resumed, single, deadline, sizes_found))
        sections.append(parallel.section(wide))
        sections.append(harness.section(harness.measure()))
        if compared is not None:
            sections.append(baseline.section(compared))
        if scaled is not None:
            sections.append(scale.section(scaled))
        if profile is not None:
            sections.append(profile)
    return sections
