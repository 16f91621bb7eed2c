"""The Cloud Scheduler job definitions, read from the file Terraform deploys them from.

``terraform/processes.auto.tfvars.json`` is the one source of truth: Terraform
creates one job per entry and shard (``job_id(process, shard)``), and the local
scheduler ticks the same entries with the same schedule and retry policy.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from slotwork_local.layout import CHECKOUT, JOBS

JOBS_FILE = CHECKOUT / JOBS
JOB_PREFIX = "slotwork-"  # as slotwork.triggers.job_id and Terraform's local.job_ids
# Cloud Scheduler's own limits on retry_config (values outside are refused at apply).
MAX_RETRY_COUNT = 5
MAX_SHARDS = 100  # as the validation of Terraform's var.processes


class JobsFileError(ValueError):
    """The job definitions file is missing or malformed; the message names what and where."""


def job_id(process: str, shard: int) -> str:
    """The job id of one shard of a process, as Terraform names it."""
    return f"{JOB_PREFIX}{process}-{shard}"


@dataclass(frozen=True)
class RetryPolicy:
    """Cloud Scheduler's RetryConfig: how a failed attempt is retried.

    The interval starts at ``min_backoff_seconds``, doubles ``max_doublings``
    times, then grows linearly by ``min * 2**max_doublings`` and is capped at
    ``max_backoff_seconds``: with 10 s, 300 s and 3 doublings the retries come
    10, 20, 40, 80, 160, 240, 300, 300 ... seconds apart (the RetryConfig docs).
    """

    retry_count: int = 0
    min_backoff_seconds: float = 5.0
    max_backoff_seconds: float = 3600.0
    max_doublings: int = 5
    max_retry_duration_seconds: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.retry_count <= MAX_RETRY_COUNT:
            raise JobsFileError(f"retry_count must be within 0..{MAX_RETRY_COUNT}")
        if self.min_backoff_seconds < 0 or self.max_backoff_seconds < self.min_backoff_seconds:
            raise JobsFileError("backoffs must satisfy 0 <= min_backoff <= max_backoff")
        if self.max_doublings < 0 or self.max_retry_duration_seconds < 0:
            raise JobsFileError("max_doublings and max_retry_duration must not be negative")

    def backoff(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (0 is the first retry)."""
        step = self.min_backoff_seconds * 2**self.max_doublings  # the linear phase's step
        doubled = self.min_backoff_seconds * 2 ** min(retry, self.max_doublings)
        linear = max(0, retry - self.max_doublings) * step
        return float(min(self.max_backoff_seconds, doubled + linear))

    def may_retry(self, retries_done: int, elapsed_seconds: float) -> bool:
        """Whether another retry is allowed after ``retries_done`` retries.

        With both limits set, retries continue until both are reached; a zero
        duration means no time limit, so ``retry_count`` alone decides.
        """
        count_left = retries_done < self.retry_count
        if self.max_retry_duration_seconds <= 0:
            return count_left
        return count_left or elapsed_seconds < self.max_retry_duration_seconds


@dataclass(frozen=True)
class JobSpec:
    """One shard's job: its cron schedule, attempt deadline and retry policy."""

    process: str
    schedule: str
    time_zone: str
    attempt_deadline_seconds: float
    retry: RetryPolicy
    shard: int = 0

    @property
    def job_id(self) -> str:
        return job_id(self.process, self.shard)

    @property
    def body(self) -> dict[str, str | int]:
        """The JSON body every tick POSTs to ``run`` (as Terraform's http_target.body)."""
        return {"process": self.process, "shard": self.shard}


# The defaults of Terraform's optional() attributes of var.processes (variables.tf).
DEFAULTS: dict[str, float] = {"attempt_deadline_seconds": 540}
RETRY_DEFAULTS: dict[str, float] = {
    "retry_count": 3,
    "min_backoff_seconds": 10,
    "max_backoff_seconds": 300,
    "max_doublings": 3,
    "max_retry_duration_seconds": 0,
}


def _number(entry: Mapping[str, Any], key: str, where: str) -> float:
    value = entry.get(key, {**DEFAULTS, **RETRY_DEFAULTS}.get(key))
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise JobsFileError(f"{where}: {key} must be a number, got {value!r}")
    return float(value)


def _shards(entry: Mapping[str, Any], where: str) -> int:
    value = entry.get("shards", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SHARDS:
        raise JobsFileError(f"{where}: shards must be an integer 1..{MAX_SHARDS}, got {value!r}")
    return value


def parse_jobs(data: Mapping[str, Any], source: str = "job definitions") -> dict[str, JobSpec]:
    """JobSpecs by job id (one per shard of each process) from the tfvars structure
    ``{"processes": {...}}``."""
    processes = data.get("processes")
    if not isinstance(processes, dict) or not processes:
        raise JobsFileError(f"{source}: expected a non-empty object under 'processes'")
    jobs: dict[str, JobSpec] = {}
    for name, entry in processes.items():
        where = f"{source}: processes.{name}"
        if not isinstance(entry, dict):
            raise JobsFileError(f"{where} must be an object")
        retry = entry.get("retry", {})
        if not isinstance(retry, dict):
            raise JobsFileError(f"{where}.retry must be an object")
        schedule, time_zone = entry.get("schedule"), entry.get("time_zone", "Etc/UTC")
        if not isinstance(schedule, str) or not isinstance(time_zone, str):
            raise JobsFileError(f"{where}: schedule and time_zone must be strings")
        spec = JobSpec(
            process=name,
            schedule=schedule,
            time_zone=time_zone,
            attempt_deadline_seconds=_number(entry, "attempt_deadline_seconds", where),
            retry=RetryPolicy(
                retry_count=int(_number(retry, "retry_count", f"{where}.retry")),
                min_backoff_seconds=_number(retry, "min_backoff_seconds", f"{where}.retry"),
                max_backoff_seconds=_number(retry, "max_backoff_seconds", f"{where}.retry"),
                max_doublings=int(_number(retry, "max_doublings", f"{where}.retry")),
                max_retry_duration_seconds=_number(
                    retry, "max_retry_duration_seconds", f"{where}.retry"
                ),
            ),
        )
        for shard in range(_shards(entry, where)):
            one = replace(spec, shard=shard)
            jobs[one.job_id] = one
    return jobs


def load_jobs(path: Path = JOBS_FILE) -> dict[str, JobSpec]:
    """JobSpecs by job id from the tfvars JSON file Terraform reads."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JobsFileError(f"{path} not found: it defines the Scheduler jobs") from None
    except ValueError as err:
        raise JobsFileError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise JobsFileError(f"{path}: expected a JSON object")
    return parse_jobs(data, str(path))
