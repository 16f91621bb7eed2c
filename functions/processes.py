"""The processes of this deployment (``SLOTWORK_PROCESSES`` names this module by default).

``ttl-sweeper`` deletes documents older than a maximum age from the
collections registered as its work items (see ``ttl_sweeper.py``). Register
one item per collection, e.g. through the API:

    PUT /processes/ttl-sweeper/work/sessions
    {"params": {"stringParams": {"collection": "sessions"},
                "intParams": {"max_age_seconds": "86400"}}}
"""

from __future__ import annotations

from datetime import timedelta

import slotwork
from ttl_sweeper import TtlSweeper

PROCESSES: list[slotwork.Process] = [
    slotwork.Process("ttl-sweeper", TtlSweeper(), frequency=timedelta(hours=1)),
]
