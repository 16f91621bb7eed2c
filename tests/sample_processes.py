"""A processes module for tests that start the real functions-framework server."""

from __future__ import annotations

from datetime import timedelta

import slotwork

LATER = "later"  # the item of ``sharded`` that asks for its retry in an hour
RETRY_AFTER_SECONDS = 3600


class Noop:
    """Does nothing, successfully."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        ctx.add_stat("seen")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


class RetriesLater(Noop):
    """Succeeds, except on the item named ``LATER``: its retry is due in an hour, so
    a run of every item stays in progress, with that one item left."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        ctx.add_stat("seen")
        if item.name == LATER:
            raise slotwork.RetryAfter(RETRY_AFTER_SECONDS)


class AlwaysFails(Noop):
    """Fails every item (with ``quarantine_after=1``, each is quarantined at once)."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise RuntimeError(f"always fails: {item.name}")


PROCESSES = [
    slotwork.Process("noop", Noop(), frequency=timedelta(hours=1)),
    slotwork.Process(
        "sharded",
        RetriesLater(),
        frequency=timedelta(hours=1),
        shards=2,
        retry=slotwork.Retry(attempts=3),
    ),
    slotwork.Process("failing", AlwaysFails(), frequency=timedelta(hours=1), quarantine_after=1),
]
