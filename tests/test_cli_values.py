"""The CLI's pure parts: how the API's values read, flag values, PATCH bodies, widths."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime

import pytest

from slotwork_cli import values
from slotwork_cli.fit import GAP, Column, layout, widths
from slotwork_cli.settings import Change, SettingsError, per_run, rate_limit

NOW = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)


@pytest.mark.parametrize("epoch", ["1970-01-01T00:00:00Z", "1970-01-01T00:00:00.000Z", "", None])
def test_a_time_at_the_unix_epoch_or_absent_reads_never(epoch: str | None) -> None:
    assert values.when(epoch) == "never"
    assert values.when_relative(epoch, NOW) == "never"


def test_times_read_to_the_second_with_how_long_ago() -> None:
    assert values.when("2026-12-01T19:54:27.123456Z") == "2026-12-01T19:54:27Z"
    assert values.when_relative("2026-12-01T19:54:27Z", NOW) == "2026-12-01T19:54:27Z (5m33s ago)"
    assert values.relative("2026-12-01T22:05:00Z", NOW) == "in 2h05m"


@pytest.mark.parametrize(
    ("per_second", "shown"), [(0, "-"), (0.5, "30.0/m"), (12.34, "12.3/s"), (1234.5, "1,234/s")]
)
def test_rates_read_in_a_unit_that_keeps_a_digit(per_second: float, shown: str) -> None:
    assert values.rate(per_second) == shown


def test_a_bar_never_looks_finished_while_an_item_is_left() -> None:
    assert values.bar(999, 1000, 10) == "█" * 9 + "░"
    assert values.bar(1000, 1000, 10) == "█" * 10
    assert values.bar(0, 1000, 10) == "░" * 10


@pytest.mark.parametrize(
    ("text", "limit"),
    [
        ("200", {"count": 200}),
        ("0.5", {"count": 0.5}),
        ("100/1m", {"count": 100, "per": "60s"}),
        ("100/m", {"count": 100, "per": "60s"}),
        ("5/h", {"count": 5, "per": "3600s"}),
        ("10/90s", {"count": 10, "per": "90s"}),
    ],
)
def test_rate_limit_flags_map_to_the_patch_field(text: str, limit: dict[str, object]) -> None:
    assert rate_limit(text) == limit


@pytest.mark.parametrize(
    ("text", "budget"), [("25", 25), ("0", 0), ("0.2", 0.2), ("20%", 0.2), ("12.5%", 0.125)]
)
def test_a_run_budget_is_a_count_or_a_part_of_the_items(text: str, budget: float) -> None:
    assert per_run(text) == budget
    assert isinstance(per_run(text), int) is (text.isdigit())


@pytest.mark.parametrize("text", ["1.0", "1.5", "100%", "0.0", "-1", "a"])
def test_a_run_budget_that_is_neither_is_refused(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        per_run(text)


STORED = {
    "settings": {"intParams": {"a": "1"}, "stringParams": {"z": "x"}},
    "catchUp": {"policy": "RUN_LATE", "runLateWithin": "1800s"},
    "errorBudget": {"perItem": 10, "perRun": 0, "perRunFraction": 0.2},
}


def test_a_flag_that_names_part_of_a_message_keeps_the_rest_as_stored() -> None:
    change = Change(ints={"b": 2}, run_late_within="600s", per_item=3)
    assert change.needs_stored()
    assert change.body("p", STORED) == {
        "settings": {"intParams": {"a": "1", "b": 2}, "stringParams": {"z": "x"}},
        "catchUp": {"runLateWithin": "600s"},
        "errorBudget": {"perItem": 3, "perRun": 0.2},
    }


def test_whole_values_need_nothing_stored() -> None:
    change = Change(
        frequency="3600s",
        params={"intParams": {"n": 1}},
        catch_up="skip",
        rate_limit={"count": 5},
        per_item=1,
        per_run=2,
    )
    assert not change.needs_stored()
    assert change.body("p", None) == {
        "scheduleFrequency": "3600s",
        "settings": {"intParams": {"n": 1}},
        "catchUp": {"policy": "SKIP"},
        "rateLimit": {"count": 5},
        "errorBudget": {"perItem": 1, "perRun": 2},
    }


def test_a_run_late_window_on_a_skip_policy_is_refused() -> None:
    assert Change(catch_up="skip", run_late_within="60s").impossible()
    with pytest.raises(SettingsError, match="policy of p is skip"):
        Change(run_late_within="60s").body("p", {"catchUp": {"policy": "SKIP"}})
    with pytest.raises(SettingsError, match="needs --run-late-within"):
        Change(catch_up="run_late").body("p", {"catchUp": {"policy": "SKIP"}})


def test_columns_are_dropped_least_important_first_and_words_never_cut() -> None:
    columns = [
        Column("process", ["ttl-sweeper"]),
        Column("run", ["INCOMPLETE"]),
        Column("notes", ["paused, 3 quarantined"], wrap=True, keep=50),
        Column("rate", ["12.3/s"], "right", keep=10),
    ]
    natural = 11 + 10 + 21 + 6 + 3 * GAP
    assert widths(columns, natural) == [11, 10, 21, 6]
    assert widths(columns, natural - 5) == [11, 10, 16, 6]  # notes wraps first
    found = layout(columns, 11 + 10 + 11 + 2 * GAP)
    assert found is not None
    kept, chosen = found
    assert [c.header for c in kept] == ["process", "run", "notes"]  # rate dropped
    assert chosen == [11, 10, 11]  # "quarantined", the longest word, stays whole
    assert layout(columns, 20) is None  # even process and run do not fit
