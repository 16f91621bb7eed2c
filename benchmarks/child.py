"""One measured run in a fresh process: ``python -m benchmarks.child KIND ...``.

Every timed run of the comparison happens in its own process, so its peak
RSS is its own (``ru_maxrss`` is a high-water mark per process) and the
engine and the floor start from the same cold state, as a fresh function
instance would. Imports and client creation are not timed. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import psutil

import slotwork
from benchmarks import fixtures as fx
from benchmarks.floor import run_floor
from benchmarks.processes import define
from slotwork import logs

KINDS = ("engine", "floor", "floor-plain", "resume", "parallel")
FINAL_OUTCOMES = ("claimed", "resumed")
MAX_INVOCATIONS = 200


@dataclass(frozen=True)
class RunSample:
    """What one child measured (times in seconds, memory in MiB)."""

    kind: str
    items: int
    processed: int
    outcome: str
    wall: float
    cpu: float
    rss_before_mib: float
    peak_rss_mib: float
    invocations: int = 1
    continuations: int = 0
    tick_walls: list[float] = field(default_factory=list)
    tick_processed: list[int] = field(default_factory=list)
    run_state: str = ""

    @property
    def growth_mib(self) -> float:
        """Peak RSS above the RSS after imports and client creation."""
        return self.peak_rss_mib - self.rss_before_mib

    @classmethod
    def from_json(cls, line: str) -> RunSample:
        return cls(**json.loads(line))


def _peak_mib() -> float:
    """This process's peak RSS. ``VmHWM`` belongs to the process image; ``ru_maxrss``
    is not used because Linux carries it over ``exec`` from the parent.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _resume(app: slotwork.App, process: str, trigger: fx.RecordingTrigger) -> RunSample:
    """Tick until the slot's run is finished, as continuations would; time every tick."""
    walls: list[float] = []
    processed: list[int] = []
    cpu = 0.0
    outcome = run_state = ""
    for _ in range(MAX_INVOCATIONS):
        result, wall, tick_cpu = fx.timed(lambda: app.tick(process))
        walls.append(wall)
        processed.append(result.processed)
        cpu += tick_cpu
        outcome, run_state = result.outcome, result.run_state
        if result.outcome not in FINAL_OUTCOMES or result.run_state != "ACTIVE":
            break
    return RunSample(
        "resume",
        0,
        sum(processed),
        outcome,
        sum(walls),
        cpu,
        0.0,
        _peak_mib(),
        invocations=len(walls),
        continuations=len(trigger.calls),
        tick_walls=walls,
        tick_processed=processed,
        run_state=run_state,
    )


def measure(
    kind: str,
    host: str,
    process: str,
    slot: datetime,
    items: int,
    deadline: float,
    spec: dict[str, Any] | None = None,
) -> RunSample:
    """Run ``kind`` once on the seeded emulator at ``host`` in ``slot`` (``parallel``:
    the engine with the process ``spec`` of ``benchmarks.processes``)."""
    client = fx.new_client(host)
    clock = fx.SlotClock(slot)
    rss_before = psutil.Process().memory_info().rss / 2**20
    if kind in ("engine", "resume", "parallel"):
        trigger = fx.RecordingTrigger()
        definition = define(process, spec or {}, fx.FREQUENCY) if kind == "parallel" else None
        app = fx.make_app(
            client, process, clock, deadline=deadline, trigger=trigger, definition=definition
        )
        if kind == "resume":
            sample = _resume(app, process, trigger)
            return RunSample(**{**asdict(sample), "items": items, "rss_before_mib": rss_before})
        result, wall, cpu = fx.timed(lambda: app.tick(process))
        return RunSample(
            kind,
            items,
            result.processed,
            result.outcome,
            wall,
            cpu,
            rss_before,
            _peak_mib(),
            continuations=len(trigger.calls),
            tick_walls=[wall],
            tick_processed=[result.processed],
            run_state=result.run_state,
        )
    floor, wall, cpu = fx.timed(
        lambda: run_floor(client, clock, preconditions=kind == "floor", process=process)
    )
    return RunSample(kind, items, floor.processed, "done", wall, cpu, rss_before, _peak_mib())


def run_child(
    kind: str,
    host: str,
    process: str,
    slot: datetime,
    items: int,
    deadline: float = 3600.0,
    python: str = sys.executable,
    extra_path: str | None = None,
    spec: dict[str, Any] | None = None,
) -> RunSample:
    """Start a child process for one run and read its sample.

    ``extra_path`` goes first on the child's PYTHONPATH (to measure a patched
    copy of slotwork against the installed one).
    """
    args = [python, "-m", "benchmarks.child", kind, "--host", host, "--process", process]
    args += ["--slot", slot.isoformat(), "--items", str(items), "--deadline", str(deadline)]
    if spec is not None:
        args += ["--spec", json.dumps(spec)]
    env = None
    if extra_path:
        import os

        env = {**os.environ, "PYTHONPATH": extra_path}
    done = subprocess.run(args, capture_output=True, text=True, check=False, cwd=fx.REPO, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"benchmark child {kind} failed:\n{done.stderr[-4000:]}")
    return RunSample.from_json(done.stdout.strip().splitlines()[-1])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.child")
    parser.add_argument("kind", choices=KINDS)
    parser.add_argument("--host", required=True)
    parser.add_argument("--process", required=True)
    parser.add_argument("--slot", required=True, type=datetime.fromisoformat)
    parser.add_argument("--items", type=int, default=0)
    parser.add_argument("--deadline", type=float, default=3600.0)
    parser.add_argument("--spec", type=json.loads, default=None)
    args = parser.parse_args(argv)
    logs.configure()  # as the deployed function: INFO events as JSON lines on stdout
    sample = measure(
        args.kind, args.host, args.process, args.slot, args.items, args.deadline, args.spec
    )
    sys.stdout.write(json.dumps(asdict(sample)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
