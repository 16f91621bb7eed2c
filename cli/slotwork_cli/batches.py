"""Sending many items in batches of the API's size, with a progress bar.

Each batch call is validated as a whole by the API before it writes: at the
first refused batch the sender stops, naming the entry at fault (by its line,
for a file) and the batch; earlier batches stay written, and sending again is
idempotent.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

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

from slotwork_cli.client import ApiError

BATCH_SIZE = 500  # the API's limit per batchRegister, batchUnregister and batchRelease call
_FIELD_INDEX = re.compile(r"^(?:items|names)\[(\d+)\]")

T = TypeVar("T")


class BatchError(Exception):
    """A batch was refused or cannot be read; the message names where."""


@dataclass
class Counts:
    """What the batches did so far: each result counted under one word."""

    words: tuple[str, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def add(self, word: str, n: int = 1) -> None:
        self.counts[word] = self.counts.get(word, 0) + n

    def as_dict(self) -> dict[str, int]:
        return {word: self.counts.get(word, 0) for word in self.words}

    def summary(self) -> str:
        # Plain numbers: scripts written against this line before --json existed grep them.
        return ", ".join(f"{n} {word}" for word, n in self.as_dict().items())


def registered(results: Iterable[dict[str, Any]], counts: Counts) -> None:
    """Count batchRegister results as created, changed or unchanged."""
    for result in results:
        if result.get("created"):
            counts.add("created")
        elif result.get("changed"):
            counts.add("changed")
        else:
            counts.add("unchanged")


def changed(results: Iterable[dict[str, Any]], counts: Counts, word: str = "changed") -> None:
    """Count batchUnregister or batchRelease results as ``word`` (changed) or unchanged."""
    for result in results:
        counts.add(word if result.get("changed") else "unchanged")


def progress_bar(console: Console | None) -> Progress:
    """The bar of every bulk command: count, percentage, items/s, elapsed, left.
    Without a console it draws nothing."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]} items/s"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=console, disable=console is None)


@dataclass(frozen=True)
class Entry(Generic[T]):
    """One entry to send and where it came from (``line 12``, ``item 'a'``)."""

    where: str
    value: T


def refused(err: ApiError, batch: Sequence[Entry[Any]], span: str) -> BatchError:
    """The error of a refused batch, naming the entry the API's field violation points at."""
    for name in err.fields:
        found = _FIELD_INDEX.match(name)
        if found and int(found.group(1)) < len(batch):
            entry = batch[int(found.group(1))]
            return BatchError(f"{entry.where} (batch of {span}, nothing of it written): {err}")
    return BatchError(f"the batch of {span} was refused, nothing of it written: {err}")


def send(
    batches: Iterable[Sequence[Entry[T]]],
    call: Callable[[list[T]], list[dict[str, Any]]],
    count: Callable[[list[dict[str, Any]]], None],
    progress: Progress,
    description: str,
    total: int | None,
    span: Callable[[Sequence[Entry[T]]], str],
) -> None:
    """``call`` each batch, counting its results and advancing the bar; a batch the
    API refuses (4xx) raises BatchError naming it, other errors raise ApiError."""
    with progress:
        task = progress.add_task(description, total=total, rate="-")
        done = 0
        for batch in batches:
            try:
                results = call([entry.value for entry in batch])
            except ApiError as err:
                if 400 <= err.status < 500:
                    raise refused(err, batch, span(batch)) from err
                raise
            count(results)
            done += len(batch)
            elapsed = progress.tasks[0].elapsed or 0.0
            rate = f"{done / elapsed:,.0f}" if elapsed else "-"
            progress.update(task, advance=len(batch), rate=rate)
