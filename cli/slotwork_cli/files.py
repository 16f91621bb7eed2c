"""``slotwork register-file``: JSON lines sent in batches, with a progress bar.

Each line is ``{"name": ..., "params": {...}}`` (blank lines are skipped).
Lines are read a batch at a time, so a file of any size takes bounded memory.
The API validates a batch as a whole before writing any of it: at the first
refused batch the command stops, naming the line at fault and the batch's
lines (earlier batches stay registered; registering again is idempotent).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from slotwork_cli.client import ApiError, Client

BATCH_SIZE = 500  # the API's limit per batchRegister call
_FIELD_INDEX = re.compile(r"^items\[(\d+)\]")


class FileError(Exception):
    """The file cannot be registered; the message names the line."""


@dataclass
class Counts:
    """What registering did so far."""

    created: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.changed + self.unchanged

    def add(self, results: list[dict[str, Any]]) -> None:
        for result in results:
            if result.get("created"):
                self.created += 1
            elif result.get("changed"):
                self.changed += 1
            else:
                self.unchanged += 1


def _entry(line_no: int, line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text:
        return None
    try:
        entry = json.loads(text)
    except ValueError as err:
        raise FileError(f"line {line_no}: not valid JSON: {err}") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise FileError(f'line {line_no}: expected {{"name": "...", "params": {{...}}}}')
    return entry


def batches(lines: IO[str], size: int) -> Iterator[list[tuple[int, dict[str, Any]]]]:
    """(line number, entry) lists of up to ``size`` entries."""
    batch: list[tuple[int, dict[str, Any]]] = []
    for line_no, line in enumerate(lines, start=1):
        entry = _entry(line_no, line)
        if entry is None:
            continue
        batch.append((line_no, entry))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _count_entries(path: Path) -> int | None:
    if not path.is_file():
        return None
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _refused(err: ApiError, batch: list[tuple[int, dict[str, Any]]]) -> FileError:
    span = f"lines {batch[0][0]}-{batch[-1][0]}"
    for field in err.fields:
        found = _FIELD_INDEX.match(field)
        if found and int(found.group(1)) < len(batch):
            line = batch[int(found.group(1))][0]
            return FileError(f"line {line} (batch of {span}, nothing of it written): {err}")
    return FileError(f"the batch of {span} was refused, nothing of it written: {err}")


def register_file(
    client: Client,
    process: str,
    source: str,
    counts: Counts,
    batch_size: int = BATCH_SIZE,
    progress_console: Console | None = None,
) -> None:
    """Register every line of ``source`` ("-" for stdin), adding to ``counts`` as
    batches succeed; raises FileError or ApiError."""
    path = Path(source)
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} items/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    progress = Progress(*columns, console=progress_console, disable=progress_console is None)
    try:
        total = None if source == "-" else _count_entries(path)
        stream: IO[str] = sys.stdin if source == "-" else path.open(encoding="utf-8")
        with stream, progress:
            task = progress.add_task(f"registering in {process}", total=total, rate="-")
            for batch in batches(stream, batch_size):
                try:
                    results = client.batch_register(process, [entry for _, entry in batch])
                except ApiError as err:
                    if 400 <= err.status < 500:
                        raise _refused(err, batch) from err
                    raise
                counts.add(results)
                elapsed = progress.tasks[0].elapsed or 0.0
                rate = f"{counts.total / elapsed:,.0f}" if elapsed else "-"
                progress.update(task, advance=len(batch), rate=rate)
    except UnicodeDecodeError as err:
        raise FileError(f"{source} is not UTF-8 text: {err}") from None
    except OSError as err:
        raise FileError(f"cannot read {source}: {err}") from None
