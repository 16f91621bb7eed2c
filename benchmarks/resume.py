"""Resume: a large slot with a short deadline, finished across continuations.

Each tick runs to its deadline, checkpoints, releases the lease and asks for a
continuation (recorded, then run at once: Scheduler's RunJob latency and a cold
start are not included). Time lost per continuation = (the ticks' total time -
the same slot in one tick) / (invocations - 1).
"""

from __future__ import annotations

from benchmarks import fixtures as fx
from benchmarks.child import RunSample, run_child
from benchmarks.docsize import GOAL_FRACTION, LIMIT, Largest
from benchmarks.report import Goal, Section, Table, fmt

# The short deadline: this fraction of the measured one-tick time (so a loaded machine
# still sees a few continuations), at least MIN_DEADLINE seconds.
DEADLINE_FRACTION = 0.25
MIN_DEADLINE = 5.0


def deadline_for(single_tick: float) -> float:
    return max(MIN_DEADLINE, round(single_tick * DEADLINE_FRACTION, 1))


def measure(bench: fx.Bench, process: str, deadline: float) -> RunSample:
    return run_child(
        "resume", bench.host, process, bench.slots.next_slot(), bench.seeded[process], deadline
    )


def lost_per_continuation(sample: RunSample, single_tick: float) -> float:
    if sample.invocations < 2:
        return float("nan")
    return (sample.wall - single_tick) / (sample.invocations - 1)


def section(
    sample: RunSample, single_tick: float, deadline: float, sizes: list[Largest]
) -> Section:
    lost = lost_per_continuation(sample, single_tick)
    finished = sample.processed == sample.items and sample.run_state == "COMPLETED"
    table = Table(
        [
            "items",
            "deadline s",
            "invocations",
            "continuations asked",
            "total s",
            "one tick s",
            "lost per continuation s",
            "finished",
        ],
        [
            [
                f"{sample.items:,}",
                fmt(deadline, 1),
                str(sample.invocations),
                str(sample.continuations),
                fmt(sample.wall),
                fmt(single_tick),
                fmt(lost),
                "yes" if finished else f"no ({sample.run_state}, {sample.processed:,} done)",
            ]
        ],
    )
    per_tick = Table(
        ["tick", *[str(i + 1) for i in range(sample.invocations)]],
        [
            ["seconds", *[fmt(w, 1) for w in sample.tick_walls]],
            ["items", *[f"{p:,}" for p in sample.tick_processed]],
        ],
        "Per invocation",
    )
    notes = [
        f"The deadline is {DEADLINE_FRACTION:.0%} of the measured one-tick time (at least "
        f"{MIN_DEADLINE:.0f} s), so that the slot needs a few invocations whatever the load.",
        "What a continuation pays: the claim (a read and a commit), the pending query again "
        "(the emulator scans the collection: about 1 s per 100,000 documents, more under "
        "load), one count aggregation when it hands over, the final checkpoint, and the "
        "safety margin left unused before the deadline.",
    ]
    tables = [table, per_tick]
    goals = [
        Goal(
            f"{sample.items:,}-item slot with a short deadline finishes across continuations",
            f"{sample.invocations} invocations, {fmt(lost)} s lost per continuation",
            finished,
        )
    ]
    if sizes:
        tables.append(_sizes_table(sizes))
        worst = max(s.size for s in sizes)
        goals.append(
            Goal(
                f"no document over {GOAL_FRACTION:.0%} of 1 MiB ({sample.items:,} items)",
                f"largest {worst:,} bytes ({worst / LIMIT:.2%})",
                worst <= GOAL_FRACTION * LIMIT,
            )
        )
    data = {
        "invocations": sample.invocations,
        "lost_per_continuation": lost,
        "finished": finished,
        "deadline": deadline,
    }
    return Section("resume", "Resume across continuations", tables, notes, goals, data)


def _sizes_table(sizes: list[Largest]) -> Table:
    return Table(
        ["document", "documents", "largest bytes", "of 1 MiB"],
        [[s.kind, f"{s.count:,}", f"{s.size:,}", f"{s.fraction:.3%}"] for s in sizes],
        "Largest stored documents after the runs",
    )
