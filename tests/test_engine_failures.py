"""When items fail: retries within the slot, quarantine, budgets, cleanup order
(issue 14), on the real emulator with an injected clock."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from google.cloud import firestore

import slotwork
from slotwork.schema import Status

from helpers import HOUR, FakeClock, RecordingWorker, make_app

RETRY = slotwork.Retry(attempts=3, initial=timedelta(seconds=1), maximum=timedelta(seconds=4))


def names(n: int, prefix: str = "item") -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


class Crash(BaseException):
    """Ends an invocation the way a killed instance would (never caught as an item's)."""


def test_a_transient_failure_is_retried_in_the_slot_after_its_backoff(
    client: firestore.Client,
) -> None:
    clock = FakeClock()
    worker = RecordingWorker(fail={"item-0002": 1})
    app = make_app(client, worker, clock, definition={"retry": RETRY})
    app.register_many("sweep", [(n, None) for n in names(5)])
    started = clock.now
    result = app.tick("sweep")
    assert (result.run_state, result.processed, result.retried) == ("COMPLETED", 5, 1)
    assert Counter(worker.processed)["item-0002"] == 2
    # The retry waited its backoff (0.5-1 s on the tick's clock), never holding other items.
    assert worker.processed[:5] == names(5)
    assert timedelta(seconds=0.5) <= clock.now - started
    work = app.get_work("sweep", "item-0002")
    assert work.state == "completed" and work.details.status.total_errors == 1
    state = app.get_process("sweep")
    assert state.run.status.stats["workItemsRetried"] == 1
    assert state.run.status.stats["workItems"] == 5


def test_retries_stop_after_their_attempts_and_the_item_fails_the_slot(
    client: firestore.Client,
) -> None:
    worker = RecordingWorker(fail={"item-0000": 99})
    app = make_app(client, worker, FakeClock(), definition={"retry": RETRY})
    app.register("sweep", "item-0000")
    result = app.tick("sweep")
    assert result.run_state == "INCOMPLETE" and worker.processed.count("item-0000") == 3
    work = app.get_work("sweep", "item-0000")
    assert work.state == "incomplete" and work.details.status.total_errors == 3
    assert work.details.failed_slots == 1 and work.details.attempts == 0


def test_a_retry_survives_a_hand_over(client: firestore.Client) -> None:
    """The first tick ends (deadline) before the retry is due; the next finds the
    item's stored attempt and due time and retries it, once."""
    clock = FakeClock()
    long_retry = slotwork.Retry(attempts=2, initial=timedelta(seconds=60))
    worker = RecordingWorker(fail={"item-0000": 1})
    app = make_app(client, worker, clock, deadline=20, definition={"retry": long_retry})
    app.register_many("sweep", [(n, None) for n in names(3)])
    first = app.tick("sweep")
    assert first.run_state == "ACTIVE" and first.retried == 1 and not first.continuation
    stored = app.get_work("sweep", "item-0000")
    assert stored.state == "retrying" and stored.details.attempts == 1
    clock.advance(timedelta(seconds=90))
    second = app.tick("sweep")
    assert second.run_state == "COMPLETED" and second.processed == 1
    assert worker.processed.count("item-0000") == 2


def test_a_retry_read_back_from_the_store_waits_for_its_time(client: firestore.Client) -> None:
    """The next tick reads the item with its stored due time 10 s ahead: it waits for
    it (on the tick's clock) and retries it, without a second tick."""
    clock = FakeClock()
    calls: list[object] = []

    def throttled(ctx: slotwork.Context, item: slotwork.Item) -> None:
        calls.append(ctx.now())
        if len(calls) == 1:
            raise slotwork.RetryAfter(60)

    app = make_app(client, RecordingWorker(on_process=throttled), clock, deadline=20,
                   definition={"retry": RETRY})  # fmt: skip
    app.register("sweep", "a")
    assert app.tick("sweep").run_state == "ACTIVE"
    clock.advance(timedelta(seconds=50))
    second = app.tick("sweep")
    assert (second.run_state, second.processed, len(calls)) == ("COMPLETED", 1, 2)
    assert calls[1] - calls[0] >= timedelta(seconds=60)  # type: ignore[operator]


def test_a_retry_survives_a_crash(client: firestore.Client) -> None:
    clock = FakeClock()
    crashing = RecordingWorker(fail={"item-0000": 1})

    def crash_at_last(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0005":
            raise Crash()

    crashing.on_process = crash_at_last
    retry = slotwork.Retry(attempts=2, initial=timedelta(seconds=30))
    app = make_app(client, crashing, clock, lease_ttl=60, checkpoint_items=1,
                   definition={"retry": retry})  # fmt: skip
    app.register_many("sweep", [(n, None) for n in names(6)])
    with pytest.raises(Crash):
        app.tick("sweep")
    clock.advance(timedelta(seconds=61))
    survivor = RecordingWorker()
    after = make_app(client, survivor, clock, "next", definition={"retry": retry}).tick("sweep")
    assert after.outcome == "resumed" and after.run_state == "COMPLETED"
    # item-0000's first attempt was checkpointed: the survivor makes its second.
    assert sorted(survivor.processed) == ["item-0000", "item-0005"]
    assert app.get_work("sweep", "item-0000").details.status.total_errors == 1


def test_permanent_errors_are_not_retried(client: firestore.Client) -> None:
    def permanent(ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise slotwork.Permanent("the account is gone for good")

    worker = RecordingWorker(on_process=permanent)
    app = make_app(client, worker, FakeClock(), definition={"retry": RETRY})
    app.register("sweep", "a")
    assert app.tick("sweep").retried == 0
    assert worker.processed == ["a"]
    assert "gone for good" in app.get_work("sweep", "a").details.status.errors[0].text


def test_retry_after_sets_the_next_attempt_time(client: firestore.Client) -> None:
    clock = FakeClock()
    calls: list[object] = []

    def throttled(ctx: slotwork.Context, item: slotwork.Item) -> None:
        calls.append(ctx.now())
        if len(calls) == 1:
            raise slotwork.RetryAfter(120, "429 Too Many Requests")

    app = make_app(client, RecordingWorker(on_process=throttled), clock, deadline=60,
                   definition={"retry": RETRY})  # fmt: skip
    app.register("sweep", "a")
    assert app.tick("sweep").retried == 1
    stored = app.get_work("sweep", "a").details
    due = stored.next_attempt_time.ToDatetime(tzinfo=clock.now.tzinfo)
    assert due - calls[0] == timedelta(seconds=120)  # type: ignore[operator]
    clock.advance(timedelta(seconds=121))
    assert app.tick("sweep").run_state == "COMPLETED" and len(calls) == 2


def test_errors_of_an_items_retries_count_once_toward_the_run_budget(
    client: firestore.Client,
) -> None:
    """Three errors in a run with a budget of two: one item failed twice (one counted
    error), another once. The run goes on and completes."""
    budget = slotwork.ErrorBudget(per_item=10, per_run=2)
    worker = RecordingWorker(fail={"item-0000": 2, "item-0001": 1})
    app = make_app(
        client, worker, FakeClock(), definition={"retry": RETRY, "error_budget": budget}
    )
    app.register_many("sweep", [(n, None) for n in names(3)])
    result = app.tick("sweep")
    assert result.run_state == "COMPLETED", result
    assert app.get_process("sweep").run.status.total_errors == 3
    assert Counter(worker.processed) == {"item-0000": 3, "item-0001": 2, "item-0002": 1}


def test_distinct_failing_items_spend_the_run_budget(client: firestore.Client) -> None:
    budget = slotwork.ErrorBudget(per_item=10, per_run=1)
    worker = RecordingWorker(fail={"item-0000": 1, "item-0001": 1})
    app = make_app(
        client, worker, FakeClock(), definition={"retry": RETRY, "error_budget": budget}
    )
    app.register_many("sweep", [(n, None) for n in names(3)])
    assert app.tick("sweep").outcome == "aborted"


def test_an_item_failing_in_consecutive_slots_is_quarantined_then_released(
    client: firestore.Client,
) -> None:
    clock = FakeClock()
    worker = RecordingWorker(fail={"bad": 99})
    app = make_app(client, worker, clock, definition={"quarantine_after": 2})
    app.register_many("sweep", [("bad", None), ("good", None)])
    app.tick("sweep")
    assert app.get_work("sweep", "bad").state == "incomplete"
    clock.advance(HOUR)
    app.tick("sweep")
    bad = app.get_work("sweep", "bad")
    assert bad.state == "quarantined" and "2 slots in a row" in bad.details.quarantine_reason
    assert [w.id for w in app.list_work("sweep", state="quarantined").items] == ["bad"]
    assert app.get_process("sweep").quarantined_items == 1
    clock.advance(HOUR)
    app.tick("sweep")
    assert worker.processed.count("bad") == 2  # skipped while quarantined
    assert app.register("sweep", "bad").changed is False  # equal params: stays set aside
    assert app.release("sweep", "bad") is True
    assert app.get_process("sweep").quarantined_items == 0
    assert app.get_work("sweep", "bad").state == "queued"
    assert app.tick("sweep").processed == 1  # the release reopened the slot for it
    assert worker.processed.count("bad") == 3


def test_registering_a_quarantined_item_with_new_params_releases_it(
    client: firestore.Client,
) -> None:
    app = make_app(
        client, RecordingWorker(fail={"bad": 99}), FakeClock(), definition={"quarantine_after": 1}
    )
    app.register("sweep", "bad")
    app.tick("sweep")
    assert app.get_work("sweep", "bad").state == "quarantined"
    assert app.register("sweep", "bad", {"int_params": {"fixed": 1}}).changed
    assert app.get_work("sweep", "bad").state == "queued"
    assert app.get_process("sweep").quarantined_items == 0


def test_quarantine_after_zero_never_quarantines(client: firestore.Client) -> None:
    clock = FakeClock()
    worker = RecordingWorker(fail={"bad": 99})
    app = make_app(client, worker, clock, definition={"quarantine_after": 0})
    app.register("sweep", "bad")
    for _ in range(4):
        app.tick("sweep")
        clock.advance(HOUR)
    assert worker.processed.count("bad") == 4
    assert app.get_work("sweep", "bad").details.failed_slots == 4


def test_a_fraction_budget_lets_a_few_bad_items_never_stall_the_rest(
    client: firestore.Client,
) -> None:
    """500 bad items beside 10,000 good ones: with per_run=0.2 every good item
    completes in the slot (a count of 25 would have aborted after 26 items)."""
    good, bad = names(10_000, "good"), names(500, "bad")
    worker = RecordingWorker(fail=dict.fromkeys(bad, 1))
    budget = slotwork.ErrorBudget(per_item=10, per_run=0.2)
    app = make_app(client, worker, FakeClock(), definition={"error_budget": budget})
    app.register_many("sweep", [(n, None) for n in [*bad, *good]])
    result = app.tick("sweep")
    assert result.run_state == "INCOMPLETE" and result.processed == 10_500
    state = app.get_process("sweep")
    assert state.run.items_failed == 500 and state.run.items_left == 0
    assert len(app.list_work("sweep", page_size=1000, state="incomplete").items) == 500


def test_the_error_budget_is_set_through_the_app_and_stored(client: firestore.Client) -> None:
    app = make_app(client, RecordingWorker(fail={"a": 1, "b": 1}), FakeClock())
    app.update_settings("sweep", error_budget=slotwork.ErrorBudget(per_item=10, per_run=1))
    assert app.get_process("sweep").error_budget.per_run == 1
    app.register_many("sweep", [("a", None), ("b", None), ("c", None)])
    assert app.tick("sweep").outcome == "aborted"


def test_cleanup_is_taken_before_the_active_backlog(client: firestore.Client) -> None:
    worker = RecordingWorker()
    clock = FakeClock(step=timedelta(milliseconds=100))
    app = make_app(client, worker, clock, deadline=3)
    app.register_many("sweep", [(n, None) for n in names(300)])
    app.register("sweep", "zz-gone")
    app.unregister("sweep", "zz-gone")
    first = app.tick("sweep")
    assert first.run_state == "ACTIVE" and first.cleaned == 1
    assert worker.cleaned == ["zz-gone"] and len(worker.processed) < 300
    assert app.get_work("sweep", "zz-gone").state == "dropped"


def test_unregistering_a_dropped_item_changes_nothing(client: firestore.Client) -> None:
    worker = RecordingWorker()
    clock = FakeClock()
    app = make_app(client, worker, clock)
    app.register("sweep", "a")
    app.unregister("sweep", "a")
    app.tick("sweep")
    assert app.get_work("sweep", "a").state == "dropped"
    assert app.unregister("sweep", "a") is False
    assert app.get_work("sweep", "a").state == "dropped"
    clock.advance(HOUR)
    app.tick("sweep")
    assert worker.cleaned == ["a"]  # cleaned once, never again


def test_bulk_unregister_and_release_are_one_call_each(client: firestore.Client) -> None:
    app = make_app(client, RecordingWorker(fail={"b": 9}), FakeClock(),
                   definition={"quarantine_after": 1})  # fmt: skip
    app.register_many("sweep", [(n, None) for n in ("a", "b", "c")])
    app.tick("sweep")
    assert app.release_many("sweep", ["a", "b", "nobody"]) == [False, True, False]
    assert app.unregister_many("sweep", ["a", "c", "nobody"]) == [True, True, False]
    assert app.unregister_many("sweep", ["a"]) == [False]  # idempotent
    with pytest.raises(slotwork.InvalidArgument, match="twice"):
        app.unregister_many("sweep", ["a", "a"])
    states = {w.id: w.state for w in app.list_work("sweep").items}
    assert states == {"a": "cleanup", "b": "queued", "c": "cleanup"}


def test_an_item_aborted_for_the_slot_by_its_errors_is_not_retried(
    client: firestore.Client,
) -> None:
    worker = RecordingWorker(errors_per_call={"a": 11})
    app = make_app(client, worker, FakeClock(), definition={"retry": RETRY})
    app.register("sweep", "a")
    app.tick("sweep")
    assert worker.processed == ["a"]
    work = app.get_work("sweep", "a")
    assert work.state == "aborted" and work.details.status.state == Status.ABORTED
