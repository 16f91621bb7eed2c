"""Asking for a tick now: a continuation when a tick leaves work, and the API's ``:run``.

In production that is Cloud Scheduler's RunJob on the process's own job; the
local scheduler stand-in serves the same REST call, so one implementation
serves both (``endpoint`` points it at the stand-in).
"""

from __future__ import annotations

from typing import Protocol

from slotwork.errors import StoreUnavailable

JOB_PREFIX = "slotwork-"


def job_id(process: str, shard: int) -> str:
    """The Cloud Scheduler job id of one shard of a process, ``slotwork-<process>-<k>``
    (Terraform names the jobs the same way)."""
    return f"{JOB_PREFIX}{process}-{shard}"


class Trigger(Protocol):
    """Something that makes a tick of one shard of a process happen soon."""

    def run_now(self, process: str, shard: int) -> None: ...


class NoTrigger:
    """No scheduler configured: work left waits for the next scheduled tick."""

    def run_now(self, process: str, shard: int) -> None:
        return None


class CloudSchedulerTrigger:
    """RunJob on ``{parent}/jobs/slotwork-{process}-{shard}`` through google-cloud-scheduler."""

    def __init__(self, parent: str, endpoint: str | None = None) -> None:
        self.parent = parent
        self.endpoint = endpoint
        self._client: object | None = None

    def _scheduler(self) -> object:
        if self._client is None:
            from google.cloud import scheduler_v1

            if self.endpoint:
                from google.auth.credentials import AnonymousCredentials

                # The local stand-in speaks the REST API over plain http.
                self._client = scheduler_v1.CloudSchedulerClient(
                    transport="rest",
                    client_options={"api_endpoint": self.endpoint},
                    credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                )
            else:
                self._client = scheduler_v1.CloudSchedulerClient()
        return self._client

    def run_now(self, process: str, shard: int) -> None:
        from google.api_core import exceptions as gexc

        name = f"{self.parent}/jobs/{job_id(process, shard)}"
        try:
            self._scheduler().run_job(name=name, timeout=10.0)  # type: ignore[attr-defined]
        except gexc.GoogleAPIError as err:
            raise StoreUnavailable(f"Cloud Scheduler RunJob on {name} failed: {err}") from err
