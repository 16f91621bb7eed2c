"""The engine: one tick of one shard of a process (``tick``), in phases:
``claim`` (the lease), ``work`` (dispatching items, ``dispatch``; recording them,
``outcomes``), ``checkpoint`` (the fenced commit), ``endings`` (finish or hand
over), ``runs`` (run records). ``state`` holds what they share.
"""

from slotwork.engine.claim import effective_frequency
from slotwork.engine.runs import RUN_ID_FORMAT, run_id, slot_of_run_id
from slotwork.engine.state import (
    MAX_CHECKPOINT_ITEMS,
    EngineConfig,
    TickDeps,
    TickResult,
)
from slotwork.engine.tick import tick

__all__ = [
    "MAX_CHECKPOINT_ITEMS",
    "RUN_ID_FORMAT",
    "EngineConfig",
    "TickDeps",
    "TickResult",
    "effective_frequency",
    "run_id",
    "slot_of_run_id",
    "tick",
]
