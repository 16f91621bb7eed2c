"""A processes module for tests that start the real functions-framework server."""

from __future__ import annotations

from datetime import timedelta

import slotwork


class Noop:
    """Does nothing, successfully."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        ctx.add_stat("seen")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


PROCESSES = [slotwork.Process("noop", Noop(), frequency=timedelta(hours=1))]
