"""The processes of this deployment: ``PROCESSES`` (``SLOTWORK_PROCESSES`` names this module).

``greeter`` is an example to replace with your own. Register one item per name
to greet, through the API or the CLI (``make run`` prints the API's URL):

    slotwork --url http://127.0.0.1:PORT work register greeter ada --string greeting=hi

Every slot, each registered name is greeted once: a log line and the
``greeted`` stat on the item and its run.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import slotwork

LOG = logging.getLogger(__name__)


class Greeter:
    """Greets the item's name. Idempotent, as a worker must be: a slot redone after
    a crash may call it twice for one item."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        greeting = item.params.string_params.get("greeting", "hello")
        LOG.info("%s, %s", greeting, item.name)
        ctx.add_stat("greeted")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise slotwork.Gone()  # the name was unregistered: nothing was set up, nothing to undo


PROCESSES: list[slotwork.Process] = [
    # 30 s slots show several runs a minute on the local stack; a deployment raises
    # the frequency to its minimum (SLOTWORK_MIN_FREQUENCY_SECONDS, 15 minutes by default).
    slotwork.Process("greeter", Greeter(), frequency=timedelta(seconds=30)),
]
