"""Configuration of the deployed functions, read from the environment once.

Every variable is optional; ``ENV_VARS`` lists them all (the Terraform tests
check that the deployment sets each one it should).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from slotwork.errors import InvalidArgument

DEFAULT_COLLECTION = "slotwork"
# Below a 540 s function timeout and the Scheduler attempt deadline, with
# room for the final checkpoint.
DEFAULT_DEADLINE_SECONDS = 480.0
# Renewed by every checkpoint (a few seconds apart); a crashed holder's slot
# is resumed at most this long after its last checkpoint.
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_MIN_FREQUENCY_SECONDS = 900.0  # 15 minutes, as the seed library

ENV_VARS = (
    "SLOTWORK_PROCESSES",
    "SLOTWORK_COLLECTION",
    "SLOTWORK_DEADLINE_SECONDS",
    "SLOTWORK_LEASE_SECONDS",
    "SLOTWORK_MIN_FREQUENCY_SECONDS",
    "SLOTWORK_CHECKPOINT_ITEMS",
    "SLOTWORK_CHECKPOINT_SECONDS",
    "SLOTWORK_SCHEDULER_PARENT",
    "SLOTWORK_SCHEDULER_ENDPOINT",
    "GOOGLE_CLOUD_PROJECT",
    "SLOTWORK_SHARDS",
    "SLOTWORK_DATABASE",
    "SLOTWORK_API_WRITERS",
    "SLOTWORK_API_AUTH",
    "SLOTWORK_TRUST_IAP",
    "SLOTWORK_TTL_SWEEPER_COLLECTIONS",
)


N = TypeVar("N", int, float)


def _positive(env: Mapping[str, str], name: str, parse: Callable[[str], N], what: str) -> N | None:
    """The positive number ``name`` holds, or None when it is unset or empty."""
    raw = env.get(name, "").strip()
    if not raw:
        return None
    try:
        value = parse(raw)
    except ValueError:
        raise InvalidArgument(f"{name} must be {what}, got {raw!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise InvalidArgument(f"{name} must be positive and finite, got {raw!r}")
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = _positive(env, name, float, "a number of seconds")
    return default if value is None else value


@dataclass(frozen=True)
class Config:
    """Settings of one deployment (both functions read the same)."""

    processes_module: str = "processes"
    collection: str = DEFAULT_COLLECTION
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    min_frequency_seconds: float = DEFAULT_MIN_FREQUENCY_SECONDS
    # None: the engine's own defaults (slotwork.engine.EngineConfig), which
    # also bound them (the App refuses a checkpoint larger than one commit).
    checkpoint_items: int | None = None
    checkpoint_seconds: float | None = None
    project: str | None = None
    # "projects/P/locations/L": where the Scheduler jobs live (continuations, :run).
    scheduler_parent: str | None = None
    # Only for the local stand-in: an http:// endpoint serving the Scheduler REST API.
    scheduler_endpoint: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Config:
        """Read the configuration from an environment mapping (``os.environ``)."""
        return cls(
            processes_module=env.get("SLOTWORK_PROCESSES") or "processes",
            collection=env.get("SLOTWORK_COLLECTION") or DEFAULT_COLLECTION,
            deadline_seconds=_seconds(env, "SLOTWORK_DEADLINE_SECONDS", DEFAULT_DEADLINE_SECONDS),
            lease_seconds=_seconds(env, "SLOTWORK_LEASE_SECONDS", DEFAULT_LEASE_SECONDS),
            min_frequency_seconds=_seconds(
                env, "SLOTWORK_MIN_FREQUENCY_SECONDS", DEFAULT_MIN_FREQUENCY_SECONDS
            ),
            checkpoint_items=_positive(env, "SLOTWORK_CHECKPOINT_ITEMS", int, "an integer"),
            checkpoint_seconds=_positive(
                env, "SLOTWORK_CHECKPOINT_SECONDS", float, "a number of seconds"
            ),
            project=env.get("GOOGLE_CLOUD_PROJECT") or None,
            scheduler_parent=env.get("SLOTWORK_SCHEDULER_PARENT") or None,
            scheduler_endpoint=env.get("SLOTWORK_SCHEDULER_ENDPOINT") or None,
        )
