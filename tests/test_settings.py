"""Settings changes change only what they name (issue 16 §7): catch-up parts,
error-budget halves, rate removal, and no new settings version for no change."""

from __future__ import annotations

from datetime import timedelta

import pytest
from google.cloud import firestore

import slotwork
from slotwork.schema import CatchUp

from helpers import FakeClock, RecordingWorker, make_app


@pytest.fixture
def app(client: firestore.Client) -> slotwork.App:
    return make_app(client, RecordingWorker(), FakeClock())


def test_a_window_alone_does_not_switch_skip_to_run_late(app: slotwork.App) -> None:
    with pytest.raises(slotwork.InvalidArgument, match="give catch_up run_late"):
        app.update_settings("sweep", run_late_within=timedelta(minutes=10))
    assert app.get_process("sweep").catch_up.policy == CatchUp.SKIP


def test_each_part_of_the_catch_up_policy_changes_only_itself(app: slotwork.App) -> None:
    app.update_settings("sweep", catch_up="run_late", run_late_within=timedelta(minutes=30))
    app.update_settings("sweep", run_late_within=timedelta(minutes=10))
    late = app.get_process("sweep").catch_up
    assert late.policy == CatchUp.RUN_LATE and late.run_late_within.seconds == 600
    app.update_settings("sweep", catch_up="run_late")  # the stored window stays
    assert app.get_process("sweep").catch_up.run_late_within.seconds == 600
    with pytest.raises(slotwork.InvalidArgument, match="skip policy takes no"):
        app.update_settings("sweep", catch_up="skip", run_late_within=timedelta(minutes=1))
    app.update_settings("sweep", catch_up="skip")
    assert app.get_process("sweep").catch_up == CatchUp(policy=CatchUp.SKIP)


def test_an_unchanged_setting_writes_nothing_and_reopens_no_slot(app: slotwork.App) -> None:
    app.register("sweep", "a")
    app.tick("sweep")
    version = app.get_process("sweep").settings_version
    app.update_settings("sweep", frequency=timedelta(hours=1), settings={})
    assert app.get_process("sweep").settings_version == version
    assert app.tick("sweep").outcome == "done"
    app.update_settings("sweep", frequency=timedelta(hours=2))
    assert app.get_process("sweep").settings_version == version + 1


def test_the_stored_rate_limit_can_be_removed(app: slotwork.App) -> None:
    app.update_settings("sweep", rate_limit=slotwork.Rate(5))
    assert app.get_process("sweep").rate_limit.count == 5
    app.update_settings("sweep", rate_limit=0)
    assert not app.get_process("sweep").HasField("rate_limit")


def test_half_an_error_budget_over_the_api_keeps_the_other_half(
    app: slotwork.App,
) -> None:
    from slotwork.api.local import flask_app

    app.update_settings("sweep", error_budget=slotwork.ErrorBudget(per_item=10, per_run=0.2))
    http = flask_app(app).test_client()
    answer = http.patch("/processes/sweep", json={"errorBudget": {"perItem": 3}})
    assert answer.status_code == 200, answer.get_json()
    budget = app.get_process("sweep").error_budget
    assert (budget.per_item, budget.per_run_fraction) == (3, pytest.approx(0.2))
    removed = http.patch("/processes/sweep", json={"rateLimit": {"count": 0}})
    assert removed.status_code == 200
