"""True progress (issue 16 §3): a frozen denominator, done + left = total at every
checkpoint (adjusted by the items changed since the run began), a rate and an ETA;
and run history that is never overwritten (§5). On the real emulator."""

from __future__ import annotations

from datetime import timedelta

from google.cloud import firestore

from slotwork.schema import Status

from helpers import HOUR, FakeClock, RecordingWorker, make_app


def names(n: int) -> list[str]:
    return [f"item-{i:03d}" for i in range(n)]


def test_done_and_left_add_up_to_the_frozen_total_adjusted_by_changes(
    client: firestore.Client,
) -> None:
    clock = FakeClock(step=timedelta(milliseconds=100))
    app = make_app(client, RecordingWorker(), clock, deadline=4)
    app.register_many("sweep", [(n, None) for n in names(100)])
    first = app.tick("sweep")
    assert first.run_state == "ACTIVE"
    estimate = app.get_process("sweep").run.estimate
    assert estimate.total == 100 and estimate.done == first.processed
    assert estimate.done + estimate.left == estimate.total
    # Changes during the run: three new items, one done item sent to cleanup.
    app.register_many("sweep", [(f"new-{n}", None) for n in range(3)])
    app.unregister("sweep", "item-000")
    estimate = app.get_process("sweep").run.estimate
    assert estimate.total == 104 and estimate.done + estimate.left == estimate.total
    while (result := app.tick("sweep")).run_state == "ACTIVE":
        mid = app.get_process("sweep").run.estimate
        assert mid.done + mid.left == mid.total and mid.total >= 104
    assert result.run_state == "COMPLETED"
    final = app.get_process("sweep").run
    assert final.estimate.left == 0 and final.estimate.done == final.estimate.total == 104
    assert final.items_total == 104


def test_the_rate_and_eta_follow_the_progress_points(client: firestore.Client) -> None:
    clock = FakeClock(step=timedelta(milliseconds=200))
    app = make_app(client, RecordingWorker(), clock, deadline=60, checkpoint_seconds=5)
    app.register_many("sweep", [(n, None) for n in names(400)])
    app.tick("sweep")
    state = app.get_process("sweep")
    estimate = state.run.estimate
    assert estimate.rate > 0 and estimate.left > 0
    eta = estimate.eta.ToDatetime(tzinfo=clock.now.tzinfo)
    expected = clock.now + timedelta(seconds=estimate.left / estimate.rate)
    assert abs((eta - expected).total_seconds()) < 5
    assert estimate.finishes_in_slot  # an hour's slot is plenty
    assert state.shards[0].estimate.total == 400


def test_a_reopened_slot_gets_a_run_record_of_its_own(client: firestore.Client) -> None:
    clock = FakeClock()
    app = make_app(client, RecordingWorker(), clock)
    app.register_many("sweep", [(n, None) for n in names(3)])
    app.tick("sweep")
    app.unregister("sweep", "item-001")  # reopens the finished slot
    assert app.tick("sweep").outcome == "claimed"
    clock.advance(HOUR)
    app.tick("sweep")
    runs, _ = app.list_runs("sweep")
    assert [r.run.sequence for r in runs] == [1, 2, 1]
    assert runs[1].run.id.endswith("-0002")
    first, second = runs[2].run, runs[1].run
    assert first.status.stats["workItems"] == 3 and first.status.state == Status.COMPLETED
    assert second.status.stats["workItemsCleaned"] == 1 and second.status.stats["workItems"] == 0
    page, token = app.list_runs("sweep", page_size=2)
    assert len(page) == 2 and token == page[1].run.id
    rest, end = app.list_runs("sweep", page_token=token)
    assert [r.run.id for r in rest] == [first.id] and end == ""
