"""The example process: the TTL sweeper, against the real emulator.

Most tests run it through ``slotwork.App`` with a fake clock (the engine's real
context); the deadline test uses a small fake context to control ``remaining()``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from google.cloud import firestore

import slotwork
from slotwork.schema import Params

from conftest import REPO
from helpers import START, FakeClock

sys.path.insert(0, str(REPO / "functions"))  # the deployed source is the import root
import processes
from slotwork.config import Config
from ttl_sweeper import (
    ALLOWLIST_VARIABLE,
    BOOKKEEPING_COLLECTION,
    SweepScope,
    SweepSpec,
    TtlSweeper,
)

PROCESS = "ttl-sweeper"
HOUR_AGO = timedelta(hours=1)
# What the tests' deployment lets the sweeper sweep; slotwork's state is in "slotwork".
SCOPE = SweepScope.from_config(
    Config(ttl_sweeper_collections=("sessions", "keep", "events", "big", "s"))
)


def sweeper(client: firestore.Client, scope: SweepScope = SCOPE, **options: Any) -> TtlSweeper:
    return TtlSweeper(lambda: client, scope, **options)


def make_app(client: firestore.Client, clock: FakeClock, worker: TtlSweeper) -> slotwork.App:
    return slotwork.App(
        [slotwork.Process(PROCESS, worker, frequency=timedelta(hours=1))],
        client=client,
        clock=clock,
        min_frequency=60,
    )


def add_docs(
    client: firestore.Client,
    collection: str,
    ages: Sequence[float],
    now: datetime,
    field_name: str = "created_at",
) -> None:
    """Documents d0, d1, ... whose timestamp is ``age`` seconds before ``now``."""
    batch = client.batch()
    for n, age in enumerate(ages):
        batch.set(
            client.collection(collection).document(f"d{n}"),
            {field_name: now - timedelta(seconds=age), "n": n},
        )
    batch.commit()


def ids(client: firestore.Client, collection: str) -> set[str]:
    return {ref.id for ref in client.collection(collection).list_documents()}


def params(collection: str, max_age: int, **strings: str) -> dict[str, Any]:
    return {
        "string_params": {"collection": collection, **strings},
        "int_params": {"max_age_seconds": max_age},
    }


def test_the_deployment_defines_the_sweeper_hourly() -> None:
    assert [p.name for p in processes.PROCESSES] == [PROCESS]
    sweeper = processes.PROCESSES[0]
    assert isinstance(sweeper.worker, TtlSweeper)
    assert sweeper.frequency == timedelta(hours=1)


def test_a_sweep_deletes_only_documents_older_than_the_max_age(client: firestore.Client) -> None:
    clock = FakeClock()
    add_docs(client, "sessions", [10, 50, 99, 101, 500, 5000], START)
    app = make_app(client, clock, sweeper(client))
    app.register(PROCESS, "sessions", params("sessions", 100))
    result = app.tick(PROCESS)
    assert result.outcome == "claimed" and result.processed == 1
    assert ids(client, "sessions") == {"d0", "d1", "d2"}
    work = app.get_work(PROCESS, "sessions")
    assert work.state == "completed"
    assert work.details.status.stats["deleted"] == 3 and work.details.status.stats["scanned"] == 3
    assert app.get_process(PROCESS).aggregate_stats["work.deleted"] == 3
    book = client.collection(BOOKKEEPING_COLLECTION).document("sessions").get().to_dict()
    assert book is not None
    assert book["total_deleted"] == 3 and book["sweeps"] == 1 and book["last_complete"] is True
    assert book["last_sweep_time"] == START and book["collection"] == "sessions"


def test_other_collections_and_documents_without_the_field_are_kept(
    client: firestore.Client,
) -> None:
    clock = FakeClock()
    add_docs(client, "sessions", [1000, 2000], START)
    add_docs(client, "keep", [1000, 2000], START)
    client.collection("sessions").document("no-field").set({"n": -1})
    client.collection("sessions").document("text-field").set({"created_at": "long ago"})
    app = make_app(client, clock, sweeper(client))
    app.register(PROCESS, "sessions", params("sessions", 100))
    app.tick(PROCESS)
    assert ids(client, "sessions") == {"no-field", "text-field"}
    assert ids(client, "keep") == {"d0", "d1"}


def test_the_timestamp_field_can_be_chosen(client: firestore.Client) -> None:
    clock = FakeClock()
    add_docs(client, "events", [10, 1000], START, field_name="seen_at")
    app = make_app(client, clock, sweeper(client))
    app.register(PROCESS, "events", params("events", 100, timestamp_field="seen_at"))
    app.tick(PROCESS)
    assert ids(client, "events") == {"d0"}


def test_many_documents_are_deleted_batch_by_batch(client: firestore.Client) -> None:
    clock = FakeClock()
    add_docs(client, "big", [1000 + n for n in range(23)] + [1], START)
    app = make_app(client, clock, sweeper(client, batch_size=5))
    app.register(PROCESS, "big", params("big", 100))
    app.tick(PROCESS)
    assert ids(client, "big") == {"d23"}
    assert app.get_work(PROCESS, "big").details.status.stats["deleted"] == 23


def test_a_later_sweep_deletes_what_aged_since_and_keeps_totals_exact(
    client: firestore.Client,
) -> None:
    clock = FakeClock()
    add_docs(client, "sessions", [10, 50, 500], START)
    app = make_app(client, clock, sweeper(client))
    app.register(PROCESS, "sessions", params("sessions", 100))
    app.tick(PROCESS)
    clock.advance(timedelta(hours=1))  # next slot: everything left is now old
    assert app.tick(PROCESS).outcome == "claimed"
    assert ids(client, "sessions") == set()
    book = client.collection(BOOKKEEPING_COLLECTION).document("sessions").get().to_dict()
    assert book is not None and book["total_deleted"] == 3 and book["sweeps"] == 2
    assert book["last_deleted"] == 2


def test_unregistering_cleans_the_bookkeeping_up(client: firestore.Client) -> None:
    clock = FakeClock()
    app = make_app(client, clock, sweeper(client))
    app.register(PROCESS, "sessions", params("sessions", 100))
    app.tick(PROCESS)
    book = client.collection(BOOKKEEPING_COLLECTION).document("sessions")
    assert book.get().exists
    app.unregister(PROCESS, "sessions")
    result = app.tick(PROCESS)
    assert result.outcome in ("claimed", "resumed")
    assert not book.get().exists
    assert app.get_work(PROCESS, "sessions").state == "dropped"


# -- the worker on its own ------------------------------------------------------------------------
@dataclass
class FakeContext:
    """The parts of slotwork's Context the sweeper uses, with a scripted time budget."""

    clock: FakeClock
    budget: list[float]
    stats: dict[str, float] = field(default_factory=dict)
    settings: Params = field(default_factory=Params)
    process: str = PROCESS

    @property
    def slot(self) -> datetime:
        return START

    def now(self) -> datetime:
        return self.clock()

    def remaining(self) -> float:
        return self.budget.pop(0) if len(self.budget) > 1 else self.budget[0]

    def add_stat(self, name: str, value: float = 1) -> None:
        self.stats[name] = self.stats.get(name, 0) + value

    def add_run_stat(self, name: str, value: float = 1) -> None:
        self.add_stat(name, value)

    def add_error(self, err: BaseException | str) -> slotwork.ErrorAction:
        raise AssertionError(f"unexpected error {err}")


