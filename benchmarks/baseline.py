"""``--baseline REV``: the no-op tick of an earlier slotwork (a git revision of this
repository) against this one's, in the same run, on the same emulator.

The earlier code runs from a temporary worktree, with its own benchmark child,
over a process of its own seeded with the same items (without a process
document: each version writes its own). Runs alternate, the earlier first on
every other repeat, so drifting load and the emulator's warming fall on both.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import fixtures as fx
from benchmarks.child import run_child
from benchmarks.report import Goal, Section, Table, fmt, fmt_int

ITEMS = 10_000
# "No slower": the same within this much, the noise of medians of a few runs here.
TOLERANCE = 1.05


@dataclass
class Compared:
    revision: str
    items: int
    current: list[float] = field(default_factory=list)
    earlier: list[float] = field(default_factory=list)
    current_cpu: list[float] = field(default_factory=list)
    earlier_cpu: list[float] = field(default_factory=list)


@contextlib.contextmanager
def worktree(revision: str) -> Iterator[Path]:
    """A detached checkout of ``revision`` in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="bench-baseline-") as tmp:
        path = Path(tmp) / "tree"
        subprocess.run(
            ["git", "worktree", "add", "--detach", "--quiet", str(path), revision],
            cwd=fx.REPO,
            check=True,
        )
        try:
            yield path
        finally:
            subprocess.run(
                ["git", "worktree", "remove", "--force", str(path)], cwd=fx.REPO, check=False
            )


def _earlier_tick(tree: Path, host: str, process: str, items: int, bench: fx.Bench) -> Any:
    paths = [str(tree / part) for part in ("", "functions", "infra", "cli")]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
    args = [sys.executable, "-m", "benchmarks.child", "engine", "--host", host]
    args += ["--process", process, "--slot", bench.slots.next_slot().isoformat()]
    args += ["--items", str(items), "--deadline", "3600"]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tree, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the baseline's child failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(bench: fx.Bench, revision: str, repeat: int, items: int = ITEMS) -> Compared:
    """``repeat`` no-op ticks of each version over ``items`` items."""
    found = Compared(revision, items)
    bench.grow("bench-current", items)
    fx.seed(bench.client, items, "bench-earlier")
    with worktree(revision) as tree:
        for n in range(repeat):
            for which in ("earlier", "current") if n % 2 == 0 else ("current", "earlier"):
                if which == "current":
                    sample = run_child(
                        "engine", bench.host, "bench-current", bench.slots.next_slot(), items
                    )
                    found.current.append(sample.wall)
                    found.current_cpu.append(sample.cpu)
                else:
                    old = _earlier_tick(tree, bench.host, "bench-earlier", items, bench)
                    found.earlier.append(float(old["wall"]))
                    found.earlier_cpu.append(float(old["cpu"]))
    return found


def section(found: Compared) -> Section:
    current, earlier = fx.median(found.current), fx.median(found.earlier)
    cpu, earlier_cpu = fx.median(found.current_cpu), fx.median(found.earlier_cpu)
    ratio = fx.ratio(current, earlier)
    table = Table(
        ["no-op tick", "items", "wall (median)", "CPU (median)", "runs"],
        [
            [
                "this slotwork",
                fmt_int(found.items),
                f"{fmt(current, 2)} s",
                f"{fmt(cpu, 2)} s",
                str(len(found.current)),
            ],
            [
                f"slotwork at {found.revision}",
                fmt_int(found.items),
                f"{fmt(earlier, 2)} s",
                f"{fmt(earlier_cpu, 2)} s",
                str(len(found.earlier)),
            ],
        ],
        "The no-op tick against an earlier version, in the same run",
    )
    goal = Goal(
        f"the no-op tick no slower than at {found.revision} (within {TOLERANCE - 1:.0%})",
        f"{fmt(ratio, 2)}x (CPU {fmt(fx.ratio(cpu, earlier_cpu), 2)}x)",
        ratio <= TOLERANCE,
    )
    return Section(
        "baseline",
        "Against an earlier version",
        [table],
        [],
        [goal],
        {"ratio": ratio, "cpu_ratio": fx.ratio(cpu, earlier_cpu)},
    )
