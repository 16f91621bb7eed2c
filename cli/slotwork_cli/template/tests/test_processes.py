"""The greeter's tests: real ticks of the process in memory (``slotwork.testing``),
with a fake clock; no emulator, no server, milliseconds each."""

from __future__ import annotations

from datetime import timedelta

from processes import PROCESSES
from slotwork.testing import Harness


def test_every_registered_name_is_greeted_once_a_slot() -> None:
    h = Harness(*PROCESSES)
    h.register_many("greeter", ["ada", "grace"])
    report = h.run_slot("greeter")
    assert report.run_state == "COMPLETED"
    assert {name: (r.calls, r.stats) for name, r in report.items.items()} == {
        "ada": (1, {"greeted": 1.0}),
        "grace": (1, {"greeted": 1.0}),
    }


def test_the_next_slot_greets_again() -> None:
    h = Harness(*PROCESSES)
    h.register("greeter", "ada")
    h.run_slot("greeter")
    h.advance(timedelta(seconds=30))
    report = h.run_slot("greeter")
    assert report.items["ada"].calls == 2


def test_an_unregistered_name_is_cleaned_up_then_dropped() -> None:
    h = Harness(*PROCESSES)
    h.register("greeter", "ada")
    h.run_slot("greeter")
    h.unregister("greeter", "ada")
    report = h.run_slot("greeter")
    assert report.items["ada"].calls == 1
    assert report.items["ada"].cleanups == 1
