"""Configuration of the deployed functions, read from the environment once.

Every variable is optional; ``ENV_VARS`` lists them all (the Terraform tests
check that the deployment sets each one it should).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

from slotwork.errors import InvalidArgument
from slotwork.params import validate_name

DEFAULT_COLLECTION = "slotwork"
# Below a 540 s function timeout and the Scheduler attempt deadline, with
# room for the final checkpoint.
DEFAULT_DEADLINE_SECONDS = 480.0
# Renewed by every checkpoint (a few seconds apart); a crashed holder's slot
# is resumed at most this long after its last checkpoint.
DEFAULT_LEASE_SECONDS = 120.0
DEFAULT_MIN_FREQUENCY_SECONDS = 900.0  # 15 minutes, as the seed library
DEFAULT_DATABASE = "(default)"
# How the API decides who may do what (slotwork.api.auth): "none" trusts IAM at the
# edge alone (local use); "verified" needs a verified caller, and writers by name.
API_AUTH_MODES = ("none", "verified")
# Firestore's rule for database ids: 4-63 of a-z, 0-9 and "-", a letter first, no
# "-" last (https://cloud.google.com/firestore/docs/manage-databases).
_DATABASE_ID = re.compile(r"[a-z][a-z0-9-]{2,61}[a-z0-9]")

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
    "SLOTWORK_SHARDS",
    "GOOGLE_CLOUD_PROJECT",
    "SLOTWORK_API_AUTH",
    "SLOTWORK_API_WRITERS",
    "SLOTWORK_TRUST_IAP",
    "SLOTWORK_DATABASE",
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


def _shards(env: Mapping[str, str]) -> dict[str, int]:
    """SLOTWORK_SHARDS: the shards Terraform deployed a Scheduler job for, per process
    (a JSON object); the App checks each against the code's definition."""
    raw = env.get("SLOTWORK_SHARDS", "").strip()
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        raise InvalidArgument(f"SLOTWORK_SHARDS must be a JSON object, got {raw[:80]!r}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool) and v > 0
        for k, v in value.items()
    ):
        raise InvalidArgument('SLOTWORK_SHARDS must map process names to shard counts: {"p": 4}')
    return value


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    value = _positive(env, name, float, "a number of seconds")
    return default if value is None else value


def _choice(env: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    raw = env.get(name, "").strip()
    if not raw:
        return choices[0]
    if raw.lower() not in choices:
        raise InvalidArgument(f"{name} must be one of {', '.join(choices)}, got {raw[:80]!r}")
    return raw.lower()


def _flag(env: Mapping[str, str], name: str) -> bool:
    return _choice(env, name, ("false", "true")) == "true"


def _list(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    """The comma-separated entries of ``name``, trimmed, empty ones dropped."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def _emails(env: Mapping[str, str], name: str) -> frozenset[str]:
    emails = _list(env, name)
    for email in emails:
        if email.count("@") != 1 or any(c.isspace() for c in email):
            raise InvalidArgument(f"{name} must be comma-separated emails, got {email[:80]!r}")
    # Google writes the emails of its tokens in lower case; a list typed by people may not be.
    return frozenset(email.lower() for email in emails)


def _collections(env: Mapping[str, str], name: str) -> tuple[str, ...]:
    return tuple(validate_name(entry, f"{name} entry {entry[:80]!r}") for entry in _list(env, name))


def _database(env: Mapping[str, str], name: str) -> str:
    raw = env.get(name, "").strip()
    if not raw or raw == DEFAULT_DATABASE:
        return DEFAULT_DATABASE
    if not _DATABASE_ID.fullmatch(raw):
        raise InvalidArgument(
            f"{name} must be {DEFAULT_DATABASE} or a Firestore database id "
            f"(4-63 of a-z, 0-9 and '-', a letter first), got {raw[:80]!r}"
        )
    return raw


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
    # The shards deployed per process (Terraform's processes[*].shards).
    shards: Mapping[str, int] = field(default_factory=dict)
    # The API's authorization: "none" or "verified" (slotwork.api.auth).
    api_auth: str = "none"
    # Who may write through the API when api_auth is "verified" (lower-cased emails).
    api_writers: frozenset[str] = frozenset()
    # Believe the IAP user header: only when IAP fronts the function and nothing else can.
    trust_iap: bool = False
    # The Firestore database (a named one, or the project's default).
    database: str = DEFAULT_DATABASE
    # The collections the TTL sweeper example may sweep (empty: none).
    ttl_sweeper_collections: tuple[str, ...] = ()

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
            shards=_shards(env),
            api_auth=_choice(env, "SLOTWORK_API_AUTH", API_AUTH_MODES),
            api_writers=_emails(env, "SLOTWORK_API_WRITERS"),
            trust_iap=_flag(env, "SLOTWORK_TRUST_IAP"),
            database=_database(env, "SLOTWORK_DATABASE"),
            ttl_sweeper_collections=_collections(env, "SLOTWORK_TTL_SWEEPER_COLLECTIONS"),
        )
