"""``App``: the processes of one deployment over one Firestore collection.

The functions, the API and tests all go through it: ``tick`` runs the engine;
the rest reads and steers the stored state.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from google.cloud import firestore

from slotwork import rules
from slotwork.clock import Clock, system_clock
from slotwork.config import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MIN_FREQUENCY_SECONDS,
)
from slotwork.engine import RUN_ID_FORMAT, EngineConfig, Tick, TickResult, effective_frequency
from slotwork.errors import InvalidArgument, NotFound
from slotwork.params import ParamsLike, params_to_doc, shorten, to_params, validate_name
from slotwork.process import Process
from slotwork.registry import Registration, Registry, settings_changed
from slotwork.schema import CatchUp, Params, Work, WorkResponse
from slotwork.schema import Process as ProcessState
from slotwork.schema.documents import from_doc
from slotwork.store import FirestoreStore, ItemSnapshot
from slotwork.triggers import NoTrigger, Trigger

Seconds = float | int | timedelta | None

# WorkResponse.state by list, and by status for active items (as the seed's LRO states).
_ACTIVE_STATES = {
    "NEW": "queued",
    "ACTIVE": "active",
    "COMPLETED": "completed",
    "INCOMPLETE": "incomplete",
    "ABORTED": "aborted",
}
CATCH_UP_POLICIES = {"skip": CatchUp.SKIP, "run_late": CatchUp.RUN_LATE}


def _seconds(value: Seconds, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def work_state(data: dict[str, Any]) -> str:
    """The WorkResponse state word of a stored item."""
    list_name = data.get("list")
    if list_name == "CLEANUP":
        return "cleanup"
    if list_name == "DROPPED":
        return "dropped"
    status = data.get("status") or {}
    return _ACTIVE_STATES.get(str(status.get("state")), "unspecified")


@dataclass(frozen=True)
class WorkPage:
    """A page of work items and the token of the next page ("" at the end)."""

    items: list[WorkResponse]
    next_page_token: str


class App:
    """The processes of a deployment and the operations on their state."""

    def __init__(
        self,
        processes: Iterable[Process],
        client: firestore.Client | None = None,
        collection: str = "slotwork",
        clock: Clock | None = None,
        deadline: Seconds = None,
        lease_ttl: Seconds = None,
        *,
        min_frequency: Seconds = None,
        trigger: Trigger | None = None,
        ids: Callable[[], str] | None = None,
        checkpoint_items: int | None = None,
        checkpoint_seconds: float | None = None,
        base_uri: str = "",
    ) -> None:
        self.processes: dict[str, Process] = {}
        for process in processes:
            if process.name in self.processes:
                raise ValueError(f"process {process.name!r} is defined twice")
            self.processes[process.name] = process
        validate_name(collection, "collection")
        self.client = client if client is not None else firestore.Client()
        self.store = FirestoreStore(self.client, collection)
        self.clock: Clock = clock or system_clock
        self.trigger: Trigger = trigger or NoTrigger()
        self.ids = ids or (lambda: uuid.uuid4().hex[:16])
        self.base_uri = base_uri
        config = EngineConfig(
            deadline=_seconds(deadline, DEFAULT_DEADLINE_SECONDS),
            lease_ttl=_seconds(lease_ttl, DEFAULT_LEASE_SECONDS),
            min_frequency=timedelta(seconds=_seconds(min_frequency, DEFAULT_MIN_FREQUENCY_SECONDS)),
        )
        if checkpoint_items is not None:
            if not 1 <= checkpoint_items <= config.checkpoint_items:
                raise ValueError(f"checkpoint_items must be within 1..{config.checkpoint_items}")
            config = EngineConfig(**{**config.__dict__, "checkpoint_items": checkpoint_items})
        if checkpoint_seconds is not None:
            if checkpoint_seconds <= 0:
                raise ValueError("checkpoint_seconds must be positive")
            config = EngineConfig(**{**config.__dict__, "checkpoint_seconds": checkpoint_seconds})
        if config.lease_ttl <= config.checkpoint_seconds:
            raise ValueError("lease_ttl must be longer than the checkpoint interval")
        self.config = config
        self.registry = Registry(self.store, self.clock)

    # -- ticks ---------------------------------------------------------------------
    def definition(self, process: str) -> Process:
        """The code's definition of ``process``, or NotFound."""
        try:
            return self.processes[process]
        except (KeyError, TypeError):
            raise NotFound(f"process {shorten(str(process))} not found") from None

    def tick(self, process: str) -> TickResult:
        """One tick of ``process``: claim its slot if due, work, checkpoint, hand over."""
        definition = self.definition(process)
        return Tick(self.store, definition, self.config, self.clock, self.trigger, self.ids()).run()

    # -- work items ------------------------------------------------------------------
    def register(self, process: str, item: str, params: ParamsLike = None) -> Registration:
        """Register (or re-register) one work item; idempotent for equal params."""
        return self.register_many(process, [(item, params)])[0]

    def register_many(
        self, process: str, items: Sequence[tuple[str, ParamsLike]]
    ) -> list[Registration]:
        """Register many items; all are validated before anything is written."""
        self.definition(process)
        checked = [(validate_name(name, "item name"), to_params(p)) for name, p in items]
        names = [name for name, _ in checked]
        if len(set(names)) != len(names):
            raise InvalidArgument("an item name appears twice in one request")
        return self.registry.register(process, checked)

    def unregister(self, process: str, item: str) -> bool:
        """Send an item to cleanup; False when it was already waiting for cleanup."""
        self.definition(process)
        return self.registry.unregister(process, validate_name(item, "item name"))

    def _response(self, process: str, snap: ItemSnapshot) -> WorkResponse:
        work = from_doc(Work, snap.data)
        return WorkResponse(
            id=snap.name,
            state=work_state(snap.data),
            details=work,
            uri=f"{self.base_uri}/processes/{process}/work/{snap.name}",
        )

    def get_work(self, process: str, item: str) -> WorkResponse:
        """The WorkResponse of one item (NotFound for an unknown item)."""
        self.definition(process)
        snap = self.store.get_items(process, [validate_name(item, "item name")]).get(item)
        if snap is None:
            raise NotFound(f"work item {item!r} of process {process!r} not found")
        return self._response(process, snap)

    def list_work(
        self,
        process: str,
        page_size: int = 100,
        page_token: str = "",
        state: str | None = None,
    ) -> WorkPage:
        """A page of items in name order; ``state`` filters by WorkResponse state."""
        self.definition(process)
        list_name, status_state = _state_filter(state)
        start_after = validate_name(page_token, "page token") if page_token else None
        snaps = self.store.list_items(process, page_size + 1, start_after, list_name, status_state)
        more = len(snaps) > page_size
        snaps = snaps[:page_size]
        return WorkPage(
            [self._response(process, s) for s in snaps],
            snaps[-1].name if more and snaps else "",
        )

    # -- process state -----------------------------------------------------------------
    def get_process(self, process: str) -> ProcessState:
        """The stored state of ``process``, with the code's defaults where nothing is stored."""
        definition = self.definition(process)
        state = self.store.read_process(process).process
        return self._with_defaults(definition, state)

    def _with_defaults(self, definition: Process, state: ProcessState) -> ProcessState:
        state.process_name = definition.name
        frequency = effective_frequency(state, definition, self.config.min_frequency)
        state.schedule_frequency.FromTimedelta(frequency)
        if not state.HasField("settings"):
            state.settings.CopyFrom(definition.default_settings)
        if state.catch_up.policy == CatchUp.POLICY_UNSPECIFIED:
            state.catch_up.policy = CatchUp.SKIP
        return state

    def list_processes(self) -> list[ProcessState]:
        """Every defined process with its stored state, in name order."""
        stored = self.store.list_processes()
        return [
            self._with_defaults(self.processes[name], stored.get(name, ProcessState()))
            for name in sorted(self.processes)
        ]

    def update_settings(
        self,
        process: str,
        frequency: timedelta | None = None,
        settings: ParamsLike = None,
        *,
        catch_up: str | None = None,
        run_late_within: timedelta | None = None,
        pause_after_aborts: int | None = None,
    ) -> ProcessState:
        """Store a new slot frequency (raised to the minimum) and/or settings."""
        definition = self.definition(process)
        fields: dict[str, Any] = {}
        if frequency is not None:
            if frequency <= timedelta(0):
                raise InvalidArgument("frequency must be positive")
            clamped = rules.clamp_frequency(frequency, self.config.min_frequency)
            fields["schedule_frequency"] = clamped.total_seconds()
        if settings is not None:
            fields["settings"] = params_to_doc(to_params(settings))
        if catch_up is not None or run_late_within is not None:
            fields["catch_up"] = _catch_up_doc(catch_up, run_late_within)
        if pause_after_aborts is not None:
            if not 0 <= pause_after_aborts <= 1000:
                raise InvalidArgument("pause_after_aborts must be within 0..1000")
            fields["pause_after_aborts"] = pause_after_aborts
        if fields:
            now = self.clock()
            self.store.merge_process(
                process,
                {**fields, **settings_changed(now)},
            )
        return self.get_process(definition.name)

    def pause(self, process: str, reason: str = "paused by request") -> ProcessState:
        """Stop ticks from claiming; a running tick stops at its next checkpoint."""
        self.definition(process)
        self.store.merge_process(process, {"paused": True, "pause_reason": reason})
        return self.get_process(process)

    def resume(self, process: str) -> ProcessState:
        """Let ticks claim again (and reset the aborted-run streak)."""
        self.definition(process)
        self.store.merge_process(
            process, {"paused": False, "pause_reason": "", "consecutive_aborts": 0}
        )
        return self.get_process(process)

    def run_now(self, process: str) -> None:
        """Ask the scheduler for a tick of ``process`` now."""
        self.definition(process)
        self.trigger.run_now(process)

    def list_runs(
        self, process: str, page_size: int = 20, page_token: str = ""
    ) -> tuple[list[dict[str, Any]], str]:
        """Run records, newest first, and the next page token ("" at the end)."""
        self.definition(process)
        start_after = _slot_token(page_token) if page_token else None
        rows = self.store.list_runs(process, page_size + 1, start_after)
        more = len(rows) > page_size
        rows = rows[:page_size]
        return [data for _, data in rows], (rows[-1][0] if more and rows else "")