def item(name: str, raw: dict[str, Any]) -> slotwork.Item:
    p = Params()
    p.string_params.update(raw.get("string_params", {}))
    p.int_params.update(raw.get("int_params", {}))
    return slotwork.Item(name, p)


def test_the_sweep_stops_before_the_deadline_and_leaves_the_rest(
    client: firestore.Client,
) -> None:
    add_docs(client, "big", [1000 + n for n in range(10)], START)
    ctx = FakeContext(FakeClock(), budget=[60.0, 0.5])  # time for one batch only
    sweeper(client, batch_size=4).process(ctx, item("big", params("big", 100)))
    assert len(ids(client, "big")) == 6
    assert ctx.stats == {"scanned": 4, "deleted": 4, "deferred": 1}
    book = client.collection(BOOKKEEPING_COLLECTION).document("big").get().to_dict()
    assert book is not None and book["last_complete"] is False


class RefreshingSweeper(TtlSweeper):
    """Rewrites one document between the query and the delete, once (a session touched)."""

    def __init__(self, client: firestore.Client, refresh: str) -> None:
        super().__init__(lambda: client, SCOPE)
        self.client = client
        self.refresh: str | None = refresh

    def expired_batch(self, client: firestore.Client, spec: SweepSpec, cutoff: datetime) -> Any:
        batch = super().expired_batch(client, spec, cutoff)
        if self.refresh is not None:
            self.client.collection(spec.collection).document(self.refresh).set(
                {"created_at": START, "n": 0}
            )
            self.refresh = None
        return batch


def test_a_document_rewritten_after_the_query_is_not_deleted(client: firestore.Client) -> None:
    add_docs(client, "sessions", [1000, 2000, 3000], START)
    ctx = FakeContext(FakeClock(), budget=[60.0])
    RefreshingSweeper(client, refresh="d1").process(ctx, item("s", params("sessions", 100)))
    assert ids(client, "sessions") == {"d1"}
    assert ctx.stats["deleted"] == 2


@pytest.mark.parametrize(
    "raw",
    [
        {"int_params": {"max_age_seconds": 60}},
        params("a/b", 60),
        params("__x__", 60),
        params("sess\u200bions", 60),
        params("slotwork", 60),
        params(BOOKKEEPING_COLLECTION, 60),
        params("not-listed", 60),
        params("sessions", 0),
        params("sessions", -5),
        params("sessions", 60, timestamp_field="__name__"),
    ],
)
def test_invalid_params_are_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(slotwork.InvalidArgument):
        SweepSpec.from_item(item("x", raw), SCOPE)


