"""What a user defines: a ``Process`` and its ``Worker``."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable

from slotwork.params import ParamsLike, to_params, validate_name
from slotwork.schema.slotwork_pb2 import Params, Status


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
    """Does the work of a process, one item at a time.

    Raising from ``process`` or ``cleanup`` records an error for that item.
    Raising ``slotwork.Gone`` from ``cleanup`` means "already gone" and
    counts as cleaned. Workers must be idempotent: an item may be processed
    again in a slot when the instance holding it died before checkpointing.
    """

    def process(self, ctx: Context, item: Item) -> None: ...

    def cleanup(self, ctx: Context, item: Item) -> None: ...


@dataclass(frozen=True)
class Process:
    """A named background process: ``worker`` runs every active item once per slot.

    ``frequency`` is the slot length used until one is stored through
    ``App.update_settings`` (or the API); ``settings`` are the default Params.
    """

    name: str
    worker: Worker
    frequency: timedelta
    settings: ParamsLike = field(default=None)

    def __post_init__(self) -> None:
        validate_name(self.name, "process name")
        if self.frequency <= timedelta(0):
            raise ValueError(f"process {self.name!r}: frequency must be positive")
        if not isinstance(self.worker, Worker):
            raise TypeError(f"process {self.name!r}: worker needs process() and cleanup()")

    @property
    def default_settings(self) -> Params:
        """The default settings as a validated Params message."""
        return to_params(self.settings)
