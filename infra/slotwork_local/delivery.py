"""One attempt of a job: the HTTP POST Cloud Scheduler makes to the ``run`` function."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from slotwork_local.jobs import JobSpec

# Retried as Cloud Scheduler retries an attempt that was not acknowledged:
# server errors, throttling, timeouts and refused connections. A 4xx means
# the request itself is wrong and would fail again, so it is logged, not retried.
RETRYABLE_STATUS = frozenset({429})


@dataclass(frozen=True)
class Attempt:
    """What one delivery got: the HTTP status (None when no answer) and the body or error."""

    status: int | None
    body: Any = None
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retryable(self) -> bool:
        if self.status is None:
            return True
        return self.status >= 500 or self.status in RETRYABLE_STATUS


class Delivery(Protocol):
    """Sends one tick of a job and reports the attempt."""

    def deliver(self, spec: JobSpec) -> Attempt: ...


class HttpDelivery:
    """POSTs the job's body as JSON to ``url``, waiting at most the attempt deadline."""

    def __init__(self, url: str, session: requests.Session | None = None) -> None:
        self.url = url
        self.session = session or requests.Session()

    def deliver(self, spec: JobSpec) -> Attempt:
        started = time.monotonic()
        try:
            response = self.session.post(
                self.url,
                json=spec.body,
                headers={"User-Agent": "Google-Cloud-Scheduler (slotwork local)"},
                timeout=spec.attempt_deadline_seconds,
            )
        except requests.RequestException as err:
            return Attempt(None, error=f"{type(err).__name__}: {err}", seconds=_since(started))
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:500]
        return Attempt(response.status_code, body=body, seconds=_since(started))


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
