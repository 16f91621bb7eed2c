"""The processes of this deployment: ``PROCESSES`` (``SLOTWORK_PROCESSES`` names this module).

``greeter`` is an example to replace with your own. Register one item per name
to greet, through the API or the CLI (``make run`` prints the API's URL):

    slotwork --url http://127.0.0.1:PORT work register greeter ada

Every slot, each registered name is greeted once: the ``greeted`` stat of the
item and of its run counts it.
"""

from __future__ import annotations

from datetime import timedelta

import slotwork


class Greeter:
    """Greets the item's name. Where this counts a stat, a real worker calls an API or
    updates a record for its item; either way idempotent, as a worker must be: a slot
    redone after a crash may call it twice for one item."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        ctx.add_stat("greeted")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise slotwork.Gone()  # the name was unregistered: nothing was set up, nothing to undo


PROCESSES: list[slotwork.Process] = [
    # 30 s slots show several runs a minute on the local stack; a deployment raises
    # the frequency to its minimum (SLOTWORK_MIN_FREQUENCY_SECONDS, 15 minutes by default).
    slotwork.Process("greeter", Greeter(), frequency=timedelta(seconds=30)),
]
