"""Overhead: ``App.tick`` with a no-op worker against the floor, at each size.

Every run happens in its own process (``benchmarks.child``) on a fresh slot of
the same seeded items, the kinds interleaved and rotated from one repeat to
the next so that drifting load falls on all of them alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from benchmarks import fixtures as fx
from benchmarks.child import RunSample, run_child
from benchmarks.floor import run_floor
from benchmarks.report import Goal, Section, Table, fmt

KINDS = ("engine", "floor", "floor-plain")
GOAL_RATIO = 1.3
ENGINE_ISSUE_RATIO = 2.0


@dataclass
class SizeRuns:
    """The samples of one size, by kind."""

    items: int
    process: str
    runs: dict[str, list[RunSample]] = field(default_factory=lambda: {k: [] for k in KINDS})

    def walls(self, kind: str) -> list[float]:
        return [s.wall for s in self.runs[kind]]

    def cpus(self, kind: str) -> list[float]:
        return [s.cpu for s in self.runs[kind]]

    def wall(self, kind: str) -> float:
        return fx.median(self.walls(kind))

    def cpu(self, kind: str) -> float:
        return fx.median(self.cpus(kind))

    def ratio(self, kind: str = "floor") -> float:
        return fx.ratio(self.wall("engine"), self.wall(kind))

    def pair_ratios(self) -> list[float]:
        """Engine/floor of each repeat (the two ran next to each other)."""
        return [
            fx.ratio(e.wall, f.wall)
            for e, f in zip(self.runs["engine"], self.runs["floor"], strict=False)
        ]

    def repeat_seconds(self) -> float:
        """What one more repeat of every kind is expected to cost (with process start);
        a kind not run yet is assumed to cost what the floor does.
        """
        return sum(self.wall(k if self.runs[k] else "floor") + 3.0 for k in KINDS)


def run_repeats(
    bench: fx.Bench,
    size: SizeRuns,
    repeat: int,
    budget: fx.TimeBudget | None = None,
    kinds: tuple[str, ...] = KINDS,
) -> SizeRuns:
    """Add repeats to ``size`` until it has ``repeat`` of each of ``kinds`` (or the
    budget runs out; the first repeat always runs).
    """
    while len(size.runs["engine"]) < repeat:
        done = len(size.runs["engine"])
        if done and budget is not None and not budget.allows(size.repeat_seconds()):
            break
        shift = done % len(kinds)
        for kind in kinds[shift:] + kinds[:shift]:
            if len(size.runs[kind]) > done:
                continue
            sample = run_child(kind, bench.host, size.process, bench.slots.next_slot(), size.items)
            if sample.processed != size.items:
                raise RuntimeError(
                    f"{kind} processed {sample.processed} of {size.items} items ({sample})"
                )
            size.runs[kind].append(sample)
    return size


def complete(bench: fx.Bench, size: SizeRuns, budget: fx.TimeBudget | None = None) -> None:
    """Run once each kind that has not run yet (the blind-write floor of a large size),
    if the budget allows.
    """
    for kind in KINDS:
        if not size.runs[kind] and (budget is None or budget.allows(size.wall("floor") + 3.0)):
            sample = run_child(kind, bench.host, size.process, bench.slots.next_slot(), size.items)
            size.runs[kind].append(sample)


def warm_up(bench: fx.Bench, process: str) -> None:
    """Untimed passes so the emulator's JIT is warm before the first timed run."""
    for _ in range(2):
        fx.make_app(bench.client, process, bench.slots.next_clock()).tick(process)
        run_floor(bench.client, bench.slots.next_clock(), process=process)


def section(sizes: list[SizeRuns]) -> Section:
    rows = []
    for s in sizes:
        ratios = s.pair_ratios()
        plain = s.wall("floor-plain")
        rows.append(
            [
                f"{s.items:,}",
                str(len(s.runs["engine"])),
                fmt(s.wall("engine")),
                fmt(s.wall("floor")),
                f"**{fmt(s.ratio())}x**",
                f"{fmt(min(ratios))} to {fmt(max(ratios))}" if ratios else "n/a",
                fmt(plain),
                f"{fmt(s.ratio('floor-plain'))}x",
                fmt(s.cpu("engine")),
                fmt(s.cpu("floor")),
                f"{fmt(fx.ratio(s.cpu('engine'), s.cpu('floor')))}x",
                fmt(1e6 * (s.wall("engine") - s.wall("floor")) / s.items, 0),
            ]
        )
    table = Table(
        [
            "items",
            "runs",
            "slotwork tick s",
            "floor s",
            "ratio",
            "ratio range",
            "floor, no preconditions s",
            "ratio to it",
            "slotwork CPU s",
            "floor CPU s",
            "CPU ratio",
            "extra µs/item",
        ],
        rows,
    )
    notes = [
        "slotwork: `App.tick` with a no-op worker, production defaults (checkpoints of "
        "400 items or 5 s), one tick processing every item of a fresh slot.",
        "floor: a plain `firestore.Client` streaming the pending active items (list == ACTIVE, "
        "done_slot < slot, ordered by done_slot then name; the engine's query also takes "
        "cleanup items, none here) and writing each item's status map "
        "and done_slot in commits of 400, each write conditional on the update time it was read "
        "at. This is the floor compared against: fencing and concurrent registrations need "
        "those preconditions. The blind-write floor (no preconditions) is shown beside it.",
        "Times are medians of `runs` runs, each in a fresh process (imports and client "
        "creation not timed); ratio = median slotwork / median floor; ratio range = the "
        "per-repeat ratios (slotwork and floor ran back to back). CPU = the client "
        "process's CPU seconds (the emulator's are not included).",
    ]
    goals = []
    by_items = {s.items: s for s in sizes}
    for items in (10_000, 100_000):
        found = by_items.get(items)
        if found is None:
            goals.append(
                Goal(f"overhead at {items:,} items ≤ {GOAL_RATIO}x the floor", "not run", None)
            )
            continue
        s = found
        r = s.ratio()
        goals.append(
            Goal(
                f"overhead at {items:,} items ≤ {GOAL_RATIO}x the floor",
                f"{fmt(r)}x wall (CPU {fmt(fx.ratio(s.cpu('engine'), s.cpu('floor')))}x), "
                f"{len(s.runs['engine'])} run(s)",
                r <= GOAL_RATIO,
            )
        )
        if items == 10_000:
            goals.append(
                Goal(
                    f"engine issue: ≤ {ENGINE_ISSUE_RATIO}x at 10,000 items",
                    f"{fmt(r)}x",
                    r <= ENGINE_ISSUE_RATIO,
                )
            )
    data = {
        str(s.items): {
            "runs": len(s.runs["engine"]),
            "engine_s": s.wall("engine"),
            "floor_s": s.wall("floor"),
            "floor_plain_s": s.wall("floor-plain"),
            "ratio": s.ratio(),
            "ratio_plain": s.ratio("floor-plain"),
            "cpu_ratio": fx.ratio(s.cpu("engine"), s.cpu("floor")),
        }
        for s in sizes
    }
    return Section("overhead", "Overhead: slotwork against the floor", [table], notes, goals, data)
