"""Firestore operations per item and per tick, counted on the wire, and what they cost.

A gRPC interceptor (``slotwork_local.rpccount``) counts every RPC, every
document a query or a batched get returned, and every write in a commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from benchmarks import fixtures as fx
from benchmarks.floor import BATCH, run_floor
from benchmarks.report import Goal, Section, Table, fmt, fmt_int
from slotwork_local.rpccount import counting_client

# Firestore list prices (USD per 100,000 operations).
READ_PRICE = 0.06
WRITE_PRICE = 0.18
HOURS_PER_MONTH = 730
TICKS_PER_HOUR = 4  # a Scheduler tick every 15 minutes
COST_ITEMS = 10_000
# What a tick writes beyond its items: the claim's shard document, run record and
# process summary; the final checkpoint's run record and process summary (its
# shard document counts as the checkpoint's own write).
CLAIM_WRITES = 3
FINISH_EXTRA_WRITES = 2
# What a tick reads beyond its items and its checkpoints' process reads: the
# process document, the shard document, the count of the shard's items.
MAX_EXTRA_READS = 3
# A tick that hands over: its items and its (short) deadline in seconds.
HANDOVER_PROCESS = "ops-handover"
HANDOVER_ITEMS = 3_000
HANDOVER_DEADLINE = 2.0


@dataclass(frozen=True)
class Count:
    """One counted operation."""

    label: str
    rpcs: dict[str, int]
    reads: int
    writes: int
    processed: int
    outcome: str

    @property
    def total_rpcs(self) -> int:
        return sum(self.rpcs.values())

    @property
    def commits(self) -> int:
        return self.rpcs.get("Commit", 0)

    @classmethod
    def of(cls, label: str, snap: dict[str, Any], processed: int, outcome: str) -> Count:
        return cls(label, dict(snap["rpcs"]), snap["reads"], snap["writes"], processed, outcome)


def measure(bench: fx.Bench, process: str) -> list[Count]:
    """Count a full tick, an idle tick, a hand-over tick and the floor on ``process``."""
    client, counts = counting_client(fx.PROJECT, bench.host)
    out = []
    app = fx.make_app(client, process, bench.slots.next_clock())
    counts.reset()
    result = app.tick(process)
    out.append(Count.of("slotwork tick", counts.snapshot(), result.processed, result.outcome))
    counts.reset()
    idle = app.tick(process)
    out.append(Count.of("slotwork idle tick", counts.snapshot(), idle.processed, idle.outcome))
    counts.reset()
    floor = run_floor(client, bench.slots.next_clock(), process=process)
    out.append(Count.of("floor", counts.snapshot(), floor.processed, "done"))
    # A tick that runs out of time, on items of its own (it leaves its slot unfinished).
    bench.grow(HANDOVER_PROCESS, HANDOVER_ITEMS)
    short = fx.make_app(client, HANDOVER_PROCESS, bench.slots.next_clock(), HANDOVER_DEADLINE)
    counts.reset()
    handed = short.tick(HANDOVER_PROCESS)
    out.append(
        Count.of("slotwork tick handing over", counts.snapshot(), handed.processed, handed.outcome)
    )
    return out


def _per_item(value: int, processed: int) -> str:
    return fmt(value / processed, 4) if processed else "—"


def _rpcs(count: Count) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(count.rpcs.items()))


def monthly(reads_per_hour: float, writes_per_hour: float) -> tuple[float, float, float, float]:
    """(reads, writes, USD for reads, USD for writes) per month."""
    reads = reads_per_hour * HOURS_PER_MONTH
    writes = writes_per_hour * HOURS_PER_MONTH
    return reads, writes, reads * READ_PRICE / 1e5, writes * WRITE_PRICE / 1e5


def section(counts: list[Count]) -> Section:
    by = {c.label: c for c in counts}
    tick, idle, floor = by["slotwork tick"], by["slotwork idle tick"], by["floor"]
    n = tick.processed
    rows = [
        [
            c.label,
            f"{c.processed:,}",
            c.outcome,
            _rpcs(c),
            fmt_int(c.reads),
            fmt_int(c.writes),
            _per_item(c.reads, c.processed),
            _per_item(c.writes, c.processed),
            _per_item(c.total_rpcs, c.processed),
        ]
        for c in counts
    ]
    table = Table(
        [
            "operation",
            "items",
            "outcome",
            "RPCs",
            "docs read",
            "docs written",
            "reads/item",
            "writes/item",
            "RPCs/item",
        ],
        rows,
        "Counted on the wire",
    )
    checkpoints = max(tick.commits - 1, 1)  # the claim is a commit too
    # Each checkpoint but the last reads the process document again (pause, policies).
    extra_reads = tick.reads - n - (checkpoints - 1)
    extra_writes = tick.writes - n
    # The claim writes the shard, the run record and the process summary; the
    # final checkpoint the same three; the others the shard document alone.
    per_checkpoint = (extra_writes - CLAIM_WRITES - FINISH_EXTRA_WRITES) / checkpoints
    constants = Table(
        ["per tick, beyond one read and one write per item", "slotwork", "floor"],
        [
            ["document reads", fmt_int(extra_reads), fmt_int(floor.reads - floor.processed)],
            ["document writes", fmt_int(extra_writes), fmt_int(floor.writes - floor.processed)],
            [
                "commits (claim + checkpoints)",
                fmt_int(tick.commits),
                f"{floor.commits:,} (one per {BATCH} items)",
            ],
            [
                "writes per checkpoint beyond its items",
                fmt(per_checkpoint, 2),
                "0",
            ],
            [
                "queries",
                fmt_int(tick.rpcs.get("RunQuery", 0)),
                fmt_int(floor.rpcs.get("RunQuery", 0)),
            ],
        ],
        "Constants",
    )
    # Monthly cost: 10,000 items, hourly slots, a tick every 15 minutes; one tick does
    # the slot's work, the other three are idle. Per-item figures scale to 10,000.
    scale = COST_ITEMS / n if n else math.nan
    # The measured constants applied to 10,000 items: the claim writes the process
    # document and the run record; each checkpoint (and the final one) adds its own.
    cost_checkpoints = math.ceil(COST_ITEMS / BATCH) + 1
    work_reads = COST_ITEMS + extra_reads + cost_checkpoints - 1
    work_writes = (
        COST_ITEMS + CLAIM_WRITES + FINISH_EXTRA_WRITES + per_checkpoint * cost_checkpoints
    )
    idle_reads = (TICKS_PER_HOUR - 1) * idle.reads
    idle_writes = (TICKS_PER_HOUR - 1) * idle.writes
    s_reads, s_writes, s_rc, s_wc = monthly(work_reads + idle_reads, work_writes + idle_writes)
    floor_reads = floor.reads * scale
    floor_writes = floor.writes * scale
    f_reads, f_writes, f_rc, f_wc = monthly(floor_reads, floor_writes)
    cost_rows = [
        [
            "slotwork",
            fmt_int(s_reads),
            fmt_int(s_writes),
            f"${s_rc:.2f}",
            f"${s_wc:.2f}",
            f"**${s_rc + s_wc:.2f}**",
        ],
        [
            "floor (the same work, bare)",
            fmt_int(f_reads),
            fmt_int(f_writes),
            f"${f_rc:.2f}",
            f"${f_wc:.2f}",
            f"${f_rc + f_wc:.2f}",
        ],
        [
            "slotwork's own cost",
            fmt_int(s_reads - f_reads),
            fmt_int(s_writes - f_writes),
            f"${s_rc - f_rc:.4f}",
            f"${s_wc - f_wc:.4f}",
            f"${(s_rc + s_wc) - (f_rc + f_wc):.4f}",
        ],
    ]
    cost = Table(
        ["per month", "reads", "writes", "reads $", "writes $", "total $"],
        cost_rows,
        f"Monthly Firestore cost: {COST_ITEMS:,} items, hourly slots, a tick every 15 minutes",
    )
    notes = [
        f"Cost assumptions: list prices ${READ_PRICE} per 100,000 document reads and "
        f"${WRITE_PRICE} per 100,000 writes; {HOURS_PER_MONTH} hours a month; each hour one "
        f"tick does the slot's {COST_ITEMS:,} items (a no-op worker finishes in one tick) and "
        f"{TICKS_PER_HOUR - 1} ticks are idle; no free tier, no storage (about 5 MB), no "
        "Cloud Functions or Scheduler charges, nothing the worker itself reads or writes.",
        "A shard counts its pending items once, when it joins a run (`count_pending`, "
        "the run's frozen denominator), which Firestore bills as one read per 1,000 index "
        "entries counted (the emulator's interceptor counts each as one), so the first "
        "tick of a 100,000-item slot costs about 100 reads more; continuations count nothing.",
    ]
    ok_items = extra_reads <= MAX_EXTRA_READS and per_checkpoint <= 1
    goals = [
        Goal(
            "≤ 1 read and 1 write per processed item amortised, a constant per checkpoint",
            f"{fmt(tick.reads / n, 4)} reads and {fmt(tick.writes / n, 4)} writes per item "
            f"({extra_reads} extra read(s) per tick and 1 per checkpoint, "
            f"{fmt(per_checkpoint, 2)} extra write(s) per checkpoint)",
            ok_items,
        ),
        Goal(
            "idle tick: exactly 1 read and 0 writes",
            f"{idle.reads} read(s), {idle.writes} write(s), {idle.total_rpcs} RPC(s) "
            f"({idle.outcome})",
            idle.reads == 1 and idle.writes == 0,
        ),
    ]
    data = {
        "items": n,
        "reads_per_item": tick.reads / n if n else math.nan,
        "writes_per_item": tick.writes / n if n else math.nan,
        "rpcs_per_item": tick.total_rpcs / n if n else math.nan,
        "extra_reads": extra_reads,
        "writes_per_checkpoint": per_checkpoint,
        "idle_reads": idle.reads,
        "idle_writes": idle.writes,
        "monthly_usd": s_rc + s_wc,
        "floor_monthly_usd": f_rc + f_wc,
    }
    return Section(
        "ops",
        "Firestore operations and cost",
        [table, constants, cost],
        notes,
        goals,
        data,
    )
