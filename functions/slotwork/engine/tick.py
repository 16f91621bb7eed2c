"""One tick of one shard of one process: claim, work, end. Orchestration only;
each phase lives in its own module and the run's state travels between them
as one ``RunState``.
"""

from __future__ import annotations

import logging

from slotwork.engine import endings
from slotwork.engine.checkpoint import Checkpointer
from slotwork.engine.claim import claim
from slotwork.engine.state import TickDeps, TickResult
from slotwork.engine.work import Work
from slotwork.errors import LeaseLost
from slotwork.logs import event
from slotwork.model import Outcome


def tick(deps: TickDeps, shard: int | None = None) -> TickResult:
    """Claim shard ``shard`` (None: shard 0, or any claimable shard of a sharded
    process), work its pending items until done or the deadline, and end."""
    claimed = claim(deps, shard)
    if isinstance(claimed, TickResult):
        return _logged(claimed)
    state = claimed
    checkpointer = Checkpointer(deps, state)
    try:
        if Work(deps, state, checkpointer).run():
            result = endings.finish(deps, state, checkpointer)
        else:
            result = endings.hand_over(deps, state, checkpointer)
    except LeaseLost as err:
        event(
            logging.WARNING,
            "lease lost to another instance: stopping without writing",
            process=deps.name,
            shard=state.fence.shard,
            slot=state.slot,
            instance=deps.instance,
            epoch=state.fence.epoch,
            detail=str(err),
        )
        result = endings.result(deps, state, Outcome.CONFLICT.value)
    return _logged(result)


def _logged(result: TickResult) -> TickResult:
    """The one line per tick that metrics count (ticks by outcome)."""
    event(
        logging.INFO,
        f"tick {result.outcome}",
        event="tick",
        process=result.process,
        shard=result.shard,
        slot=result.slot,
        outcome=result.outcome,
        instance=result.instance,
        processed=result.processed,
        cleaned=result.cleaned,
        errors=result.errors,
        retried=result.retried,
        failed=result.failed,
        left=result.left,
        continuation=result.continuation,
    )
    return result