def _slot_token(token: str) -> datetime:
    """The slot a runs page token names (a run record id)."""
    try:
        return datetime.strptime(token, RUN_ID_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        raise InvalidArgument(f"invalid page token {token[:40]!r}") from None


def _state_filter(state: str | None) -> tuple[str | None, str | None]:
    """(list, status state) for a WorkResponse state word."""
    if state is None or state == "":
        return None, None
    if state == "cleanup":
        return "CLEANUP", None
    if state == "dropped":
        return "DROPPED", None
    for status_state, word in _ACTIVE_STATES.items():
        if word == state:
            return "ACTIVE", status_state
    raise InvalidArgument(
        f"unknown state {state!r}: use one of queued, active, completed, incomplete, "
        "aborted, cleanup, dropped"
    )


def _catch_up_doc(policy: str | None, run_late_within: timedelta | None) -> dict[str, Any]:
    if policy is None:
        policy = "run_late" if run_late_within else "skip"
    if policy not in CATCH_UP_POLICIES:
        raise InvalidArgument(f"catch_up must be one of {', '.join(CATCH_UP_POLICIES)}")
    doc: dict[str, Any] = {"policy": CatchUp.Policy.Name(CATCH_UP_POLICIES[policy])}
    if policy == "run_late":
        if run_late_within is None or run_late_within <= timedelta(0):
            raise InvalidArgument("run_late needs a positive run_late_within")
        doc["run_late_within"] = run_late_within.total_seconds()
    return doc


__all__ = ["App", "Params", "TickResult", "WorkPage"]
