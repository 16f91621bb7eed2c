"""``slotwork work release PROCESS --all``: every quarantined item made active again,
a page of the list at a time, released in batches with a progress bar."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from rich.console import Console

from slotwork_cli import batches, values
from slotwork_cli.batches import BATCH_SIZE, Counts, Entry
from slotwork_cli.client import Client

QUARANTINED = "quarantined"
RELEASE_WORDS = ("released", "unchanged")


def quarantined_pages(client: Client, process: str, size: int) -> Iterator[list[Entry[str]]]:
    """The names of the quarantined items, a page of ``size`` at a time.

    The page token is the last name of a page, so releasing the items of one
    page (which leaves the quarantined list) does not skip any of the next.
    """
    token = ""
    while True:
        page = client.list_work(process, size, token, QUARANTINED)
        names = [str(w["id"]) for w in page["items"]]
        if names:
            yield [Entry(f"item {name!r}", name) for name in names]
        token = page["nextPageToken"]
        if not token:
            return


def _names_span(batch: Sequence[Entry[str]]) -> str:
    return f"{batch[0].where} to {batch[-1].where.removeprefix('item ')}"


def release_all(
    client: Client,
    process: str,
    counts: Counts,
    batch_size: int = BATCH_SIZE,
    progress_console: Console | None = None,
) -> None:
    """Release every quarantined item of ``process``, adding to ``counts`` as batches
    succeed; raises BatchError (a refused batch) or ApiError."""
    total = values.count(client.get_process(process).get("quarantinedItems"))
    batches.send(
        quarantined_pages(client, process, batch_size),
        lambda names: client.batch_release(process, names),
        lambda results: batches.changed(results, counts, "released"),
        batches.progress_bar(progress_console),
        f"releasing in {process}",
        total or None,
        _names_span,
    )
