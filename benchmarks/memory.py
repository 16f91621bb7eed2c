"""Memory: the peak RSS of a tick, by item count, from the overhead runs.

Each run was a fresh process, so its peak (``VmHWM``) is its own; the growth
is the peak above the RSS after imports and client creation. Bounded means
growing the items tenfold leaves the growth where it was (the engine holds at
most a checkpoint's 400 queued writes and the stream's in-flight responses).
"""

from __future__ import annotations

from benchmarks import fixtures as fx
from benchmarks.overhead import SizeRuns
from benchmarks.report import Goal, Section, Table, fmt

# Growth at 10x the items may exceed the smaller size's by this much and count as flat.
TOLERANCE_MIB = 8.0
TOLERANCE_FACTOR = 1.25


def _growth(size: SizeRuns, kind: str) -> float:
    return fx.median([s.growth_mib for s in size.runs[kind]])


def _peak(size: SizeRuns, kind: str) -> float:
    return fx.median([s.peak_rss_mib for s in size.runs[kind]])


def bounded(small: float, large: float) -> bool:
    return large <= max(small * TOLERANCE_FACTOR, small + TOLERANCE_MIB)


def section(sizes: list[SizeRuns]) -> Section:
    rows = [
        [
            f"{s.items:,}",
            fmt(_peak(s, "engine"), 1),
            fmt(_growth(s, "engine"), 1),
            fmt(_peak(s, "floor"), 1),
            fmt(_growth(s, "floor"), 1),
        ]
        for s in sizes
    ]
    table = Table(
        [
            "items",
            "slotwork peak RSS MiB",
            "slotwork growth MiB",
            "floor peak RSS MiB",
            "floor growth MiB",
        ],
        rows,
    )
    notes = [
        "Peak RSS of the whole tick's process (VmHWM), median over the overhead runs; growth = "
        "peak minus the RSS once slotwork, the Firestore client and its channel were set up.",
    ]
    goals: list[Goal] = []
    by_items = {s.items: s for s in sizes}
    data: dict[str, object] = {
        str(s.items): {
            "peak_mib": _peak(s, "engine"),
            "growth_mib": _growth(s, "engine"),
            "floor_peak_mib": _peak(s, "floor"),
            "floor_growth_mib": _growth(s, "floor"),
        }
        for s in sizes
    }
    small, large = by_items.get(10_000), by_items.get(100_000)
    if small is not None and large is not None:
        g_small, g_large = _growth(small, "engine"), _growth(large, "engine")
        ok = bounded(g_small, g_large)
        goals.append(
            Goal(
                "peak RSS of a 100,000-item tick bounded (not growing with items)",
                f"{fmt(_peak(large, 'engine'), 1)} MiB peak at 100,000 vs "
                f"{fmt(_peak(small, 'engine'), 1)} MiB at 10,000 (growth {fmt(g_large, 1)} vs "
                f"{fmt(g_small, 1)} MiB)",
                ok,
                "" if ok else "growth rises with the item count",
            )
        )
        data["bounded"] = ok
        notes.append(
            f"Counted as bounded when the growth at 100,000 items is at most "
            f"max({TOLERANCE_FACTOR}x, +{TOLERANCE_MIB:.0f} MiB) the growth at 10,000."
        )
    else:
        goals.append(Goal("peak RSS of a 100,000-item tick bounded", "not run", None))
    return Section("memory", "Memory: peak RSS of a tick", [table], notes, goals, data)
