"""``App``: the processes of one deployment over one state store.

The functions, the API and tests all go through it: ``tick`` runs the engine;
the rest reads and steers the stored state. It depends on the ``StateStore``
Protocol only: ``client=`` builds the Firestore store, ``store=`` takes any.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slotwork import rules
from slotwork.clock import Clock, system_clock
from slotwork.config import (
    DEFAULT_DEADLINE_SECONDS,
    DEFAULT_LEASE_SECONDS,
    DEFAULT_MIN_FREQUENCY_SECONDS,
)
from slotwork.engine import (
    MAX_CHECKPOINT_ITEMS,
    EngineConfig,
    TickDeps,
    TickResult,
    effective_frequency,
    slot_of_run_id,
    tick,
)
from slotwork.engine.runs import combined_status
from slotwork.engine.state import DEFAULT_CHECKPOINT_SECONDS
from slotwork.errors import InvalidArgument, NotFound
from slotwork.estimates import final_estimate, part_estimate, run_estimate
from slotwork.model import WorkState, state_filter, work_state
from slotwork.params import ParamsLike, shorten, to_params, validate_name
from slotwork.policies import ErrorBudget, Rate
from slotwork.process import Process
from slotwork.registry import Registration, Registry
from slotwork.schema import CatchUp, Params, RunRecord, WorkResponse
from slotwork.schema import Process as ProcessState
from slotwork.schema.documents import ts_to_datetime
from slotwork.store import Commit, Counter, ProcessChange, StateStore, StoredItem
from slotwork.triggers import NoTrigger, Trigger
from slotwork.uris import work_uri

Seconds = float | int | timedelta | None

CATCH_UP_POLICIES = {"skip": CatchUp.SKIP, "run_late": CatchUp.RUN_LATE}
# Without an explicit interval, checkpoint at least three times per lease.
CHECKPOINTS_PER_LEASE = 3


def _seconds(value: Seconds, default: float) -> float:
    if value is None:
        return default
    if isinstance(value, timedelta):
        return value.total_seconds()
    return float(value)


def engine_config(
    deadline: Seconds,
    lease_ttl: Seconds,
    min_frequency: Seconds,
    checkpoint_items: int | None,
    checkpoint_seconds: float | None,
) -> EngineConfig:
    """The engine's tunables, checked: the checkpoint interval defaults to the
    smaller of 5 s and a third of the lease, and must be below the lease."""
    lease = _seconds(lease_ttl, DEFAULT_LEASE_SECONDS)
    items = MAX_CHECKPOINT_ITEMS if checkpoint_items is None else checkpoint_items
    if not 1 <= items <= MAX_CHECKPOINT_ITEMS:
        raise ValueError(f"checkpoint_items must be within 1..{MAX_CHECKPOINT_ITEMS}")
    if checkpoint_seconds is None:
        seconds = min(DEFAULT_CHECKPOINT_SECONDS, lease / CHECKPOINTS_PER_LEASE)
    elif checkpoint_seconds <= 0:
        raise ValueError("checkpoint_seconds must be positive")
    else:
        seconds = checkpoint_seconds
    if lease <= seconds:
        raise ValueError(
            f"lease_ttl ({lease:g} s) must be longer than the checkpoint interval ({seconds:g} s)"
        )
    return EngineConfig(
        deadline=_seconds(deadline, DEFAULT_DEADLINE_SECONDS),
        lease_ttl=lease,
        min_frequency=timedelta(seconds=_seconds(min_frequency, DEFAULT_MIN_FREQUENCY_SECONDS)),
        checkpoint_items=items,
        checkpoint_seconds=seconds,
    )


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
        client: Any = None,
        collection: str = "slotwork",
        clock: Clock | None = None,
        deadline: Seconds = None,
        lease_ttl: Seconds = None,
        *,
        store: StateStore | None = None,
        min_frequency: Seconds = None,
        trigger: Trigger | None = None,
        ids: Callable[[], str] | None = None,
        checkpoint_items: int | None = None,
        checkpoint_seconds: float | None = None,
        base_uri: str = "",
        sleep: Callable[[float], None] | None = None,
        rng: random.Random | None = None,
        deployed_shards: Mapping[str, int] | None = None,
    ) -> None:
        self.processes: dict[str, Process] = {}
        for process in processes:
            if process.name in self.processes:
                raise ValueError(f"process {process.name!r} is defined twice")
            self.processes[process.name] = process
        for name, shards in (deployed_shards or {}).items():
            defined = self.processes.get(name)
            if defined is not None and defined.shards != shards:
                raise ValueError(
                    f"process {name!r} is deployed with {shards} shard(s) (SLOTWORK_SHARDS, from "
                    f"Terraform) but defined with {defined.shards}: make them agree"
                )
        collection = validate_name(collection, "collection")
        if store is None:
            from slotwork.store.firestore import FirestoreStore

            if client is None:
                from slotwork.store.client import Client

                client = Client()
            store = FirestoreStore(client, collection)
        elif client is not None:
            raise ValueError("give the App a client or a store, not both")
        self.store: StateStore = store
        self.collection = collection
        self.clock: Clock = clock or system_clock
        self.trigger: Trigger = trigger or NoTrigger()
        self.ids = ids or (lambda: uuid.uuid4().hex[:16])
        self.base_uri = base_uri
        self.sleep = sleep or time.sleep
        self.rng = rng or random.Random()
        self.config = engine_config(
            deadline, lease_ttl, min_frequency, checkpoint_items, checkpoint_seconds
        )
        self.registry = Registry(self.store, self.clock)

    # -- ticks ---------------------------------------------------------------------
    def definition(self, process: str) -> Process:
        """The code's definition of ``process``, or NotFound."""
        try:
            return self.processes[process]
        except (KeyError, TypeError):
            raise NotFound(f"process {shorten(str(process))} not found") from None

    def tick(self, process: str, shard: int | None = None) -> TickResult:
        """One tick of ``process``: claim shard ``shard`` of its slot if due (None:
        shard 0 of an unsharded process, else the first claimable shard), work,
        checkpoint, hand over."""
        deps = TickDeps(
            store=self.store,
            definition=self.definition(process),
            config=self.config,
            clock=self.clock,
            trigger=self.trigger,
            instance=self.ids(),
            sleep=self.sleep,
            rng=self.rng,
        )
        return tick(deps, shard)

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
        _unique([name for name, _ in checked])
        return self.registry.register(process, checked)

    def unregister(self, process: str, item: str) -> bool:
        """Send an item to cleanup; False when it already waits for cleanup or was dropped."""
        self.definition(process)
        return self.registry.unregister(process, [validate_name(item, "item name")])[0]

    def unregister_many(self, process: str, items: Sequence[str]) -> list[bool]:
        """Unregister many items at once (unknown names are skipped: False)."""
        self.definition(process)
        names = _unique([validate_name(name, "item name") for name in items])
        return self.registry.unregister(process, names, missing_ok=True)

    def release(self, process: str, item: str) -> bool:
        """Make a quarantined item active again; False when it was not quarantined."""
        self.definition(process)
        return self.registry.release(process, [validate_name(item, "item name")])[0]

    def release_many(self, process: str, items: Sequence[str]) -> list[bool]:
        """Release many items at once (unknown names are skipped: False)."""
        self.definition(process)
        names = _unique([validate_name(name, "item name") for name in items])
        return self.registry.release(process, names, missing_ok=True)

    def _response(self, process: str, item: StoredItem) -> WorkResponse:
        stored_state = (item.status_doc or {}).get("state")
        state = work_state(
            item.list,
            str(stored_state) if stored_state else None,
            item.next_attempt_time is not None,
        )
        # A link that leads back to this item whatever its name holds ("#", "?", "%").
        uri = work_uri(self.base_uri, process, item.name)
        return WorkResponse(id=item.name, state=state.value, details=item.work(), uri=uri)

    def get_work(self, process: str, item: str) -> WorkResponse:
        """The WorkResponse of one item (NotFound for an unknown item)."""
        self.definition(process)
        name = validate_name(item, "item name")
        found = self.store.get_items(process, [name]).get(name)
        if found is None:
            raise NotFound(f"work item {shorten(name)} of process {shorten(process)} not found")
        return self._response(process, found)

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
        found = self.store.list_items(process, page_size + 1, start_after, list_name, status_state)
        more = len(found) > page_size
        found = found[:page_size]
        return WorkPage(
            [self._response(process, s) for s in found],
            found[-1].name if more and found else "",
        )

    # -- process state -----------------------------------------------------------------
    def get_process(self, process: str) -> ProcessState:
        """The state of ``process``: its document with the code's defaults where nothing
        is stored, each shard's document, and the current run's live progress."""
        definition = self.definition(process)
        state = self.store.read_process(process).process
        return self._view(definition, state)

    def _view(self, definition: Process, state: ProcessState) -> ProcessState:
        state.process_name = definition.name
        frequency = effective_frequency(state, definition, self.config.min_frequency)
        state.schedule_frequency.FromTimedelta(frequency)
        if not state.HasField("settings"):
            state.settings.CopyFrom(definition.default_settings)
        if state.catch_up.policy == CatchUp.POLICY_UNSPECIFIED:
            state.catch_up.policy = CatchUp.SKIP
        if not state.HasField("rate_limit") and definition.rate is not None:
            state.rate_limit.CopyFrom(definition.rate.to_message())
        if not state.HasField("error_budget"):
            state.error_budget.CopyFrom((definition.error_budget or ErrorBudget()).to_message())
        shards = self.store.read_shards(definition.name)
        run = state.run
        now = self.clock()
        slot_end = ts_to_datetime(run.slot) + frequency
        parts = [s.shard for s in shards.values() if run.id and s.shard.run_id == run.id]
        for index in sorted(shards):
            shard = shards[index].shard
            if shard.run_id == run.id:
                shard.estimate.CopyFrom(part_estimate(shard, now, slot_end))
            state.shards.append(shard)
        first = shards.get(0)
        if first is not None:
            state.lease.CopyFrom(first.shard.lease)
        if not run.HasField("slot"):
            return state
        if parts and not rules.run_is_final(run):
            live = combined_status(p.status for p in parts)
            live.state = run.status.state
            live.start_time.CopyFrom(run.status.start_time)
            run.status.CopyFrom(live)
            run.items_total = sum(p.items_total for p in parts)
            run.items_left = sum(max(0, p.items_total - p.items_done) for p in parts)
            run.invocations = sum(p.invocations for p in parts)
            changed = state.items_changed - run.items_changed
            run.estimate.CopyFrom(run_estimate(parts, now, slot_end, changed))
        else:
            run.estimate.CopyFrom(
                final_estimate(run.items_total, run.items_left, run.items_failed, slot_end)
            )
        return state

    def list_processes(self) -> list[ProcessState]:
        """Every defined process with its stored state, in name order."""
        stored = self.store.list_processes()
        return [
            self._view(self.processes[name], stored.get(name, ProcessState()))
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
        rate_limit: Rate | float | None = None,
        error_budget: ErrorBudget | None = None,
    ) -> ProcessState:
        """Store a new slot frequency (raised to the minimum), settings or policies.

        Absent arguments leave what is stored as it is; one that equals what is in
        force changes nothing (no new settings version, so a finished slot is not
        run again for it). ``rate_limit=0`` removes the stored rate limit;
        ``run_late_within`` alone changes the window of the RUN_LATE policy.
        """
        definition = self.definition(process)
        current = self.get_process(definition.name)
        values = ProcessState()
        if frequency is not None:
            if frequency <= timedelta(0):
                raise InvalidArgument("frequency must be positive")
            values.schedule_frequency.FromTimedelta(
                rules.clamp_frequency(frequency, self.config.min_frequency)
            )
        if settings is not None:
            values.settings.CopyFrom(to_params(settings))
        if catch_up is not None or run_late_within is not None:
            values.catch_up.CopyFrom(_catch_up(catch_up, run_late_within, current.catch_up))
        if pause_after_aborts is not None:
            if not 0 <= pause_after_aborts <= 1000:
                raise InvalidArgument("pause_after_aborts must be within 0..1000")
            values.pause_after_aborts = pause_after_aborts
        if rate_limit is not None and rate_limit != 0:
            try:
                rate = rate_limit if isinstance(rate_limit, Rate) else Rate(float(rate_limit))
            except (TypeError, ValueError) as err:
                raise InvalidArgument(f"rate_limit: {err}") from None
            values.rate_limit.CopyFrom(rate.to_message())
        if error_budget is not None:
            values.error_budget.CopyFrom(error_budget.to_message())
        given = {
            "schedule_frequency": frequency is not None,
            "settings": settings is not None,
            "catch_up": catch_up is not None or run_late_within is not None,
            "pause_after_aborts": pause_after_aborts is not None,
            "rate_limit": rate_limit is not None,
            "error_budget": error_budget is not None,
        }
        fields = {
            name
            for name, named in given.items()
            if named and _field(values, name) != _field(current, name)
        }
        if fields:
            values.settings_time.FromDatetime(self.clock())
            fields.add("settings_time")
            self._change(
                process,
                ProcessChange(
                    values=values,
                    fields=frozenset(fields),
                    increments={Counter.SETTINGS_VERSION: 1},
                ),
            )
        return self.get_process(definition.name)

    def _change(self, process: str, change: ProcessChange) -> None:
        self.store.commit(process, Commit(process=change))

    def pause(self, process: str, reason: str = "paused by request") -> ProcessState:
        """Stop ticks from claiming; a running tick stops at its next checkpoint."""
        self.definition(process)
        values = ProcessState(paused=True, pause_reason=reason)
        self._change(process, ProcessChange(values, frozenset({"paused", "pause_reason"})))
        return self.get_process(process)

    def resume(self, process: str) -> ProcessState:
        """Let ticks claim again (and reset the aborted-run streak)."""
        self.definition(process)
        fields = frozenset({"paused", "pause_reason", "consecutive_aborts"})
        self._change(process, ProcessChange(ProcessState(), fields))
        return self.get_process(process)

    def run_now(self, process: str) -> None:
        """Ask the scheduler for a tick of every shard of ``process`` now."""
        definition = self.definition(process)
        for shard in range(definition.shards):
            self.trigger.run_now(process, shard)

    def list_runs(
        self, process: str, page_size: int = 20, page_token: str = ""
    ) -> tuple[list[RunRecord], str]:
        """Run records, newest first, and the next page token ("" at the end)."""
        self.definition(process)
        start_after = _run_token(page_token) if page_token else None
        records = self.store.list_runs(process, page_size + 1, start_after)
        more = len(records) > page_size
        records = records[:page_size]
        return records, (records[-1].run.id if more and records else "")


