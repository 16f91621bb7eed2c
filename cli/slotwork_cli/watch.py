"""``slotwork watch [PROCESS]``: a live view of the API, refreshed every few seconds.

One line per process (its current run's state, a progress bar, done/total,
rate, ETA) and, for a sharded run, one line per shard; a warning under the
lines when a run will not finish in its slot. On a terminal the view redraws
in place until Ctrl-C; elsewhere (a pipe, a log) each refresh is printed in
turn. ``--json`` prints the API's answer of each refresh on one line.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rich.console import Group, RenderableType
from rich.live import Live
from rich.text import Text

from slotwork_cli import fit, values
from slotwork_cli.client import ApiError
from slotwork_cli.estimate import FINAL_STATES, Estimate, is_final
from slotwork_cli.output import Output
from slotwork_cli.views import lease_text, notes_of

MIN_BAR = 10
MAX_BAR = 40
SHARD_INDENT = "  "
BAR_HEADER = ""  # the bar's column has no header: the progress column names it


@dataclass(frozen=True)
class Line:
    """One line of the view: a process's run, or one shard's part of it."""

    label: str
    state: str
    estimate: Estimate | None  # None: nothing to measure (no run, a shard not started)
    rate: str
    eta: str
    notes: str
    late: bool


def _shard_lines(p: Mapping[str, Any], now: datetime, final: bool) -> list[Line]:
    run = p.get("run", {})
    count = values.count(run.get("shards"))
    if count <= 1:
        return []
    by_index = {values.count(s.get("index")): s for s in p.get("shards", [])}
    lines = []
    for index in range(count):
        shard = by_index.get(index, {})
        label = f"{SHARD_INDENT}shard {index}"
        if not shard or shard.get("runId") != run.get("id"):
            lines.append(Line(label, "waiting", None, values.NONE, values.NONE, "", False))
            continue
        part = Estimate.of(shard.get("estimate"))
        part_final = final or values.run_state(shard) in FINAL_STATES
        late = part.warning(now, part_final) is not None
        lines.append(
            Line(
                label,
                values.run_state(shard),
                part,
                values.rate(part.rate) if not part_final else values.NONE,
                part.eta_text(now, part_final) + ("!" if late else ""),
                lease_text(shard.get("lease", {}), now, at_time=False),
                late,
            )
        )
    return lines


def lines_of(p: Mapping[str, Any], now: datetime) -> tuple[list[Line], list[str]]:
    """A process's lines (its run, then its shards) and its warnings."""
    name = str(p.get("processName", ""))
    run = p.get("run", {})
    state = values.run_state(run)
    if state == values.NONE:
        idle = Line(name, "no run yet", None, values.NONE, values.NONE, notes_of(p), False)
        return [idle], []
    final = is_final(run)
    estimate = Estimate.of(run.get("estimate"))
    warning = estimate.warning(now, final)
    head = Line(
        name,
        state,
        estimate,
        values.rate(estimate.rate) if not final else values.NONE,
        estimate.eta_text(now, final) + ("!" if warning else ""),
        notes_of(p),
        warning is not None,
    )
    warnings = [f"! {name} {warning}"] if warning else []
    return [head, *_shard_lines(p, now, final)], warnings


def _columns(lines: Sequence[Line], bar: int) -> list[fit.Column]:
    def progress(line: Line) -> str:
        e = line.estimate
        return f"{e.done:,}/{e.total:,}" if e else values.NONE

    def bar_of(line: Line) -> str:
        e = line.estimate
        return values.bar(e.done, e.total, bar) if e is not None and e.total else " " * bar

    columns = [
        fit.Column("process", [line.label for line in lines]),
        fit.Column("state", [line.state for line in lines]),
        fit.Column("progress", [progress(line) for line in lines], "right"),
        fit.Column("", [bar_of(line) for line in lines], keep=60, style="green"),
        fit.Column("rate", [line.rate for line in lines], "right", keep=20),
        fit.Column(
            "eta",
            [line.eta for line in lines],
            "right",
            keep=40,
            styles=["red" if line.late else None for line in lines],
        ),
    ]
    if any(line.notes for line in lines):
        columns.append(fit.Column("notes", [line.notes for line in lines], wrap=True, keep=50))
    return columns


def _table(lines: Sequence[Line], width: int) -> RenderableType:
    """The lines as a table at most ``width`` wide; its bar takes the room left over."""
    found = fit.layout(_columns(lines, MIN_BAR), width)
    if found is None:
        return fit.stacked(_columns(lines, MIN_BAR))
    kept, chosen = found
    headers = [c.header for c in kept]
    if BAR_HEADER in headers:
        spare = width - sum(chosen) - fit.GAP * (len(chosen) - 1)
        bar = min(MAX_BAR, MIN_BAR + max(spare, 0))
        kept = [c for c in _columns(lines, bar) if c.header in headers]
        chosen = [bar if c.header == BAR_HEADER else w for c, w in zip(kept, chosen, strict=True)]
    return fit.table(kept, chosen)


def frame(
    processes: Sequence[Mapping[str, Any]], width: int, now: datetime, heading: str
) -> RenderableType:
    """One refresh of the view."""
    lines: list[Line] = []
    warnings: list[str] = []
    for p in processes:
        found, warned = lines_of(p, now)
        lines += found
        warnings += warned
    parts: list[RenderableType] = [Text(heading, style="dim", overflow="fold")]
    parts.append(_table(lines, width) if lines else Text("no processes are defined"))
    parts += [Text(w, style="red") for w in warnings]
    return Group(*parts)


def processes_of(answer: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The processes of a ``GET /processes`` answer, or the one of ``GET /processes/{p}``."""
    if "processes" in answer:
        return list(answer["processes"])
    return [answer]


def watch(
    fetch: Callable[[], Mapping[str, Any]],
    out: Output,
    source: str,
    interval: float,
    count: int | None,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Refresh every ``interval`` seconds, ``count`` times (None: until Ctrl-C).

    A refusal of the API (4xx: an unknown process, a missing permission) stops
    at once with 1: it will not change by waiting. An unreachable or failing API
    (5xx) is shown and tried again at the next refresh; the exit status is 1
    when the last refresh failed.
    """
    live = (
        Live(console=out.console, auto_refresh=False, transient=False)
        if out.console.is_terminal and not out.as_json
        else None
    )
    every = f"every {interval:g}s" + ("" if count else ", Ctrl-C stops")
    refreshes = 0
    ok = True
    try:
        if live is not None:
            live.start()
        while True:
            refreshes += 1
            now = out.clock()
            heading = f"{source}  {values.when(now)}  {every}"
            try:
                answer = fetch()
                ok = True
            except ApiError as err:
                if 400 <= err.status < 500:
                    raise
                ok = False
                out.error(str(err))
                shown: RenderableType = Text(f"{heading}\nerror: {err}", style="red")
            else:
                if out.as_json:
                    out.json_line(answer)
                shown = frame(processes_of(answer), out.width, now, heading)
            if live is not None:
                live.update(shown, refresh=True)
            elif not out.as_json:
                if refreshes > 1:
                    out.print(Text(""))
                out.print(shown)
            if count is not None and refreshes >= count:
                return 0 if ok else 1
            sleep(interval)
    except KeyboardInterrupt:
        return 0
    finally:
        if live is not None:
            live.stop()
