"""What a user defines: a ``Process`` and its ``Worker``."""

from __future__ import annotations

import enum
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from slotwork.buckets import MAX_SHARDS
from slotwork.params import ParamsLike, to_params, validate_name
from slotwork.policies import ErrorBudget, Rate, RateLike, Retry, to_rate
from slotwork.schema.slotwork_pb2 import Params, Status

# Items in flight in one tick: beyond this, threads cost more than they hide.
MAX_CONCURRENCY = 1000
# Slots in a row an item may fail before it is set aside: one failed slot is often
# the downstream API's doing, three are the item's.
DEFAULT_QUARANTINE_AFTER = 3


class ErrorAction(enum.Enum):
    """What ``ctx.add_error`` tells the worker to do next."""

    CONTINUE = "continue"
    ABORT = "abort"


CONTINUE = ErrorAction.CONTINUE
ABORT = ErrorAction.ABORT


class Item:
    """One work item as a worker sees it: ``name``, ``params``, ``status``.

    ``params`` is a copy: mutating it changes nothing stored. ``status`` (the
    item's status from its previous processing) is decoded on first use.
    """

    __slots__ = ("_status", "_status_doc", "name", "params")

    def __init__(
        self,
        name: str,
        params: Params,
        status: Status | None = None,
        status_doc: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.params = params
        self._status = status
        self._status_doc = status_doc

    @property
    def status(self) -> Status:
        if self._status is None:
            from slotwork.schema.documents import from_doc

            self._status = from_doc(Status, self._status_doc)
        return self._status

    def __repr__(self) -> str:
        return f"Item(name={self.name!r})"


class Context(Protocol):
    """What a worker may use while it processes or cleans one item."""

    @property
    def process(self) -> str: ...

    @property
    def settings(self) -> Params: ...

    @property
    def slot(self) -> datetime: ...

    def now(self) -> datetime:
        """The app's clock (aware UTC): use it instead of the wall clock."""
        ...

    def remaining(self) -> float:
        """Seconds left before the tick's deadline."""
        ...

    def add_stat(self, name: str, value: float = 1) -> None:
        """Add to the item's stat ``name`` and to the run's stat ``work.<name>``."""
        ...

    def add_run_stat(self, name: str, value: float = 1) -> None:
        """Add to the run's stat ``name``."""
        ...

    def add_error(self, err: BaseException | str) -> ErrorAction:
        """Record an error on the item and the run; ABORT when a limit is reached."""
        ...


@runtime_checkable
class Worker(Protocol):
    """Does the work of a process, one item per call.

    Raising from ``process`` or ``cleanup`` records an error for that item
    (``Exception`` only: a ``BaseException`` such as ``SystemExit`` ends the
    invocation). Raising ``slotwork.Gone`` from ``cleanup`` means "already
    gone" and counts as cleaned; ``slotwork.Permanent`` says a failure is final
    (no retry in this slot); ``slotwork.RetryAfter(seconds)`` asks for the next
    attempt after that delay. Both methods may be ``async def``: they then run on
    one event loop with the same bound on items in flight.

    Workers must be idempotent: an item may be processed again in a slot when
    the instance holding it died before checkpointing. With ``concurrency`` > 1
    they must also be thread-safe: up to that many calls run at once, each with
    its own ``ctx`` and ``item``.
    """

    def process(self, ctx: Context, item: Item) -> None: ...

    def cleanup(self, ctx: Context, item: Item) -> None: ...


@dataclass(frozen=True)
class Process:
    """A named background process: ``worker`` runs every active item once per slot.

    ``frequency`` is the slot length used until one is stored through
    ``App.update_settings`` (or the API); ``settings`` are the default Params.
    ``concurrency``: items in flight at once in one tick. ``shards``: parallel
    leases per slot, each worked by its own invocations (one Cloud Scheduler job
    each). ``rate_limit``: items per second for the whole process, shared by its
    shards (a number or a ``Rate``; the API may override it). ``retry``: retries
    of a failed item within the slot (None: none). ``error_budget``: errors an
    item and a run tolerate (the API may override it). ``quarantine_after``: an
    item failing this many slots in a row is quarantined (0: never).
    """

    name: str
    worker: Worker
    frequency: timedelta
    settings: ParamsLike = field(default=None)
    concurrency: int = 1
    shards: int = 1
    rate_limit: RateLike = None
    retry: Retry | None = None
    error_budget: ErrorBudget | None = None
    quarantine_after: int = DEFAULT_QUARANTINE_AFTER

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", validate_name(self.name, "process name"))
        if self.frequency <= timedelta(0):
            raise ValueError(f"process {self.name!r}: frequency must be positive")
        if not isinstance(self.worker, Worker):
            raise TypeError(f"process {self.name!r}: worker needs process() and cleanup()")
        for what, value, high in (
            ("concurrency", self.concurrency, MAX_CONCURRENCY),
            ("shards", self.shards, MAX_SHARDS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                raise ValueError(f"process {self.name!r}: {what} must be within 1..{high}")
        if not 0 <= self.quarantine_after <= 1000:
            raise ValueError(f"process {self.name!r}: quarantine_after must be within 0..1000")
        object.__setattr__(self, "rate_limit", to_rate(self.rate_limit))
        if self.retry is not None and not isinstance(self.retry, Retry):
            raise TypeError(f"process {self.name!r}: retry must be a slotwork.Retry")
        if self.error_budget is not None and not isinstance(self.error_budget, ErrorBudget):
            raise TypeError(f"process {self.name!r}: error_budget must be a slotwork.ErrorBudget")
        asynchronous = {inspect.iscoroutinefunction(self.worker.process)}
        asynchronous.add(inspect.iscoroutinefunction(self.worker.cleanup))
        if len(asynchronous) != 1:
            raise TypeError(
                f"process {self.name!r}: process() and cleanup() must both be async or neither"
            )

    @property
    def asynchronous(self) -> bool:
        """Whether the worker's methods are ``async def``."""
        return inspect.iscoroutinefunction(self.worker.process)

    @property
    def rate(self) -> Rate | None:
        """The code's rate limit (the API may store another)."""
        return self.rate_limit if isinstance(self.rate_limit, Rate) else None

    @property
    def default_settings(self) -> Params:
        """The default settings as a validated Params message."""
        return to_params(self.settings)
