"""Scale (``--million``): a million registered items: registration time, a full
slot across continuations at the production deadline, and document sizes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from benchmarks import fixtures as fx
from benchmarks import parallel
from benchmarks.child import RunSample, run_child
from benchmarks.docsize import GOAL_FRACTION, LIMIT, Largest, survey
from benchmarks.report import Goal, Section, Table, fmt
from slotwork.config import DEFAULT_DEADLINE_SECONDS

PROCESS = "million"
ITEMS = 1_000_000
# Registration requests of this many items, this many at a time (as API callers would).
CHUNK = 10_000
CALLERS = 2
# The slot of 50 ms items: shards (one server each) and items in flight per tick.
WIDE = {"concurrency": 64, "shards": 4, "sleep_ms": parallel.SLEEP_MS}
WIDE_GOAL_MINUTES = 60


@dataclass(frozen=True)
class ScaleResult:
    items: int
    register_seconds: float
    slot: RunSample
    sizes: list[Largest]
    deadline: float
    wide_seconds: float


def register(bench: fx.Bench, items: int, process: str = PROCESS) -> float:
    """Register ``items`` through ``App.register_many``; returns seconds."""
    app = fx.make_app(bench.client, process, bench.slots.next_clock())

    def chunk(lo: int) -> int:
        batch = [(fx.item_name(i), fx.item_params(i)) for i in range(lo, min(lo + CHUNK, items))]
        return sum(r.created for r in app.register_many(process, batch))

    def everything() -> int:
        with ThreadPoolExecutor(CALLERS) as pool:
            return sum(pool.map(chunk, range(0, items, CHUNK)))

    created, wall, _ = fx.timed(everything)
    if created != items:
        raise RuntimeError(f"registered {created} of {items} items")
    bench.seeded[process] = items
    return wall


def measure(
    bench: fx.Bench, items: int = ITEMS, deadline: float = DEFAULT_DEADLINE_SECONDS
) -> ScaleResult:
    seconds = register(bench, items)
    # First the slot of 50 ms items, on the real clock's (ten-year) slot; then the
    # no-op slot, in a later one, across continuations in one process.
    with parallel.run_servers(bench, int(WIDE["shards"]), {PROCESS: WIDE}) as urls:
        wide = parallel.drive(urls, PROCESS, int(WIDE["shards"]), timeout=2 * 3600)
    slot = run_child("resume", bench.host, PROCESS, bench.slots.next_slot(), items, deadline)
    return ScaleResult(items, seconds, slot, survey(bench.client, PROCESS), deadline, wide)


def section(result: ScaleResult) -> Section:
    slot = result.slot
    finished = slot.processed == result.items and slot.run_state == "COMPLETED"
    table = Table(
        ["measure", "value"],
        [
            ["items", f"{result.items:,}"],
            [
                f"registration (`register_many`, {CHUNK:,}-item requests, {CALLERS} at a time)",
                f"{fmt(result.register_seconds)} s "
                f"({fmt(result.items / result.register_seconds, 0)} items/s)",
            ],
            [
                f"full slot (deadline {result.deadline:.0f} s per tick)",
                f"{fmt(slot.wall)} s in {slot.invocations} invocation(s) "
                f"({fmt(result.items / slot.wall, 0)} items/s)",
            ],
            ["seconds per invocation", ", ".join(fmt(w, 0) for w in slot.tick_walls)],
            [
                f"a slot of {parallel.SLEEP_MS} ms items: {WIDE['shards']} shards x "
                f"{WIDE['concurrency']} in flight, over HTTP",
                f"{fmt(result.wide_seconds / 60, 1)} min "
                f"({fmt(result.items / result.wide_seconds, 0)} items/s)",
            ],
            ["peak RSS of the ticks' process", f"{fmt(slot.peak_rss_mib, 1)} MiB"],
            ["finished", "yes" if finished else f"no ({slot.run_state})"],
        ],
    )
    sizes = Table(
        ["document", "documents", "largest bytes", "of 1 MiB"],
        [[s.kind, f"{s.count:,}", f"{s.size:,}", f"{s.fraction:.3%}"] for s in result.sizes],
        "Largest stored documents",
    )
    worst = max((s.size for s in result.sizes), default=0)
    goals = [
        Goal(
            f"{result.items:,} items: a full slot finishes across continuations",
            f"{slot.invocations} invocation(s), {fmt(slot.wall / 60, 1)} min",
            finished,
        ),
        Goal(
            f"{result.items:,} items at {parallel.SLEEP_MS} ms: one slot within "
            f"{WIDE_GOAL_MINUTES} minutes",
            f"{fmt(result.wide_seconds / 60, 1)} min",
            result.wide_seconds <= WIDE_GOAL_MINUTES * 60,
        ),
        Goal(
            f"{result.items:,} items: no document over {GOAL_FRACTION:.0%} of 1 MiB",
            f"largest {worst:,} bytes ({worst / LIMIT:.2%})",
            worst <= GOAL_FRACTION * LIMIT,
        ),
    ]
    notes = [
        "Work items are documents of their own: the process document and run records hold "
        "no per-item data, so their size does not depend on the item count.",
    ]
    data = {
        "items": result.items,
        "register_seconds": result.register_seconds,
        "slot_seconds": slot.wall,
        "wide_slot_seconds": result.wide_seconds,
        "invocations": slot.invocations,
        "largest_bytes": worst,
        "finished": finished,
    }
    return Section("scale", f"Scale: {result.items:,} items", [table, sizes], notes, goals, data)
