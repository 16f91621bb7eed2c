"""``slotwork settings``: the PATCH body of the flags given, each flag changing only
what it names.

The API replaces the messages it is sent whole: ``errorBudget: {perItem}``
resets ``perRun`` to its default, ``settings`` replaces every parameter, and
``catchUp: {runLateWithin}`` alone switches the policy to RUN_LATE. So where a
flag names one part of such a message, the process is read first and the
other parts are sent as they are stored. A combination that cannot work is
refused before any request; one that cannot work with what is stored is
refused after that read, before anything is written.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from slotwork_cli import values

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_NUMBER = re.compile(r"^\d+(?:\.\d+)?$")


class SettingsError(Exception):
    """The flags cannot be applied to this process as it is; nothing was written."""


# -- flag values (argparse types: a bad value is a usage error, before any request) ---------
def duration(text: str) -> str:
    """A proto3 JSON Duration from ``90``, ``90s``, ``15m``, ``1h`` or ``2d``."""
    found = _DURATION.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 900s, 15m, 1h, 2d")
    seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2) or "s"]
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: a duration must be positive")
    return f"{seconds:g}s" if seconds != int(seconds) else f"{int(seconds)}s"


def _json_number(value: float) -> int | float:
    return int(value) if value.is_integer() else value


def rate_limit(text: str) -> dict[str, Any]:
    """``rateLimit`` from ``N`` (items per second) or ``N/PERIOD`` (``100/1m``, ``5/h``)."""
    count_text, slash, period = text.strip().partition("/")
    if not _NUMBER.match(count_text) or float(count_text) <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a rate such as 200 (per second), 100/1m or 5/h"
        )
    limit: dict[str, Any] = {"count": _json_number(float(count_text))}
    if slash:
        # "100/m" reads as "100 per minute": a unit alone is one of it.
        limit["per"] = duration(f"1{period}" if period in _UNIT_SECONDS else period)
    return limit


def non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be 0 or more")
    return value


def per_run(text: str) -> int | float:
    """A run's error budget: a count (``25``) or a part of its items (``0.2``, ``20%``)."""
    given = text.strip()
    percent = given.endswith("%")
    number = given.removesuffix("%")
    if not _NUMBER.match(number):
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a count (25) or a part of the run's items (0.2 or 20%)"
        )
    if not percent and "." not in number:
        return int(number)
    fraction = float(number) / (100 if percent else 1)
    if not 0 < fraction < 1:
        raise argparse.ArgumentTypeError(
            f"{text!r}: a part of the run's items must be between 0 and 1 (0%-100%), exclusive; "
            "for a count, give a whole number"
        )
    return fraction


def merge_params(
    base: Mapping[str, Any], ints: Mapping[str, int], strings: Mapping[str, str]
) -> dict[str, Any]:
    """Params ``base`` (either spelling of its two maps) with ``ints`` and ``strings`` set."""
    merged = {k: dict(v) if isinstance(v, Mapping) else v for k, v in base.items()}
    for camel, snake, given in (
        ("intParams", "int_params", ints),
        ("stringParams", "string_params", strings),
    ):
        if given:
            key = snake if snake in merged else camel
            current = merged.get(key, {})
            if isinstance(current, Mapping):  # else left as given, for the API to refuse
                merged[key] = {**current, **given}
    return merged


# -- the change --------------------------------------------------------------------------
@dataclass(frozen=True)
class Change:
    """What the flags of ``slotwork settings`` ask for (None: not given)."""

    frequency: str | None = None
    params: Mapping[str, Any] | None = None  # --params: every parameter
    ints: Mapping[str, int] = field(default_factory=dict)  # --int: these keys only
    strings: Mapping[str, str] = field(default_factory=dict)
    catch_up: str | None = None  # "skip" or "run_late"
    run_late_within: str | None = None
    pause_after_aborts: int | None = None
    rate_limit: Mapping[str, Any] | None = None
    per_item: int | None = None
    per_run: int | float | None = None

    def impossible(self) -> str | None:
        """Why these flags cannot work whatever is stored, or None."""
        if self.catch_up == "skip" and self.run_late_within is not None:
            return (
                "--catch-up skip and --run-late-within cannot go together: the window is how "
                "long the run_late policy keeps finishing a late run; skip has none"
            )
        return None

    @property
    def empty(self) -> bool:
        return not self.fields()

    def fields(self) -> list[str]:
        """The PATCH fields these flags change."""
        given = {
            "scheduleFrequency": self.frequency is not None,
            "settings": self.params is not None or bool(self.ints or self.strings),
            "catchUp": self.catch_up is not None or self.run_late_within is not None,
            "pauseAfterAborts": self.pause_after_aborts is not None,
            "rateLimit": self.rate_limit is not None,
            "errorBudget": self.per_item is not None or self.per_run is not None,
        }
        return [name for name, present in given.items() if present]

    def needs_stored(self) -> bool:
        """Whether the body depends on what is stored (the parts the flags leave)."""
        merge_settings = self.params is None and bool(self.ints or self.strings)
        partial_catch_up = (self.catch_up is None) != (self.run_late_within is None)
        partial_budget = (self.per_item is None) != (self.per_run is None)
        return merge_settings or (partial_catch_up and self.catch_up != "skip") or partial_budget

    def body(self, process: str, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        """The PATCH body; ``stored`` (the process as the API shows it) is needed
        when ``needs_stored()``. SettingsError when it cannot work with what is stored."""
        body: dict[str, Any] = {}
        if self.frequency is not None:
            body["scheduleFrequency"] = self.frequency
        if "settings" in self.fields():
            body["settings"] = self._settings(stored)
        if "catchUp" in self.fields():
            body["catchUp"] = self._catch_up(process, stored or {})
        if self.pause_after_aborts is not None:
            body["pauseAfterAborts"] = self.pause_after_aborts
        if self.rate_limit is not None:
            body["rateLimit"] = dict(self.rate_limit)
        if "errorBudget" in self.fields():
            body["errorBudget"] = self._error_budget(stored or {})
        return body

    def _settings(self, stored: Mapping[str, Any] | None) -> dict[str, Any]:
        base = self.params if self.params is not None else (stored or {}).get("settings", {})
        return merge_params(base, self.ints, self.strings)

    def _catch_up(self, process: str, stored: Mapping[str, Any]) -> dict[str, Any]:
        if self.catch_up == "skip":
            return {"policy": "SKIP"}
        current = stored.get("catchUp", {})
        if self.catch_up == "run_late":
            within = self.run_late_within or current.get("runLateWithin")
            if not within:
                raise SettingsError(
                    f"--catch-up run_late needs --run-late-within: {process} has no run-late "
                    "window stored (nothing was changed)"
                )
            return {"policy": "RUN_LATE", "runLateWithin": within}
        if current.get("policy") != "RUN_LATE":
            raise SettingsError(
                f"the catch-up policy of {process} is skip, where --run-late-within means "
                "nothing; to keep finishing late runs, add --catch-up run_late "
                "(nothing was changed)"
            )
        return {"runLateWithin": self.run_late_within}

    def _error_budget(self, stored: Mapping[str, Any]) -> dict[str, Any]:
        current = stored.get("errorBudget", {})
        fraction = values.number(current.get("perRunFraction"))
        stored_run: int | float = fraction if fraction > 0 else values.count(current.get("perRun"))
        return {
            "perItem": self.per_item
            if self.per_item is not None
            else values.count(current.get("perItem")),
            "perRun": self.per_run if self.per_run is not None else stored_run,
        }