def _unique(names: list[str]) -> list[str]:
    if len(set(names)) != len(names):
        raise InvalidArgument("an item name appears twice in one request")
    return names


def _run_token(token: str) -> str:
    """The run a runs page token names (a run id)."""
    try:
        slot_of_run_id(token)
    except ValueError:
        raise InvalidArgument(f"invalid page token {token[:40]!r}") from None
    return token


def _state_filter(state: str | None) -> tuple[str | None, str | None]:
    """(list, status state) for a WorkResponse state word."""
    if state is None or state == "":
        return None, None
    try:
        return state_filter(WorkState(state))
    except ValueError:
        words = ", ".join(s.value for s in WorkState if s not in (WorkState.PURGED,))
        raise InvalidArgument(f"unknown state {state[:40]!r}: use one of {words}") from None


def _field(message: ProcessState, name: str) -> object:
    """A top-level field's value, comparable (a message's serialised form)."""
    value = getattr(message, name)
    return value.SerializeToString(deterministic=True) if hasattr(value, "ListFields") else value


def _catch_up(policy: str | None, run_late_within: timedelta | None, stored: CatchUp) -> CatchUp:
    """The catch-up policy a change asks for, given the one in force: each part
    changes only itself, and a combination that cannot work is refused."""
    if policy is not None and policy not in CATCH_UP_POLICIES:
        raise InvalidArgument(f"catch_up must be one of {', '.join(CATCH_UP_POLICIES)}")
    stored_late = stored.policy == CatchUp.RUN_LATE
    if policy is None:
        if not stored_late:
            raise InvalidArgument(
                "run_late_within is the window of the run_late policy, and the policy is "
                "skip: give catch_up run_late too"
            )
        policy = "run_late"
    if policy == "skip":
        if run_late_within is not None:
            raise InvalidArgument("the skip policy takes no run_late_within")
        return CatchUp(policy=CatchUp.SKIP)
    within = run_late_within
    if within is None and stored_late and stored.HasField("run_late_within"):
        within = stored.run_late_within.ToTimedelta()
    if within is None or within <= timedelta(0):
        raise InvalidArgument("run_late needs a positive run_late_within")
    message = CatchUp(policy=CatchUp.RUN_LATE)
    message.run_late_within.FromTimedelta(within)
    return message


__all__ = ["App", "Params", "TickResult", "WorkPage", "engine_config"]
