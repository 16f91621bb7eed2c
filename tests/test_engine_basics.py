"""Seed scenarios 1-8 and 12 (SEED_SPEC.md), on the real Firestore emulator."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.cloud import firestore

import slotwork
from slotwork.schema import Status

from helpers import HOUR, START, FakeClock, RecordingWorker, counter_ids


def make_app(
    client: firestore.Client, worker: RecordingWorker, clock: FakeClock, **kwargs: object
) -> slotwork.App:
    process = slotwork.Process("keys", worker, frequency=HOUR)
    return slotwork.App(
        [process], client=client, clock=clock, min_frequency=60, ids=counter_ids(), **kwargs
    )  # type: ignore[arg-type]


@pytest.fixture
def worker() -> RecordingWorker:
    return RecordingWorker()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def app(client: firestore.Client, worker: RecordingWorker, clock: FakeClock) -> slotwork.App:
    return make_app(client, worker, clock)


def test_registered_item_is_completed_by_one_run(
    app: slotwork.App, worker: RecordingWorker
) -> None:
    app.register("keys", "acct-1", {"int_params": {"max_age": 7}})
    result = app.tick("keys")
    assert result.outcome == "claimed"
    assert result.processed == 1 and result.left == 0 and not result.continuation
    assert worker.processed == ["acct-1"]
    work = app.get_work("keys", "acct-1")
    assert work.state == "completed"
    assert work.details.params.int_params["max_age"] == 7
    state = app.get_process("keys")
    assert state.run.status.state == Status.COMPLETED
    assert state.run.status.stats["workItems"] == 1
    assert state.aggregate_stats["runs"] == 1
    assert state.aggregate_stats["state.completed"] == 1
    assert state.aggregate_stats["work.calls"] == 1
    assert not state.lease.holder or state.lease.expire_time.ToDatetime() <= START.replace(
        tzinfo=None
    )


def test_second_tick_in_same_slot_does_not_claim(
    app: slotwork.App, worker: RecordingWorker
) -> None:
    app.register("keys", "a")
    assert app.tick("keys").outcome == "claimed"
    assert app.tick("keys").outcome == "done"
    assert worker.processed == ["a"]


def test_next_slot_processes_every_item_again(
    app: slotwork.App, worker: RecordingWorker, clock: FakeClock
) -> None:
    app.register("keys", "a")
    app.tick("keys")
    clock.advance(HOUR)
    assert app.tick("keys").outcome == "claimed"
    assert worker.processed == ["a", "a"]
    assert app.get_process("keys").aggregate_stats["runs"] == 2


def test_register_twice_with_equal_params_changes_nothing(app: slotwork.App) -> None:
    first = app.register("keys", "a", {"string_params": {"x": "1"}})
    version = app.get_process("keys").settings_version
    again = app.register("keys", "a", {"string_params": {"x": "1"}})
    assert first.created and not again.changed
    assert app.get_process("keys").settings_version == version


def test_register_with_new_params_replaces_them_and_requeues(app: slotwork.App) -> None:
    app.register("keys", "a", {"string_params": {"x": "1"}})
    app.tick("keys")
    assert app.get_work("keys", "a").state == "completed"
    changed = app.register("keys", "a", {"string_params": {"x": "2"}})
    assert changed.changed and not changed.created
    work = app.get_work("keys", "a")
    assert work.state == "queued"
    assert work.details.params.string_params["x"] == "2"


def test_item_registered_after_the_slot_finished_runs_in_the_same_slot(
    app: slotwork.App, worker: RecordingWorker
) -> None:
    app.register("keys", "a")
    app.tick("keys")
    app.register("keys", "b")
    result = app.tick("keys")
    assert result.outcome == "claimed"
    assert worker.processed == ["a", "b"]


def test_unregister_cleans_up_then_drops(
    app: slotwork.App, worker: RecordingWorker, clock: FakeClock
) -> None:
    app.register("keys", "a")
    app.tick("keys")
    assert app.unregister("keys", "a") is True
    assert app.get_work("keys", "a").state == "cleanup"
    assert app.unregister("keys", "a") is False  # idempotent
    result = app.tick("keys")  # unregistering reopened the finished slot
    assert result.outcome == "claimed" and result.cleaned == 1
    assert worker.cleaned == ["a"]
    assert app.get_work("keys", "a").state == "dropped"
    assert app.get_process("keys").run.status.stats["workItemsCleaned"] == 1
    clock.advance(HOUR)
    app.tick("keys")
    assert worker.processed == ["a"] and worker.cleaned == ["a"]


def test_reregistering_a_dropped_item_makes_it_active(app: slotwork.App) -> None:
    app.register("keys", "a")
    app.unregister("keys", "a")
    app.tick("keys")
    assert app.get_work("keys", "a").state == "dropped"
    app.register("keys", "a")
    assert app.get_work("keys", "a").state == "queued"


def test_reregistering_during_cleanup_cancels_the_cleanup(
    app: slotwork.App, worker: RecordingWorker
) -> None:
    app.register("keys", "a")
    app.unregister("keys", "a")
    app.register("keys", "a")
    app.tick("keys")
    assert worker.cleaned == [] and worker.processed == ["a"]
    assert app.get_work("keys", "a").state == "completed"


def test_worker_error_marks_item_and_run_incomplete(
    client: firestore.Client, clock: FakeClock
) -> None:
    worker = RecordingWorker(fail={"b": 1})
    app = make_app(client, worker, clock)
    for name in ("a", "b", "c"):
        app.register("keys", name)
    result = app.tick("keys")
    assert result.processed == 3
    assert worker.processed == ["a", "b", "c"]
    work = app.get_work("keys", "b")
    assert work.state == "incomplete"
    assert "boom on b" in work.details.status.errors[0].text
    assert app.get_work("keys", "c").state == "completed"
    state = app.get_process("keys")
    assert state.run.status.state == Status.INCOMPLETE
    assert state.run.status.stats["errors"] == 1
    assert "'b'" in state.run.status.errors[0].text


def test_more_than_ten_errors_abort_the_item_only(
    client: firestore.Client, clock: FakeClock
) -> None:
    worker = RecordingWorker(errors_per_call={"a": 12})
    app = make_app(client, worker, clock)
    app.register("keys", "a")
    app.register("keys", "b")
    app.tick("keys")
    item = app.get_work("keys", "a")
    assert item.state == "aborted"
    assert item.details.status.total_errors == 11  # the 11th error returned ABORT
    assert len(item.details.status.errors) == 10
    assert app.get_work("keys", "b").state == "completed"
    assert app.get_process("keys").run.status.state == Status.INCOMPLETE


def test_more_than_25_errors_abort_the_run_and_leave_the_rest(
    client: firestore.Client, clock: FakeClock
) -> None:
    names = [f"item-{i:02d}" for i in range(40)]
    worker = RecordingWorker(fail={n: 1 for n in names})
    app = make_app(client, worker, clock)
    app.register_many("keys", [(n, None) for n in names])
    result = app.tick("keys")
    assert result.outcome == "aborted"
    assert worker.processed == names[:26]
    state = app.get_process("keys")
    assert state.run.status.state == Status.ABORTED
    assert state.run.status.total_errors == 26
    assert len(state.run.status.errors) == 25
    assert state.run.items_left == 14
    assert state.aggregate_stats["state.aborted"] == 1
    assert app.get_work("keys", "item-30").state == "queued"
    assert app.tick("keys").outcome == "done"  # an aborted run ends its slot


def test_cleanup_that_finds_the_item_gone_counts_as_cleaned(
    client: firestore.Client, clock: FakeClock
) -> None:
    worker = RecordingWorker(gone={"a"}, clean_fail={"b"})
    app = make_app(client, worker, clock)
    app.register_many("keys", [("a", None), ("b", None)])
    app.unregister("keys", "a")
    app.unregister("keys", "b")
    app.tick("keys")
    assert app.get_work("keys", "a").state == "dropped"
    assert app.get_work("keys", "b").state == "cleanup"
    stats = app.get_process("keys").run.status.stats
    assert stats["workItemsCleaned"] == 1 and stats["workItemsDirty"] == 1


def test_frequency_below_the_minimum_is_raised(app: slotwork.App) -> None:
    state = app.update_settings("keys", frequency=timedelta(seconds=5))
    assert state.schedule_frequency.ToTimedelta() == timedelta(seconds=60)


def test_paused_process_does_not_claim_until_resumed(
    app: slotwork.App, worker: RecordingWorker
) -> None:
    app.register("keys", "a")
    app.pause("keys")
    assert app.tick("keys").outcome == "paused"
    app.resume("keys")
    assert app.tick("keys").outcome == "claimed"
    assert worker.processed == ["a"]


def test_unknown_process_and_item_are_not_found(app: slotwork.App) -> None:
    with pytest.raises(slotwork.NotFound):
        app.tick("nope")
    with pytest.raises(slotwork.NotFound):
        app.get_work("keys", "missing")
    with pytest.raises(slotwork.NotFound):
        app.unregister("keys", "missing")


def test_invalid_names_and_params_are_rejected_before_any_write(app: slotwork.App) -> None:
    for bad in ("", "a/b", ".", "__x__", "tab\there"):
        with pytest.raises(slotwork.InvalidArgument):
            app.register("keys", bad)
    with pytest.raises(slotwork.InvalidArgument):
        app.register_many("keys", [("ok", None), ("bad", {"int_params": {"n": "x"}})])
    with pytest.raises(slotwork.NotFound):
        app.get_work("keys", "ok")


def test_new_settings_replace_the_old_ones_whole(app: slotwork.App) -> None:
    app.update_settings("keys", settings={"string_params": {"a": "1", "b": "2"}})
    state = app.update_settings("keys", settings={"string_params": {"a": "3"}})
    assert dict(state.settings.string_params) == {"a": "3"}


def test_unpaired_surrogates_are_invalid_arguments(app: slotwork.App) -> None:
    with pytest.raises(slotwork.InvalidArgument):
        app.register("keys", "bad\ud800")
    with pytest.raises(slotwork.InvalidArgument):
        app.register("keys", "ok", {"string_params": {"k": "\udfff"}})
