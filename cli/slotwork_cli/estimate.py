"""A run's or a shard's ``estimate`` (the schema's Estimate message) as one typed value."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from slotwork_cli import values

# The API's state words of a finished run (slotwork.model.STATUS_WORDS).
FINAL_STATES = frozenset({"completed", "incomplete", "aborted"})


@dataclass(frozen=True)
class Estimate:
    """Items of the run's frozen total: done (processed or cleaned, failed or not),
    left and failed; the rate over the last minutes; the ETA at that rate."""

    total: int
    done: int
    left: int
    failed: int
    rate: float
    eta: datetime | None
    slot_end: datetime | None
    finishes_in_slot: bool

    @classmethod
    def of(cls, estimate: Mapping[str, Any] | None) -> Estimate:
        given = estimate or {}
        return cls(
            total=values.count(given.get("total")),
            done=values.count(given.get("done")),
            left=values.count(given.get("left")),
            failed=values.count(given.get("failed")),
            rate=values.number(given.get("rate")),
            eta=values.parse_time(given.get("eta")),
            slot_end=values.parse_time(given.get("slotEnd")),
            finishes_in_slot=bool(given.get("finishesInSlot")),
        )

    @property
    def late(self) -> bool:
        """Work is left and, at the current rate, it ends after the slot does."""
        return self.left > 0 and self.eta is not None and not self.finishes_in_slot

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 0.0

    def eta_text(self, now: datetime, final: bool) -> str:
        """``13m32s`` from now; ``done``; ``-`` for a finished run or an unknown ETA."""
        if final:
            return values.NONE
        if not self.left:
            return "done"
        if self.eta is None:
            return values.NONE
        return values.span((self.eta - now).total_seconds())

    def warning(self, now: datetime, final: bool) -> str | None:
        """Why this part will not finish in its slot, or None."""
        if final or not self.late or self.eta is None:
            return None
        takes = values.span((self.eta - now).total_seconds())
        ends = ""
        if self.slot_end is not None:
            verb = "ends" if self.slot_end > now else "ended"
            ends = f", and the slot {verb} {values.relative(self.slot_end, now)}"
        return (
            f"will not finish in this slot: at {values.rate(self.rate)} its {self.left:,} "
            f"item{'s' if self.left != 1 else ''} left take {takes}{ends}"
        )


def is_final(run: Mapping[str, Any]) -> bool:
    """Whether the run has ended (nothing more moves in it)."""
    return values.run_state(run) in FINAL_STATES
