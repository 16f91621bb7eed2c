"""Work items and run records as people read them: one item as a small report,
lists as tables that fit the console."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from slotwork_cli import values
from slotwork_cli.fit import Column, report, table_or_stack

NONE = values.NONE
RECENT_ERRORS = 5


def _last_processing(status: Mapping[str, Any], now: datetime) -> str:
    started = values.parse_time(status.get("startTime"))
    if started is None:
        return values.NEVER
    shown = values.when_relative(started, now)
    took = values.seconds_between(status.get("finishTime"), status.get("startTime"))
    return shown + (f", took {values.took(took.total_seconds())}" if took is not None else "")


def _errors(status: Mapping[str, Any]) -> RenderableType:
    total = values.count(status.get("totalErrors"))
    if not total:
        return Text("none")
    recent = list(status.get("errors", []))[-RECENT_ERRORS:]
    more = len(recent) < total
    lines = [Text(f"{total:,} in its last processing" + (", the most recent:" if more else ":"))]
    lines += [Text(f"{values.when(e.get('time'), NONE)}  {e.get('text', '')}") for e in recent]
    return Group(*lines)


def work_report(w: Mapping[str, Any], now: datetime, process: str = "PROCESS") -> RenderableType:
    """One item: state, times, stats and recent errors; for a retrying item its
    attempts and the next one's time, for a quarantined one the reason."""
    details = w.get("details", {})
    status = details.get("status", {})
    state = str(w.get("state", ""))
    grid = report()
    grid.add_row("item", str(w.get("id", "")))
    grid.add_row("state", state)
    grid.add_row("params", values.params(details.get("params", {})))
    grid.add_row("done in slot", values.when(details.get("doneSlot")))
    grid.add_row("last processed", _last_processing(status, now))
    grid.add_row("modified", values.when_relative(details.get("modified"), now, NONE))
    attempts = values.count(details.get("attempts"))
    if attempts or state == "retrying":
        grid.add_row("attempts", f"{attempts} failed in this slot")
        grid.add_row(
            "next attempt", values.when_relative(details.get("nextAttemptTime"), now, NONE)
        )
    failed_slots = values.count(details.get("failedSlots"))
    if failed_slots:
        grid.add_row("failed slots", f"{failed_slots} in a row")
    if state == "quarantined" or details.get("quarantineReason"):
        grid.add_row("reason", str(details.get("quarantineReason") or "(none given)"))
        command = shlex.join(["slotwork", "work", "release", process, str(w.get("id", ""))])
        grid.add_row("", f"skipped until released: {command}")
    grid.add_row("stats", values.stats(status.get("stats", {})))
    grid.add_row("errors", _errors(status))
    grid.add_row("uri", str(w.get("uri", "")))
    return grid


def work_table(items: Sequence[Mapping[str, Any]], width: int) -> RenderableType:
    """One row per item: name, state, last slot done, errors, modified, params."""
    if not items:
        return Text("no items")
    details = [w.get("details", {}) for w in items]
    columns = [
        Column("item", [str(w.get("id", "")) for w in items], wrap=True),
        Column("state", [str(w.get("state", "")) for w in items]),
        Column("done in slot", [values.when(d.get("doneSlot")) for d in details], keep=50),
        Column(
            "errors",
            [values.grouped(d.get("status", {}).get("totalErrors")) for d in details],
            "right",
            keep=40,
        ),
        Column("modified", [values.when(d.get("modified"), NONE) for d in details], keep=20),
        Column("params", [values.params(d.get("params", {})) for d in details], wrap=True, keep=10),
    ]
    return table_or_stack(columns, width)


def _took(status: Mapping[str, Any]) -> str:
    took = values.seconds_between(status.get("finishTime"), status.get("startTime"))
    return values.took(took.total_seconds()) if took is not None else NONE


def runs_table(records: Sequence[Mapping[str, Any]], width: int) -> RenderableType:
    """One row per run record, newest first: slot, state, items, errors, time taken."""
    if not records:
        return Text("no runs yet")
    runs = [r.get("run", {}) for r in records]
    statuses = [r.get("status", {}) for r in runs]

    def slot(run: Mapping[str, Any]) -> str:
        sequence = values.count(run.get("sequence"))
        return values.when(run.get("slot"), NONE) + (f" #{sequence}" if sequence > 1 else "")

    columns = [
        Column("slot", [slot(r) for r in runs]),
        Column("state", [values.run_state(r) for r in runs]),
        Column("items", [values.grouped(r.get("itemsTotal")) for r in runs], "right", keep=60),
        Column("left", [values.grouped(r.get("itemsLeft")) for r in runs], "right", keep=70),
        Column("failed", [values.grouped(r.get("itemsFailed")) for r in runs], "right", keep=50),
        Column(
            "errors", [values.grouped(s.get("totalErrors")) for s in statuses], "right", keep=40
        ),
        Column("took", [_took(s) for s in statuses], "right", keep=30),
        Column("ticks", [values.grouped(r.get("invocations")) for r in runs], "right", keep=20),
        Column("stats", [values.stats(s.get("stats", {})) for s in statuses], wrap=True, keep=10),
    ]
    return table_or_stack(columns, width)
