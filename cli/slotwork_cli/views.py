"""``slotwork status``: every process in one table that fits the console, or one
process in detail (run, shards, policies, errors, missed slots).

Renderers take the API's JSON as it is, the console's width and ``now`` (for
"in 5m" and "5m ago"), and return rich renderables.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from slotwork_cli import values
from slotwork_cli.estimate import Estimate, is_final
from slotwork_cli.fit import Column, report, table_or_stack

NONE = values.NONE
RECENT_ERRORS = 5
SHOWN_MISSED_SLOTS = 5
BAR_WIDTH = 30


# -- every process -------------------------------------------------------------------------
def notes_of(process: Mapping[str, Any]) -> str:
    run = process.get("run", {})
    notes = []
    if process.get("paused"):
        notes.append("paused")
    quarantined = values.count(process.get("quarantinedItems"))
    if quarantined:
        notes.append(f"{quarantined:,} quarantined")
    missed = values.count(run.get("missedSlotCount"))
    if missed:
        notes.append(f"{missed:,} missed slot{'s' if missed != 1 else ''}")
    return ", ".join(notes)


@dataclass(frozen=True)
class Row:
    """One process of the summary, as its cells read."""

    process: str
    run: str
    done: str
    left: str
    rate: str
    eta: str
    errors: str
    notes: str
    late: bool


def _row(p: Mapping[str, Any], now: datetime) -> tuple[Row, str | None]:
    run = p.get("run", {})
    name = str(p.get("processName", ""))
    if values.run_state(run) == NONE:
        return Row(name, NONE, NONE, NONE, NONE, NONE, NONE, notes_of(p), False), None
    final = is_final(run)
    estimate = Estimate.of(run.get("estimate"))
    warning = estimate.warning(now, final)
    row = Row(
        process=name,
        run=values.run_state(run),
        done=f"{estimate.done:,}",
        left=f"{estimate.left:,}",
        rate=values.rate(estimate.rate) if not final else NONE,
        eta=estimate.eta_text(now, final) + ("!" if warning else ""),
        errors=values.grouped(run.get("status", {}).get("totalErrors")),
        notes=notes_of(p),
        late=warning is not None,
    )
    return row, f"! {name} {warning}" if warning else None


def processes_view(
    processes: Sequence[Mapping[str, Any]], width: int, now: datetime
) -> RenderableType:
    """One row per process: the current run's state, done and left, rate, ETA,
    errors and notes (paused, quarantined items, missed slots); then a line for
    each run that will not finish in its slot."""
    if not processes:
        return Text("no processes are defined")
    found = [_row(p, now) for p in processes]
    rows = [row for row, _ in found]
    warnings = [warning for _, warning in found if warning]
    columns = [
        Column("process", [r.process for r in rows]),
        Column("run", [r.run for r in rows]),
        Column("done", [r.done for r in rows], "right", keep=60),
        Column("left", [r.left for r in rows], "right", keep=70),
        Column("rate", [r.rate for r in rows], "right", keep=20),
        Column(
            "eta",
            [r.eta for r in rows],
            "right",
            keep=30,
            styles=["red" if r.late else None for r in rows],
        ),
        Column("errors", [r.errors for r in rows], "right", keep=40),
    ]
    if any(r.notes for r in rows):
        columns.append(Column("notes", [r.notes for r in rows], wrap=True, keep=80))
    parts: list[RenderableType] = [table_or_stack(columns, width)]
    parts += [Text(w, style="red") for w in warnings]
    return Group(*parts)


# -- one process ---------------------------------------------------------------------------
def _section(title: str, body: RenderableType) -> list[RenderableType]:
    return [Text(""), Text(title, style="bold underline"), body]


def _paused(p: Mapping[str, Any]) -> str:
    if not p.get("paused"):
        return "no"
    reason = str(p.get("pauseReason") or "")
    return f"yes: {reason}" if reason else "yes"


def _progress(estimate: Estimate) -> RenderableType:
    words = (
        f"{estimate.done:,} of {estimate.total:,} done, {estimate.left:,} left, "
        f"{estimate.failed:,} failed"
    )
    if not estimate.total:
        return Text(words)
    return Group(
        Text(values.bar(estimate.done, estimate.total, BAR_WIDTH), style="green")
        + Text(f" {estimate.fraction:.0%}"),
        Text(words),
    )


def _finish(estimate: Estimate, now: datetime, final: bool) -> str:
    """When the run will be done, and whether that is within its slot."""
    slot_end = values.when_relative(estimate.slot_end, now, NONE)
    if final:
        return f"the run has ended; its slot ends {slot_end}"
    if not estimate.left:
        return "nothing is left"
    if estimate.eta is None:
        return f"not known yet (no progress measured); the slot ends {slot_end}"
    eta = values.when_relative(estimate.eta, now, NONE)
    verdict = "finishes in time" if estimate.finishes_in_slot else "WILL NOT finish in this slot"
    return f"{eta}: {verdict}; the slot ends {slot_end}"


def _errors(status: Mapping[str, Any], now: datetime) -> RenderableType:
    total = values.count(status.get("totalErrors"))
    recent = list(status.get("errors", []))[-RECENT_ERRORS:]
    if not total:
        return Text("none")
    if len(recent) >= total:
        heading = f"{total:,}:"
    else:
        heading = f"{total:,} in all; the most recent {len(recent)}:" if recent else f"{total:,}"
    lines = [Text(heading)]
    for error in recent:
        lines.append(Text(f"{values.when(error.get('time'), NONE)}  {error.get('text', '')}"))
    return Group(*lines)


def _missed(run: Mapping[str, Any]) -> str:
    missed = values.count(run.get("missedSlotCount"))
    if not missed:
        return "none"
    listed = [values.when(s, NONE) for s in run.get("missedSlots", [])][-SHOWN_MISSED_SLOTS:]
    more = " ..." if missed > len(listed) else ""
    return f"{missed:,}: {', '.join(listed)}{more}" if listed else f"{missed:,}"


def run_grid(run: Mapping[str, Any], now: datetime) -> Table:
    """The current (or latest) run: state, slot, progress, rate, ETA, errors."""
    grid = report()
    if values.run_state(run) == NONE:
        grid.add_row("state", "no run yet")
        return grid
    status = run.get("status", {})
    final = is_final(run)
    estimate = Estimate.of(run.get("estimate"))
    sequence = values.count(run.get("sequence"))
    slot = values.when(run.get("slot"), NONE)
    grid.add_row("state", values.run_state(run))
    grid.add_row("slot", slot + (f" (run {sequence} of this slot)" if sequence > 1 else ""))
    grid.add_row("progress", _progress(estimate))
    grid.add_row("rate", values.rate(estimate.rate) if not final else NONE)
    grid.add_row("ETA", _finish(estimate, now, final))
    grid.add_row("started", values.when_relative(status.get("startTime"), now, NONE))
    if status.get("progressTime"):
        grid.add_row("last progress", values.when_relative(status.get("progressTime"), now, NONE))
    if final:
        grid.add_row("finished", values.when_relative(status.get("finishTime"), now, NONE))
    grid.add_row(
        "invocations",
        f"{values.count(run.get('invocations')):,} over "
        f"{values.count(run.get('shards')) or 1} shard(s)",
    )
    if run.get("reason"):
        grid.add_row("reason", str(run["reason"]))
    if run.get("aborting"):
        grid.add_row("aborting", "a shard hit the error budget: the others stop")
    grid.add_row("errors", _errors(status, now))
    grid.add_row("missed slots", _missed(run))
    grid.add_row("stats", values.stats(status.get("stats", {})))
    return grid


def lease_text(lease: Mapping[str, Any], now: datetime, at_time: bool = True) -> str:
    """``live until ...``, ``released ...`` or ``expired ...`` (``-`` when never held);
    without ``at_time``, the word alone."""
    if not lease.get("holder"):
        return NONE
    expires = values.parse_time(lease.get("expireTime"))
    at = f" {values.clock_time(lease.get('expireTime'))}" if at_time else ""
    if lease.get("released"):
        return f"released{at}"
    if expires is not None and expires > now:
        return f"live until{at}" if at_time else "live"
    return f"expired{at}"


def shards_view(shards: Iterable[Mapping[str, Any]], width: int, now: datetime) -> RenderableType:
    """One row per shard: holder, epoch, done and left of its part, its lease."""
    rows = list(shards)
    if not rows:
        return Text("no shard has worked yet")
    parts = [Estimate.of(s.get("estimate")) for s in rows]
    columns = [
        Column("shard", [str(values.count(s.get("index"))) for s in rows], "right"),
        Column("holder", [str(s.get("lease", {}).get("holder") or NONE) for s in rows], keep=30),
        Column("epoch", [values.grouped(s.get("lease", {}).get("epoch")) for s in rows], "right"),
        Column("done", [f"{e.done:,}/{e.total:,}" for e in parts], "right", keep=90),
        Column("left", [f"{e.left:,}" for e in parts], "right", keep=80),
        Column("failed", [f"{e.failed:,}" for e in parts], "right", keep=40),
        Column("rate", [values.rate(e.rate) if e.left else NONE for e in parts], "right", keep=10),
        Column("lease", [lease_text(s.get("lease", {}), now) for s in rows], wrap=True, keep=70),
    ]
    return table_or_stack(columns, width)


def rate_limit_text(rate: Mapping[str, Any] | None) -> str:
    """``100 items per 1m`` (``none`` when unset)."""
    if not rate or values.number(rate.get("count")) <= 0:
        return "none"
    per = values.frequency(rate.get("per") or "1s")
    return f"{values.number(rate.get('count')):g} items per {per}"


def error_budget_text(budget: Mapping[str, Any] | None) -> str:
    """``10 errors per item, 25 failed items per run`` (or a part of the run's items)."""
    given = budget or {}
    per_item = values.count(given.get("perItem"))
    fraction = values.number(given.get("perRunFraction"))
    if fraction > 0:
        per_run = f"{fraction:.0%} of the run's items"
    else:
        per_run = f"{values.count(given.get('perRun'))} failed items"
    return f"{per_item} errors per item, {per_run} per run"


def catch_up_text(catch_up: Mapping[str, Any] | None) -> str:
    """``skip`` or ``run late within 30m``."""
    given = catch_up or {}
    if given.get("policy") == "RUN_LATE":
        return f"run late within {values.frequency(given.get('runLateWithin'))}"
    return "skip"


def policies_grid(p: Mapping[str, Any]) -> Table:
    grid = report()
    grid.add_row("rate limit", rate_limit_text(p.get("rateLimit")))
    grid.add_row("error budget", error_budget_text(p.get("errorBudget")))
    grid.add_row("catch-up", catch_up_text(p.get("catchUp")))
    after = values.count(p.get("pauseAfterAborts"))
    grid.add_row("pause after", f"{after} aborted runs in a row" if after else "never")
    return grid


def process_view(p: Mapping[str, Any], width: int, now: datetime) -> RenderableType:
    """One process in detail."""
    head = report()
    head.add_row("process", str(p.get("processName", "")))
    head.add_row("frequency", values.frequency(p.get("scheduleFrequency")))
    head.add_row("paused", _paused(p))
    head.add_row("quarantined", f"{values.count(p.get('quarantinedItems')):,} items")
    head.add_row("settings", values.params(p.get("settings", {})))
    parts: list[RenderableType] = [head]
    parts += _section("run", run_grid(p.get("run", {}), now))
    parts += _section("shards", shards_view(p.get("shards", []), width, now))
    parts += _section("policies", policies_grid(p))
    parts += _section("since the first run", Text(values.stats(p.get("aggregateStats", {}))))
    return Group(*parts)
