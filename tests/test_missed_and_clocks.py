"""Missed and late slots, pause on failure, and leases that do not trust clocks."""

from __future__ import annotations

import functools
from datetime import timedelta

from google.cloud import firestore

import slotwork
from slotwork.clock import ServerAnchoredClock, system_clock
from slotwork.schema import Status
from slotwork_local.emulator import Emulator

import helpers
from conftest import new_client
from helpers import HOUR, START, FakeClock, RecordingWorker

# Every test here runs the one process "sync".
make_app = functools.partial(helpers.make_app, process="sync")


def leave_run_unfinished(
    client: firestore.Client, policy: dict[str, object]
) -> tuple[slotwork.App, FakeClock, RecordingWorker, int]:
    clock = FakeClock(step=timedelta(milliseconds=50))
    worker = RecordingWorker()
    app = make_app(client, worker, clock, deadline=1, lease_ttl=30)
    app.update_settings("sync", **policy)  # type: ignore[arg-type]
    app.register_many("sync", [(f"i{n:03d}", None) for n in range(40)])
    first = app.tick("sync")
    assert first.left > 0
    clock.now = START + HOUR + timedelta(minutes=10)  # ten minutes into the next slot
    return app, clock, worker, first.left


def test_skip_policy_abandons_the_late_run_for_the_new_slot(client: firestore.Client) -> None:
    app, _, _, left = leave_run_unfinished(client, {"catch_up": "skip"})
    result = app.tick("sync")
    assert result.outcome == "claimed" and result.slot == START + HOUR
    runs, _ = app.list_runs("sync")
    assert runs[-1].run.status.state == Status.INCOMPLETE
    assert runs[-1].run.items_left == left


def test_run_late_policy_finishes_the_late_run_within_its_window(
    client: firestore.Client,
) -> None:
    app, clock, worker, _ = leave_run_unfinished(
        client, {"catch_up": "run_late", "run_late_within": timedelta(minutes=30)}
    )
    result = app.tick("sync")
    assert result.outcome == "resumed" and result.slot == START
    while app.get_process("sync").run.status.state == Status.ACTIVE:
        assert app.tick("sync").slot == START
    assert app.get_process("sync").run.status.state == Status.COMPLETED
    assert sorted(set(worker.processed)) == [f"i{n:03d}" for n in range(40)]
    assert len(worker.processed) == 40
    clock.now = START + HOUR + timedelta(minutes=20)
    assert app.tick("sync").slot == START + HOUR  # then the current slot runs


def test_run_late_window_closed_starts_the_new_slot(client: firestore.Client) -> None:
    app, _, _, _ = leave_run_unfinished(
        client, {"catch_up": "run_late", "run_late_within": timedelta(minutes=5)}
    )
    result = app.tick("sync")  # ten minutes late: beyond the five-minute window
    assert result.outcome == "claimed" and result.slot == START + HOUR


def test_process_pauses_after_n_consecutive_aborted_runs(client: firestore.Client) -> None:
    clock = FakeClock()
    names = [f"i{n:02d}" for n in range(30)]
    worker = RecordingWorker(fail={n: 1000 for n in names})
    app = make_app(client, worker, clock)
    app.update_settings("sync", pause_after_aborts=2)
    app.register_many("sync", [(n, None) for n in names])
    assert app.tick("sync").outcome == "aborted"
    clock.advance(HOUR)
    assert app.tick("sync").outcome == "aborted"
    state = app.get_process("sync")
    assert state.paused and "2 consecutive aborted runs" in state.pause_reason
    clock.advance(HOUR)
    assert app.tick("sync").outcome == "paused"
    worker.fail.clear()
    resumed = app.resume("sync")
    assert not resumed.paused and resumed.consecutive_aborts == 0
    assert app.tick("sync").outcome == "claimed"
    assert app.get_process("sync").run.status.state == Status.COMPLETED


def test_skewed_instances_agree_on_the_lease_through_server_time(
    client: firestore.Client, emulator: Emulator
) -> None:
    lease = timedelta(seconds=60)
    ahead = ServerAnchoredClock(lambda: system_clock() + timedelta(hours=3))
    behind = ServerAnchoredClock(lambda: system_clock() - timedelta(hours=3))
    holder_worker = RecordingWorker()
    app_behind = make_app(
        client,
        holder_worker,
        behind,
        prefix="behind",
        lease_ttl=lease.total_seconds(),
        min_frequency=3600,
    )
    app_ahead = make_app(
        new_client(emulator),
        RecordingWorker(),
        ahead,
        prefix="ahead",
        lease_ttl=lease.total_seconds(),
        min_frequency=3600,
    )
    app_behind.register("sync", "a")
    outcome_seen: list[str] = []

    def contend(ctx: slotwork.Context, item: slotwork.Item) -> None:
        # While "behind" holds the lease, "ahead" (whose raw clock is 6 h later,
        # far past the lease) must still see it live.
        outcome_seen.append(app_ahead.tick("sync").outcome)

    holder_worker.on_process = contend
    first = app_behind.tick("sync")
    assert first.outcome == "claimed", first
    assert outcome_seen == ["busy"], (first, holder_worker.processed)
    # Both anchored clocks agree with the server to well within the lease.
    assert abs((ahead() - behind()).total_seconds()) < 5
    # And a lease released by one is claimable by the other: no stuck lease.
    assert app_ahead.tick("sync").outcome == "done"


def test_missed_slots_are_shown_by_the_api(client: firestore.Client) -> None:
    from slotwork.api.local import flask_app

    clock = FakeClock()
    app = make_app(client, RecordingWorker(), clock)
    app.register("sync", "a")
    app.tick("sync")
    clock.advance(4 * HOUR)
    app.tick("sync")
    body = flask_app(app).test_client().get("/processes/sync").get_json()
    run = body["run"]
    assert run["missedSlotCount"] == "3"  # int64 in the proto3 JSON mapping
    assert run["missedSlots"] == [
        "2026-11-29T13:00:00Z",
        "2026-11-29T14:00:00Z",
        "2026-11-29T15:00:00Z",
    ]
