"""The slice of the Cloud Scheduler REST API (v1) the local scheduler serves.

- ``POST /v1/projects/{p}/locations/{l}/jobs/{job}:run``: RunJob (what the
  engine's continuation and the API's ``:run`` call through
  google-cloud-scheduler's REST transport); answers the Job, fires it async.
- ``GET /v1/projects/{p}/locations/{l}/jobs/{job}`` and ``.../jobs``: GetJob, ListJobs.

Errors are the Google JSON error shape, so the client raises NotFound and so on.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from slotwork_local.runlog import event
from slotwork_local.scheduler import JobStatus, LocalScheduler, UnknownJob

_JOB_PATH = re.compile(r"^/v1/(?P<parent>projects/[^/]+/locations/[^/]+)/jobs/(?P<job>[^/:]+)$")
_RUN_PATH = re.compile(r"^/v1/(?P<parent>projects/[^/]+/locations/[^/]+)/jobs/(?P<job>[^/:]+):run$")
_LIST_PATH = re.compile(r"^/v1/(?P<parent>projects/[^/]+/locations/[^/]+)/jobs$")
MAX_BODY_BYTES = 64 * 1024


def _timestamp(when: datetime | None) -> str | None:
    return when.isoformat().replace("+00:00", "Z") if when else None


def _duration(seconds: float) -> str:
    return f"{seconds:g}s"


def _rpc_status(status: JobStatus) -> dict[str, Any]:
    """The google.rpc.Status of the last attempt (Job.status)."""
    attempt = status.last_attempt
    if attempt is None or attempt.ok:
        return {}
    if attempt.status is None:
        return {"code": 4, "message": attempt.error}  # DEADLINE_EXCEEDED / unreachable
    code = 14 if attempt.status >= 500 else 9  # UNAVAILABLE, else FAILED_PRECONDITION
    return {"code": code, "message": f"HTTP {attempt.status}"}


def job_json(parent: str, status: JobStatus, target_url: str) -> dict[str, Any]:
    """The Job resource of a job, in the proto3 JSON mapping Cloud Scheduler answers with."""
    spec, retry = status.spec, status.spec.retry
    job: dict[str, Any] = {
        "name": f"{parent}/jobs/{spec.job_id}",
        "description": f"slotwork: tick of process {spec.process}; local cadence {status.cadence}",
        "schedule": spec.schedule,
        "timeZone": spec.time_zone,
        "state": "ENABLED",
        "attemptDeadline": _duration(spec.attempt_deadline_seconds),
        "retryConfig": {
            "retryCount": retry.retry_count,
            "minBackoffDuration": _duration(retry.min_backoff_seconds),
            "maxBackoffDuration": _duration(retry.max_backoff_seconds),
            "maxDoublings": retry.max_doublings,
            "maxRetryDuration": _duration(retry.max_retry_duration_seconds),
        },
        "httpTarget": {
            "uri": target_url,
            "httpMethod": "POST",
            "headers": {"Content-Type": "application/json"},
            "body": base64.b64encode(json.dumps(spec.body).encode()).decode(),
        },
        "scheduleTime": _timestamp(status.next_time),
        "status": _rpc_status(status),
    }
    if status.last_attempt_time is not None:
        job["lastAttemptTime"] = _timestamp(status.last_attempt_time)
    return job


class SchedulerApi:
    """Serves the REST slice above for ``scheduler`` on 127.0.0.1:``port`` (0: a free one)."""

    def __init__(
        self, scheduler: LocalScheduler, parent: str, target_url: str, port: int = 0
    ) -> None:
        self.scheduler = scheduler
        self.parent = parent
        self.target_url = target_url
        self.server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self.server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.server.server_address[1])

    @property
    def endpoint(self) -> str:
        """What SLOTWORK_SCHEDULER_ENDPOINT takes."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve on a background thread."""
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="scheduler-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.server.shutdown()
        self.server.server_close()
        if self._thread is not None:
            self._thread.join(5)

    # -- request handling ---------------------------------------------------------------
    def handle(self, method: str, path: str) -> tuple[int, dict[str, Any]]:
        """(HTTP status, JSON body) for one request."""
        path = path.split("?", 1)[0]
        if method == "POST" and (match := _RUN_PATH.match(path)):
            status = self._known(match["parent"], match["job"])
            if isinstance(status, tuple):
                return status
            event(logging.INFO, "RunJob", job=status.spec.job_id)
            return 200, job_json(
                self.parent, self.scheduler.run_now(status.spec.job_id), self.target_url
            )
        if method == "GET" and (match := _JOB_PATH.match(path)):
            status = self._known(match["parent"], match["job"])
            if isinstance(status, tuple):
                return status
            return 200, job_json(self.parent, status, self.target_url)
        if method == "GET" and (match := _LIST_PATH.match(path)):
            if match["parent"] != self.parent:
                return _error(404, "NOT_FOUND", f"location {match['parent']} not found")
            jobs = [job_json(self.parent, s, self.target_url) for s in self.scheduler.jobs()]
            return 200, {"jobs": jobs}
        return _error(404, "NOT_FOUND", f"no such method: {method} {path}")

    def _known(self, parent: str, job: str) -> JobStatus | tuple[int, dict[str, Any]]:
        name = f"{parent}/jobs/{job}"
        if parent != self.parent:
            return _error(404, "NOT_FOUND", f"Job not found: {name}")
        try:
            return self.scheduler.job(job)
        except UnknownJob:
            return _error(404, "NOT_FOUND", f"Job not found: {name}")

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    status, body = _error(413, "INVALID_ARGUMENT", "request body too large")
                else:
                    self.rfile.read(length)  # RunJobRequest's fields change nothing locally
                    status, body = api.handle(method, self.path)
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:
                pass  # requests are logged as structured events instead

        return Handler


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}
