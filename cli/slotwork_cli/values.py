"""The API's JSON values as people read them: counts, times, durations, rates.

The API answers in the proto3 JSON mapping: int64 counts are strings, times
are RFC 3339, durations ``"3600s"``, and an unset Timestamp of the schema is
the Unix epoch (an item's ``doneSlot`` before its first processing), which
means "never", not 1970.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

NONE = "-"
NEVER = "never"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def count(value: Any) -> int:
    """An int64 of the API (a JSON string or number); 0 when absent or unreadable."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value)
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            return 0
    return 0


def number(value: Any) -> float:
    """A double of the API; 0.0 when absent or not a number ("NaN" is a string there)."""
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    return 0.0


def grouped(value: Any) -> str:
    """A count with thousands separators: ``12,345``."""
    return f"{count(value):,}"


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 time of the API (or a datetime); None when absent, unreadable
    or the epoch ("never")."""
    if isinstance(value, datetime):
        moment = value
    elif not isinstance(value, str) or not value:
        return None
    else:
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return None if moment <= EPOCH else moment.astimezone(UTC)


def when(value: Any, missing: str = NEVER) -> str:
    """A time to the second, in UTC as the API gives it; ``missing`` for none."""
    moment = parse_time(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else missing


def clock_time(value: Any, missing: str = NONE) -> str:
    """The time of day alone (``20:41:07Z``), for views that show today's times."""
    moment = parse_time(value)
    return moment.strftime("%H:%M:%SZ") if moment else missing


def span(seconds: float) -> str:
    """A length of time in its two largest units: ``45s``, ``13m32s``, ``2h05m``, ``3d4h``."""
    seconds = max(0, round(seconds))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h" if hours else f"{days}d"
    if hours:
        return f"{hours}h{minutes:02d}m"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{secs}s"


def relative(value: Any, now: datetime) -> str:
    """``in 13m32s`` or ``5m ago`` from ``now``; "" for no time."""
    moment = parse_time(value)
    if moment is None:
        return ""
    seconds = (moment - now).total_seconds()
    if abs(seconds) < 1:
        return "now"
    return f"in {span(seconds)}" if seconds > 0 else f"{span(-seconds)} ago"


def when_relative(value: Any, now: datetime, missing: str = NEVER) -> str:
    """``2026-12-01T20:41:07Z (5m ago)``, or ``missing``."""
    shown = when(value, missing)
    if shown == missing:
        return missing
    return f"{shown} ({relative(value, now)})"


def duration_seconds(value: Any) -> float | None:
    """A proto3 JSON Duration (``"3600s"``, ``"1.5s"``) in seconds; None when absent."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return float(value[:-1])
        except ValueError:
            return None
    return None


def frequency(value: Any) -> str:
    """A Duration as people say it: ``1h``, ``15m``, ``90s``."""
    seconds = duration_seconds(value)
    if seconds is None:
        return NONE
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return span(seconds) if seconds >= 60 else f"{seconds:g}s"


def rate(items_per_second: Any) -> str:
    """``12.3/s`` (``-`` when not known yet); slow rates per minute or hour."""
    value = number(items_per_second)
    if value <= 0:
        return NONE
    if value >= 100:
        return f"{value:,.0f}/s"
    if value >= 1:
        return f"{value:.1f}/s"
    if value * 60 >= 1:
        return f"{value * 60:.1f}/m"
    return f"{value * 3600:.1f}/h"


def bar(done: int, total: int, width: int) -> str:
    """A progress bar of ``width`` cells: done cells full, the rest shaded, so it
    reads without colour too (piped into a log, say)."""
    if total <= 0 or width <= 0:
        return " " * max(width, 0)
    full = min(width, int(width * min(done, total) / total))
    if done < total and full == width:
        full = width - 1  # never look finished while something is left
    return "█" * full + "░" * (width - full)


def took(seconds: float) -> str:
    """How long something took: ``12 ms``, ``3.4 s``, ``13m32s``."""
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.0005 else "<1 ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    return span(seconds)


def stats(values: Mapping[str, Any]) -> str:
    """``k=v, ...`` in name order (``-`` for none)."""
    shown = [
        f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(values.items())
    ]
    return ", ".join(shown) or NONE


def params(value: Mapping[str, Any]) -> str:
    """Params ``{"intParams", "stringParams"}`` as ``k=v, ...`` (``-`` for none)."""
    merged = {**value.get("intParams", {}), **value.get("stringParams", {})}
    return ", ".join(f"{k}={v}" for k, v in sorted(merged.items())) or NONE


def run_state(run: Mapping[str, Any]) -> str:
    """The state word of a run (``-`` when there is no run yet)."""
    state = str(run.get("status", {}).get("state", "") or "")
    return NONE if state in ("", "unspecified") else state


def now_utc() -> datetime:
    """The CLI's own clock: only for "in 5m" and "5m ago" next to the API's times."""
    return datetime.now(UTC)


def seconds_between(later: Any, earlier: Any) -> timedelta | None:
    """``later - earlier`` of two API times (None when either is missing)."""
    a, b = parse_time(later), parse_time(earlier)
    return a - b if a and b else None
