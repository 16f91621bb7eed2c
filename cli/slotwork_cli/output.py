"""What the CLI prints: rich tables for people, the API's JSON for scripts (``--json``)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rich.console import Console
from rich.table import Table

NONE = "-"


class Output:
    """Prints results as tables, or as JSON when ``as_json``."""

    def __init__(self, as_json: bool, console: Console | None = None) -> None:
        self.as_json = as_json
        self.console = console or Console(soft_wrap=True)
        self.errors = Console(stderr=True)

    def json(self, data: Any) -> None:
        # print(), not rich: scripts want the bytes as they are, no wrapping or markup.
        print(json.dumps(data, indent=2, ensure_ascii=False))

    def error(self, message: str) -> None:
        self.errors.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)

    def note(self, message: str) -> None:
        if not self.as_json:
            self.console.print(message, markup=False, highlight=False)

    def show(self, data: Any, render: Any) -> None:
        """``data`` as JSON, or through ``render`` as a table."""
        if self.as_json:
            self.json(data)
        else:
            self.console.print(render(data))


def _run_state(process: Mapping[str, Any]) -> str:
    state = str(process.get("run", {}).get("status", {}).get("state", NONE))
    return NONE if state == "STATE_UNSPECIFIED" else state


def processes_table(processes: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(
        "process",
        "frequency",
        "paused",
        "run",
        "slot",
        "items left",
        "errors",
        "runs",
        title="processes",
    )
    for p in processes:
        run = p.get("run", {})
        table.add_row(
            str(p.get("processName", "")),
            str(p.get("scheduleFrequency", NONE)),
            "yes: " + str(p.get("pauseReason", "")) if p.get("paused") else "no",
            _run_state(p),
            str(run.get("slot", NONE)),
            str(run.get("itemsLeft", NONE)),
            str(run.get("status", {}).get("totalErrors", NONE)),
            str(int(p.get("aggregateStats", {}).get("runs", 0))),
        )
    return table


def process_table(p: Mapping[str, Any]) -> Table:
    table = Table("field", "value", title=f"process {p.get('processName', '')}", show_header=False)
    run = p.get("run", {})
    status = run.get("status", {})
    lease = p.get("lease", {})
    catch_up = p.get("catchUp", {})
    rows = [
        ("frequency", p.get("scheduleFrequency", NONE)),
        ("paused", f"yes: {p.get('pauseReason', '')}" if p.get("paused") else "no"),
        ("catch-up", " ".join(str(v) for v in catch_up.values()) or NONE),
        ("pause after aborts", p.get("pauseAfterAborts", 0) or "never"),
        ("settings", _params(p.get("settings", {}))),
        (
            "lease",
            f"{lease.get('holder') or NONE} (epoch {lease.get('epoch', 0)}, "
            f"expires {lease.get('expireTime', NONE)})"
            if lease
            else NONE,
        ),
        ("run slot", run.get("slot", NONE)),
        ("run state", _run_state(p)),
        ("run started", status.get("startTime", NONE)),
        ("run progress", status.get("progressTime", NONE)),
        ("items left", run.get("itemsLeft", NONE)),
        ("invocations", run.get("invocations", NONE)),
        ("missed slots", run.get("missedSlotCount", 0)),
        ("run stats", _stats(status.get("stats", {}))),
        (
            "run errors",
            f"{status.get('totalErrors', 0)}"
            + "".join(
                f"\n  {e.get('time', '')} {e.get('text', '')}"
                for e in status.get("errors", [])[-5:]
            ),
        ),
        ("reason", run.get("reason") or NONE),
        ("aggregate stats", _stats(p.get("aggregateStats", {}))),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    return table


def _stats(stats: Mapping[str, Any]) -> str:
    return (
        ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(stats.items())
        )
        or NONE
    )


def _params(params: Mapping[str, Any]) -> str:
    values = {**params.get("intParams", {}), **params.get("stringParams", {})}
    return ", ".join(f"{k}={v}" for k, v in sorted(values.items())) or NONE


def work_table(items: Iterable[Mapping[str, Any]], title: str = "work") -> Table:
    table = Table("item", "state", "params", "modified", "done slot", "errors", title=title)
    for w in items:
        details = w.get("details", {})
        table.add_row(
            str(w.get("id", "")),
            str(w.get("state", "")),
            _params(details.get("params", {})),
            str(details.get("modified", NONE)),
            str(details.get("doneSlot", NONE)),
            str(details.get("status", {}).get("totalErrors", 0)),
        )
    return table


def work_item_table(w: Mapping[str, Any]) -> Table:
    return work_table([w], title=str(w.get("uri", "")))


def runs_table(runs: Iterable[Mapping[str, Any]]) -> Table:
    table = Table(
        "slot",
        "state",
        "started",
        "finished",
        "invocations",
        "items left",
        "errors",
        "stats",
        title="runs",
    )
    for record in runs:
        run = record.get("run", {})
        status = run.get("status", {})
        table.add_row(
            str(run.get("slot", NONE)),
            str(status.get("state", NONE)),
            str(status.get("startTime", NONE)),
            str(status.get("finishTime", NONE)),
            str(run.get("invocations", NONE)),
            str(run.get("itemsLeft", NONE)),
            str(status.get("totalErrors", 0)),
            _stats(status.get("stats", {})),
        )
    return table
