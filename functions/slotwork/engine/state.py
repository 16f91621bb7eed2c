"""What the phases of a tick share: its configuration and collaborators, the run
state passed from phase to phase, and the tick's result.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slotwork.buckets import BucketRange
from slotwork.budget import Budget
from slotwork.clock import Clock
from slotwork.context import RunBudget, RunTally
from slotwork.model import Outcome
from slotwork.policies import DEFAULT_ERROR_BUDGET, ErrorBudget, Rate
from slotwork.process import Process
from slotwork.schema import Params, Run, Shard
from slotwork.schema import Process as ProcessState
from slotwork.store import StateStore
from slotwork.triggers import Trigger

# A checkpoint writes at most this many items, so that with the shard, process
# and run documents a commit stays within Firestore's historical 500 writes.
MAX_CHECKPOINT_ITEMS = 400
DEFAULT_CHECKPOINT_SECONDS = 5.0


@dataclass(frozen=True)
class EngineConfig:
    """Tunables of a tick; ``App`` builds it from its arguments."""

    deadline: float
    lease_ttl: float
    min_frequency: timedelta
    checkpoint_items: int = MAX_CHECKPOINT_ITEMS
    checkpoint_seconds: float = DEFAULT_CHECKPOINT_SECONDS


@dataclass(frozen=True)
class TickDeps:
    """What a tick is given: the store, the process, time and randomness."""

    store: StateStore
    definition: Process
    config: EngineConfig
    clock: Clock
    trigger: Trigger
    instance: str
    sleep: Callable[[float], None]
    rng: random.Random

    @property
    def name(self) -> str:
        return self.definition.name


@dataclass(frozen=True)
class TickResult:
    """What one tick did. ``outcome`` is one word of ``slotwork.model.Outcome``."""

    outcome: str
    process: str
    instance: str
    shard: int = 0
    slot: datetime | None = None
    epoch: int = 0
    processed: int = 0
    cleaned: int = 0
    errors: int = 0
    retried: int = 0
    failed: int = 0
    left: int | None = 0  # None: not known (the shard's items were never counted)
    continuation: bool = False
    run_state: str = ""
    run_id: str = ""

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["slot"] = self.slot.isoformat() if self.slot else None
        return data


class Stop(enum.Enum):
    """Why a tick stops dispatching before its items run out."""

    DEADLINE = "deadline"  # the deadline (less the margin) came
    PAUSED = "paused"
    LAPSED = "lapsed"  # a checkpoint returned after the lease it renewed expired
    STREAM_CUT = "stream_cut"  # the pending items stopped arriving
    ABORTED = "aborted"  # the run's error budget is spent (here or in another shard)
    RUN_REPLACED = "run_replaced"  # another shard started the next slot's run
    RETRY_LATER = "retry_later"  # only retries are left, due after the deadline


HANDS_OVER = frozenset({Stop.DEADLINE, Stop.LAPSED, Stop.STREAM_CUT})
"""Stops after which a continuation is asked for: work is left and due now. (Retries
due after the deadline wait for the next scheduled tick: a continuation would
only find them not yet due.)"""


@dataclass
class Fence:
    """What makes this tick's writes its own: its shard, epoch, and the update time
    of the shard document as it last wrote it."""

    shard: int
    epoch: int
    known: datetime
    expiry: datetime


@dataclass
class Policies:
    """The process's policies as last read from its document (refreshed at checkpoints)."""

    settings: Params
    rate: Rate | None = None
    errors: ErrorBudget = DEFAULT_ERROR_BUDGET


@dataclass
class TickCounts:
    """What this tick did (the run's own counts live in its tally)."""

    processed: int = 0
    cleaned: int = 0
    errors: int = 0
    retried: int = 0
    failed: int = 0  # items that ended the slot failed in this tick


@dataclass
class RunState:
    """The run as this tick works its shard of it, handed from phase to phase."""

    slot: datetime
    frequency: timedelta
    outcome: Outcome
    run: Run  # the run's summary: id, sequence, shards, start
    part: Shard  # this shard's document, as it will be written next
    buckets: BucketRange
    fence: Fence
    policies: Policies
    process: ProcessState  # the process document as last read
    deadline: Budget
    tally: RunTally
    budget: RunBudget
    counts: TickCounts = field(default_factory=TickCounts)
    stop: Stop | None = None
    killer: str = ""  # an item that killed the previous holder, to set aside first
    counting: Future[int] | None = None  # the shard's items, still being counted

    @property
    def aborted(self) -> bool:
        return self.stop is Stop.ABORTED or self.budget.exceeded