def test_an_invalid_item_is_recorded_as_its_error(client: firestore.Client) -> None:
    clock = FakeClock()
    app = make_app(client, clock, sweeper(client))
    app.register(PROCESS, "bad", params("slotwork", 60))
    app.tick(PROCESS)
    work = app.get_work(PROCESS, "bad")
    assert work.details.status.total_errors >= 1
    assert "refuses" in work.details.status.errors[-1].text
    # The sweeper refused to touch slotwork's own state.
    assert client.collection("slotwork").document(PROCESS).get().exists


# -- what the deployment lets it sweep ------------------------------------------------------------
def sweep_once(
    client: firestore.Client, scope: SweepScope, collection: str, app_collection: str = "slotwork"
) -> slotwork.WorkResponse:
    """Register one item sweeping ``collection`` and run one tick; the item's state after."""
    app = slotwork.App(
        [slotwork.Process(PROCESS, sweeper(client, scope), frequency=timedelta(hours=1))],
        client=client,
        collection=app_collection,
        clock=FakeClock(),
        min_frequency=60,
    )
    app.register(PROCESS, "item", params(collection, 100))
    assert app.tick(PROCESS).outcome == "claimed"
    return app.get_work(PROCESS, "item")


def test_a_collection_not_on_the_allowlist_is_refused_and_kept(client: firestore.Client) -> None:
    add_docs(client, "orders", [1000, 2000], START)
    scope = SweepScope.from_config(Config(ttl_sweeper_collections=("sessions",)))
    work = sweep_once(client, scope, "orders")
    assert work.state == "incomplete"
    text = work.details.status.errors[-1].text
    assert "'orders'" in text and ALLOWLIST_VARIABLE in text and "add 'orders'" in text
    assert ids(client, "orders") == {"d0", "d1"}


def test_with_no_allowlist_nothing_is_swept(client: firestore.Client) -> None:
    add_docs(client, "sessions", [1000], START)
    work = sweep_once(client, SweepScope.from_config(Config()), "sessions")
    assert work.state == "incomplete"
    assert f"{ALLOWLIST_VARIABLE} (now empty)" in work.details.status.errors[-1].text
    assert ids(client, "sessions") == {"d0"}


def test_the_configured_slotwork_collection_is_refused_even_when_listed(
    client: firestore.Client,
) -> None:
    # slotwork keeps its state in "prod-state": one sweep of it would delete every process.
    config = Config(collection="prod-state", ttl_sweeper_collections=("prod-state", "sessions"))
    client.collection("prod-state").document("other").set({"created_at": START - HOUR_AGO})
    work = sweep_once(client, SweepScope.from_config(config), "prod-state", "prod-state")
    assert work.state == "incomplete"
    assert "refuses" in work.details.status.errors[-1].text
    assert {"other", PROCESS} <= ids(client, "prod-state")


def test_the_bookkeeping_is_refused_even_when_listed(client: firestore.Client) -> None:
    scope = SweepScope.from_config(Config(ttl_sweeper_collections=(BOOKKEEPING_COLLECTION,)))
    with pytest.raises(slotwork.InvalidArgument, match="refuses"):
        SweepSpec.from_item(item("x", params(BOOKKEEPING_COLLECTION, 60)), scope)
    own = TtlSweeper(lambda: client, scope, bookkeeping="my_books")
    with pytest.raises(slotwork.InvalidArgument, match="refuses"):
        SweepSpec.from_item(item("x", params("my_books", 60)), own.scope)


def test_listed_collections_are_swept(client: firestore.Client) -> None:
    add_docs(client, "demo_sessions", [10, 1000], START)
    config = Config(collection="prod-state", ttl_sweeper_collections=("demo_sessions",))
    work = sweep_once(client, SweepScope.from_config(config), "demo_sessions", "prod-state")
    assert work.state == "completed"
    assert work.details.status.stats["deleted"] == 1
    assert ids(client, "demo_sessions") == {"d0"}


def test_the_deployment_builds_its_sweeper_from_the_environment() -> None:
    # processes.py reads the environment when imported: import it in a fresh interpreter.
    env = {
        **os.environ,
        "SLOTWORK_COLLECTION": "prod-state",
        "SLOTWORK_TTL_SWEEPER_COLLECTIONS": "demo_sessions,demo_events",
        "PYTHONPATH": str(REPO / "functions"),
    }
    script = (
        "import json, processes; s = processes.PROCESSES[0].worker.scope; "
        "print(json.dumps([sorted(s.allowed), sorted(s.protected)]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [
        ["demo_events", "demo_sessions"],
        ["prod-state", BOOKKEEPING_COLLECTION],
    ]


def test_cleanup_of_an_item_without_bookkeeping_is_gone(client: firestore.Client) -> None:
    ctx = FakeContext(FakeClock(), budget=[60.0])
    with pytest.raises(slotwork.Gone):
        sweeper(client).cleanup(ctx, item("never-swept", {}))
