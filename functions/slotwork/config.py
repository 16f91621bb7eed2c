"""Configuration of the deployed functions, read from the environment once.

Every variable is optional; ``ENV_VARS`` lists them all (the Terraform tests
check that the deployment sets each one it should).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

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
    "SLOTWORK_SCHEDULER_PARENT",
    "SLOTWORK_SCHEDULER_ENDPOINT",
    "GOOGLE_CLOUD_PROJECT",
)


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InvalidArgument(f"{name} must be a number of seconds, got {raw!r}") from None
    if value <= 0:
        raise InvalidArgument(f"{name} must be positive, got {raw!r}")
    return value


@dataclass(frozen=True)
class Config:
    """Settings of one deployment (both functions read the same)."""

    processes_module: str = "processes"
    collection: str = DEFAULT_COLLECTION
    deadline_seconds: float = DEFAULT_DEADLINE_SECONDS
    lease_seconds: float = DEFAULT_LEASE_SECONDS
    min_frequency_seconds: float = DEFAULT_MIN_FREQUENCY_SECONDS
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
            project=env.get("GOOGLE_CLOUD_PROJECT") or None,
            scheduler_parent=env.get("SLOTWORK_SCHEDULER_PARENT") or None,
            scheduler_endpoint=env.get("SLOTWORK_SCHEDULER_ENDPOINT") or None,
        )
