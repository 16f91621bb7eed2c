"""Live progress of the local stack: processes, scheduler jobs and demo collections.

``snapshot`` reads the state (Firestore through ``slotwork.App``, the
scheduler's jobs) into plain values; ``render`` and ``plain_line`` draw them.
The display is the one place in the stand-ins that prints.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from google.cloud import firestore
from rich.console import Group
from rich.table import Table
from rich.text import Text

import slotwork
from slotwork.model import STATUS_WORDS
from slotwork.rules import lease_is_live
from slotwork.schema.slotwork_pb2 import Status
from slotwork_local.scheduler import JobStatus


@dataclass(frozen=True)
class ShardRow:
    """One shard of a sharded process: its lease and its part of the run."""

    index: int
    holder: str
    epoch: int
    done: int
    left: int


@dataclass(frozen=True)
class ProcessRow:
    """One process's current run, as the table shows it."""

    name: str
    slot: datetime | None
    state: str
    done: int
    left: int
    errors: int
    holder: str
    runs: int
    paused: bool
    rate: float = 0.0
    shards: tuple[ShardRow, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """Everything one refresh shows."""

    processes: list[ProcessRow]
    jobs: list[JobStatus]
    collections: dict[str, int]
    now: datetime


def _holder(lease: slotwork.schema.Lease, now: datetime) -> str:
    return lease.holder if lease_is_live(lease, now) else "-"


def process_row(state: slotwork.schema.Process, now: datetime) -> ProcessRow:
    """A ProcessRow from the Process message the App shows (with its shards)."""
    run = state.run
    slot = run.slot.ToDatetime(tzinfo=now.tzinfo) if run.HasField("slot") else None
    estimate = run.estimate
    shards = tuple(
        ShardRow(
            s.index,
            _holder(s.lease, now),
            int(s.lease.epoch),
            int(s.estimate.done),
            int(s.estimate.left),
        )
        for s in state.shards
        if s.run_id == run.id
    )
    holders = sorted({row.holder for row in shards if row.holder != "-"})
    return ProcessRow(
        name=state.process_name,
        slot=slot,
        state=STATUS_WORDS[Status.State.Name(run.status.state)] if slot else "-",
        done=int(estimate.done),
        left=int(estimate.left),
        errors=int(run.status.total_errors),
        holder=", ".join(holders) or "-",
        runs=int(state.aggregate_stats.get("runs", 0)),
        paused=state.paused,
        rate=estimate.rate,
        shards=shards if len(shards) > 1 else (),
    )


def count(client: firestore.Client, collection: str) -> int:
    """Documents in a collection (one aggregation query)."""
    result = client.collection(collection).count().get()  # type: ignore[no-untyped-call]
    return int(result[0][0].value)


def snapshot(
    app: slotwork.App,
    client: firestore.Client,
    jobs: Sequence[JobStatus],
    collections: Sequence[str],
    now: datetime,
) -> Snapshot:
    """Read the current state of every process, job and demo collection."""
    return Snapshot(
        processes=[process_row(state, now) for state in app.list_processes()],
        jobs=list(jobs),
        collections={name: count(client, name) for name in collections},
        now=now,
    )


def _clock(when: datetime | None) -> str:
    return when.strftime("%H:%M:%S") if when else "-"


def _last(job: JobStatus) -> str:
    attempt = job.last_attempt
    if attempt is None:
        return "-"
    if not attempt.ok:
        return f"HTTP {attempt.status}" if attempt.status else "unreachable"
    body = attempt.body if isinstance(attempt.body, dict) else {}
    return f"{body.get('outcome', '?')} ({body.get('processed', 0)} items)"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, no_wrap=True)
    return table


def render(snap: Snapshot, footer: str = "") -> Group:
    """The rich renderable of a snapshot."""
    processes = _table(
        "processes", "process", "slot", "run", "done", "left", "items/s", "errors", "holder", "runs"
    )
    for row in snap.processes:
        state = "paused" if row.paused else row.state
        processes.add_row(
            row.name,
            _clock(row.slot),
            state,
            str(row.done),
            str(row.left),
            f"{row.rate:.1f}" if row.rate else "-",
            Text(str(row.errors), style="red" if row.errors else ""),
            row.holder,
            str(row.runs),
        )
        for shard in row.shards:
            processes.add_row(
                f"  shard {shard.index}",
                "",
                f"epoch {shard.epoch}",
                str(shard.done),
                str(shard.left),
                "",
                "",
                shard.holder,
                "",
                style="dim",
            )
    cadences = sorted({job.cadence for job in snap.jobs})
    jobs = _table(f"local scheduler ({', '.join(cadences)})", "job", "next", "ticks", "last tick")
    for job in snap.jobs:
        running = " (running)" if job.running else ""
        jobs.add_row(
            job.spec.job_id,
            _clock(job.next_time),
            str(job.executions),
            f"{_clock(job.last_attempt_time)} {_last(job)}{running}",
        )
    docs = _table("demo collections", "collection", "documents")
    for name, n in snap.collections.items():
        docs.add_row(name, str(n))
    return Group(processes, jobs, docs, Text(footer, style="dim"))


def plain_line(snap: Snapshot) -> str:
    """A one-line summary for a non-terminal output (logs, tests)."""
    parts = [
        f"{r.name}: slot={_clock(r.slot)} run={r.state} done={r.done} left={r.left} "
        f"errors={r.errors} runs={r.runs}"
        + "".join(f" shard{s.index}={s.done}/{s.done + s.left}" for s in r.shards)
        for r in snap.processes
    ]
    parts += [f"{name}={n}" for name, n in snap.collections.items()]
    return f"{_clock(snap.now)} " + "; ".join(parts)
