"""``slotwork register-file`` and ``slotwork work unregister-file``: a file's lines
sent in batches of 500, with a progress bar.

``register-file`` reads JSON lines ``{"name": ..., "params": {...}}``;
``unregister-file`` reads one name per line, or JSON lines with a ``name``
(so the file given to register-file unregisters the same items). Blank lines
are skipped; a plain name is taken without the spaces around it. Lines are
read a batch at a time, so a file of any size takes bounded memory.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any, TypeVar

from rich.console import Console

from slotwork_cli import batches
from slotwork_cli.batches import BATCH_SIZE, BatchError, Counts, Entry
from slotwork_cli.client import Client

T = TypeVar("T")
Reader = Callable[[int, str], T | None]

REGISTER_WORDS = ("created", "changed", "unchanged")
CHANGE_WORDS = ("changed", "unchanged")


def register_entry(line_no: int, line: str) -> dict[str, Any] | None:
    """A line of register-file: ``{"name": ..., "params": {...}}`` (None when blank)."""
    text = line.strip()
    if not text:
        return None
    try:
        entry = json.loads(text)
    except ValueError as err:
        raise BatchError(f"line {line_no}: not valid JSON: {err}") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
        raise BatchError(f'line {line_no}: expected {{"name": "...", "params": {{...}}}}')
    return entry


def name_entry(line_no: int, line: str) -> str | None:
    """A line of unregister-file: a name, or a JSON object with a ``name`` (None when blank)."""
    text = line.strip()
    if not text:
        return None
    if text.startswith("{"):
        try:
            entry = json.loads(text)
        except ValueError:
            entry = None
        if isinstance(entry, dict):
            if not isinstance(entry.get("name"), str):
                raise BatchError(f'line {line_no}: a JSON line needs a "name" string')
            return str(entry["name"])
    return text


def read_batches(lines: IO[str], size: int, read: Reader[T]) -> Iterator[list[Entry[T]]]:
    """Entries of up to ``size`` lines each, named by their line numbers."""
    batch: list[Entry[T]] = []
    for line_no, line in enumerate(lines, start=1):
        value = read(line_no, line)
        if value is None:
            continue
        batch.append(Entry(f"line {line_no}", value))
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _lines_span(batch: Sequence[Entry[Any]]) -> str:
    first, last = batch[0].where.removeprefix("line "), batch[-1].where.removeprefix("line ")
    return f"lines {first}-{last}"


def _count_entries(path: Path) -> int | None:
    if not path.is_file():
        return None
    with path.open("rb") as f:
        return sum(1 for line in f if line.strip())


def _send_file(
    source: str,
    read: Reader[T],
    call: Callable[[list[T]], list[dict[str, Any]]],
    count: Callable[[list[dict[str, Any]]], None],
    description: str,
    batch_size: int,
    console: Console | None,
) -> None:
    path = Path(source)
    try:
        total = None if source == "-" else _count_entries(path)
        stream: IO[str] = sys.stdin if source == "-" else path.open(encoding="utf-8")
        with stream:
            batches.send(
                read_batches(stream, batch_size, read),
                call,
                count,
                batches.progress_bar(console),
                description,
                total,
                _lines_span,
            )
    except UnicodeDecodeError as err:
        raise BatchError(f"{source} is not UTF-8 text: {err}") from None
    except OSError as err:
        raise BatchError(f"cannot read {source}: {err}") from None


def register_file(
    client: Client,
    process: str,
    source: str,
    counts: Counts,
    batch_size: int = BATCH_SIZE,
    progress_console: Console | None = None,
) -> None:
    """Register every line of ``source`` ("-" for stdin), adding to ``counts`` as
    batches succeed; raises BatchError or ApiError."""
    _send_file(
        source,
        register_entry,
        lambda entries: client.batch_register(process, entries),
        lambda results: batches.registered(results, counts),
        f"registering in {process}",
        batch_size,
        progress_console,
    )


def unregister_file(
    client: Client,
    process: str,
    source: str,
    counts: Counts,
    batch_size: int = BATCH_SIZE,
    progress_console: Console | None = None,
) -> None:
    """Unregister the item named on every line of ``source`` ("-" for stdin); an
    unknown name counts as unchanged. Raises BatchError or ApiError."""
    _send_file(
        source,
        name_entry,
        lambda names: client.batch_unregister(process, names),
        lambda results: batches.changed(results, counts),
        f"unregistering in {process}",
        batch_size,
        progress_console,
    )
