"""The local Cloud Scheduler stand-in: job definitions, cadence, retries, RunJob over REST.

The scheduler's clock is fake and its retry waits are recorded, not slept;
ticks go over real HTTP to a small recording server standing in for ``run``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import scheduler_v1

from slotwork.triggers import CloudSchedulerTrigger
from slotwork_local.cadence import CronCadence, IntervalCadence, cadence_for
from slotwork_local.delivery import HttpDelivery
from slotwork_local.emulator import free_port
from slotwork_local.jobs import (
    JOBS_FILE,
    JobsFileError,
    JobSpec,
    RetryPolicy,
    load_jobs,
    parse_jobs,
)
from slotwork_local.scheduler import LocalScheduler, UnknownJob
from slotwork_local.scheduler_api import SchedulerApi

from helpers import FakeClock

PARENT = "projects/slotwork-local/locations/local"
JOB = "slotwork-ttl-sweeper-0"
BODY = {"process": "ttl-sweeper", "shard": 0}
TIMEOUT = 10.0


def wait_until(predicate: Callable[[], bool], timeout: float = TIMEOUT) -> None:
    """Poll ``predicate`` until true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


# -- a recording stand-in for the run function ----------------------------------------------
@dataclass
class Recorder:
    """Answers each POST with the next scripted status (then 200); records every request."""

    statuses: list[int] = field(default_factory=list)
    gate: threading.Event | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    rec = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with rec.lock:
                rec.requests.append(
                    {
                        "path": self.path,
                        "type": self.headers.get("Content-Type"),
                        "body": json.loads(body),
                    }
                )
                status = rec.statuses.pop(0) if rec.statuses else 200
            if rec.gate is not None:
                rec.gate.wait(TIMEOUT)
            data = json.dumps({"outcome": "claimed", "processed": 1}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec, f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        if rec.gate is not None:
            rec.gate.set()
        server.shutdown()
        server.server_close()


def spec(retry: RetryPolicy | None = None) -> JobSpec:
    return JobSpec(
        process="ttl-sweeper",
        schedule="*/15 * * * *",
        time_zone="Etc/UTC",
        attempt_deadline_seconds=5,
        retry=retry or RetryPolicy(3, 10, 300, 3, 0),
    )


@dataclass
class Rig:
    scheduler: LocalScheduler
    clock: FakeClock
    pauses: list[float]


def make_rig(url: str, retry: RetryPolicy | None = None, interval: float = 60) -> Rig:
    clock = FakeClock(datetime(2026, 11, 29, 12, 0, 0, tzinfo=UTC))
    pauses: list[float] = []

    def pause(seconds: float) -> bool:
        pauses.append(seconds)  # recorded instead of slept
        return False

    scheduler = LocalScheduler(
        {JOB: spec(retry)},
        {JOB: IntervalCadence(interval)},
        HttpDelivery(url),
        clock=clock,
        pause=pause,
    )
    return Rig(scheduler, clock, pauses)


def idle(scheduler: LocalScheduler) -> bool:
    return not scheduler.job(JOB).running


# -- job definitions ------------------------------------------------------------------------------
def test_jobs_are_read_from_the_file_terraform_deploys() -> None:
    raw = json.loads(JOBS_FILE.read_text())["processes"]
    jobs = load_jobs()
    assert set(jobs) == {
        f"slotwork-{name}-{k}" for name, p in raw.items() for k in range(p.get("shards", 1))
    }
    sweeper = jobs[JOB]
    entry = raw["ttl-sweeper"]
    assert sweeper.schedule == entry["schedule"] and sweeper.time_zone == entry["time_zone"]
    assert sweeper.attempt_deadline_seconds == entry["attempt_deadline_seconds"]
    assert sweeper.retry.retry_count == entry["retry"]["retry_count"]
    assert sweeper.retry.max_doublings == entry["retry"]["max_doublings"]
    assert sweeper.job_id == JOB and sweeper.body == BODY


def test_a_sharded_process_gets_one_job_per_shard() -> None:
    entry = {"schedule": "*/5 * * * *", "attempt_deadline_seconds": 60, "shards": 3}
    jobs = parse_jobs({"processes": {"rotate": entry}})
    assert sorted(jobs) == ["slotwork-rotate-0", "slotwork-rotate-1", "slotwork-rotate-2"]
    assert [jobs[k].body for k in sorted(jobs)] == [
        {"process": "rotate", "shard": k} for k in range(3)
    ]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"processes": {}},
        {"processes": {"p": {"schedule": 5, "attempt_deadline_seconds": 60}}},
        {"processes": {"p": {"schedule": "* * * * *", "attempt_deadline_seconds": "60"}}},
        {
            "processes": {
                "p": {
                    "schedule": "* * * * *",
                    "attempt_deadline_seconds": 60,
                    "retry": {
                        "retry_count": 9,
                        "min_backoff_seconds": 1,
                        "max_backoff_seconds": 2,
                        "max_doublings": 1,
                        "max_retry_duration_seconds": 0,
                    },
                }
            }
        },
    ],
)
def test_malformed_job_definitions_are_refused(data: dict[str, Any]) -> None:
    with pytest.raises(JobsFileError):
        parse_jobs(data)


def test_a_missing_jobs_file_names_the_file(tmp_path: Path) -> None:
    with pytest.raises(JobsFileError, match=r"nope\.json"):
        load_jobs(tmp_path / "nope.json")


def test_backoff_follows_cloud_schedulers_documented_sequence() -> None:
    # RetryConfig docs: min 10 s, max 300 s, 3 doublings -> 10, 20, 40, 80, 160, 240, 300, 300.
    policy = RetryPolicy(5, 10, 300, 3, 0)
    assert [policy.backoff(n) for n in range(8)] == [10, 20, 40, 80, 160, 240, 300, 300]


def test_retries_end_at_the_count_unless_a_duration_keeps_them_going() -> None:
    counted = RetryPolicy(3, 10, 300, 3, 0)
    assert [counted.may_retry(n, 1e6) for n in range(5)] == [True, True, True, False, False]
    timed = RetryPolicy(1, 10, 300, 3, 100)
    assert timed.may_retry(1, 50) and not timed.may_retry(1, 100)


# -- cadence --------------------------------------------------------------------------------------
def test_cron_runs_in_the_jobs_time_zone() -> None:
    nine_in_paris = CronCadence("0 9 * * *", "Europe/Paris")
    winter = nine_in_paris.next_after(datetime(2026, 1, 10, 0, 0, tzinfo=UTC))
    summer = nine_in_paris.next_after(datetime(2026, 7, 10, 0, 0, tzinfo=UTC))
    assert winter == datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
    assert summer == datetime(2026, 7, 10, 7, 0, tzinfo=UTC)


def test_cron_fires_strictly_after_the_given_time() -> None:
    every_quarter = CronCadence("*/15 * * * *")
    at = datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    assert every_quarter.next_after(at) == datetime(2026, 1, 1, 10, 30, tzinfo=UTC)


def test_tick_seconds_overrides_every_jobs_cron() -> None:
    job = spec()
    assert isinstance(cadence_for(job), CronCadence)
    override = cadence_for(job, tick_seconds=5)
    assert override.next_after(datetime(2026, 1, 1, 0, 0, 3, tzinfo=UTC)) == datetime(
        2026, 1, 1, 0, 0, 5, tzinfo=UTC
    )


def test_bad_schedule_or_zone_is_refused() -> None:
    with pytest.raises(JobsFileError):
        CronCadence("every day")
    with pytest.raises(JobsFileError):
        CronCadence("* * * * *", "Mars/Olympus")


# -- ticking ---------------------------------------------------------------------------------
def test_a_due_job_posts_its_body_to_run_once(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rig = make_rig(url)
    assert rig.scheduler.fire_due() == []  # nothing is due at the start
    rig.clock.advance(timedelta(seconds=60))
    assert rig.scheduler.fire_due() == [JOB]
    wait_until(lambda: idle(rig.scheduler) and rec.count() == 1)
    assert rec.requests[0]["body"] == BODY
    assert rec.requests[0]["type"] == "application/json"
    status = rig.scheduler.job(JOB)
    assert status.last_attempt is not None and status.last_attempt.status == 200
    assert status.next_time == datetime(2026, 11, 29, 12, 2, tzinfo=UTC)
    assert rig.scheduler.fire_due() == []  # the same time does not fire twice


def test_missed_ticks_fire_once_and_are_not_replayed(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rig = make_rig(url)
    rig.clock.advance(timedelta(minutes=10, seconds=30))
    assert rig.scheduler.fire_due() == [JOB]
    wait_until(lambda: idle(rig.scheduler))
    assert rec.count() == 1
    assert rig.scheduler.job(JOB).next_time == datetime(2026, 11, 29, 12, 11, tzinfo=UTC)


def test_a_5xx_is_retried_with_the_policys_backoff(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rec.statuses = [503, 500]
    rig = make_rig(url)
    rig.scheduler.run_now(JOB)
    wait_until(lambda: idle(rig.scheduler))
    assert rec.count() == 3
    assert rig.pauses == [10, 20]
    assert rig.scheduler.job(JOB).attempts == 3
    assert rig.scheduler.job(JOB).executions == 1


def test_retries_stop_after_the_retry_count(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rec.statuses = [500] * 10
    rig = make_rig(url)
    rig.scheduler.run_now(JOB)
    wait_until(lambda: idle(rig.scheduler))
    assert rec.count() == 4  # the attempt and 3 retries
    assert rig.pauses == [10, 20, 40]
    last = rig.scheduler.job(JOB).last_attempt
    assert last is not None and last.status == 500


def test_a_4xx_is_not_retried(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rec.statuses = [400]
    rig = make_rig(url)
    rig.scheduler.run_now(JOB)
    wait_until(lambda: idle(rig.scheduler))
    assert rec.count() == 1 and rig.pauses == []


def test_an_unreachable_run_is_retried() -> None:
    rig = make_rig(f"http://127.0.0.1:{free_port()}/", retry=RetryPolicy(2, 1, 5, 1, 0))
    rig.scheduler.run_now(JOB)
    wait_until(lambda: idle(rig.scheduler))
    status = rig.scheduler.job(JOB)
    assert status.attempts == 3 and rig.pauses == [1, 2]
    assert status.last_attempt is not None and status.last_attempt.status is None


def test_run_now_during_an_execution_runs_once_right_after_it(
    recorder: tuple[Recorder, str],
) -> None:
    rec, url = recorder
    rec.gate = threading.Event()
    rig = make_rig(url)
    rig.scheduler.run_now(JOB)
    wait_until(lambda: rec.count() == 1)  # the first attempt is in flight, held by the gate
    # A continuation asked for from inside the tick, another RunJob, and a due tick:
    rig.scheduler.run_now(JOB)
    rig.scheduler.run_now(JOB)
    rig.clock.advance(timedelta(seconds=60))
    rig.scheduler.fire_due()
    assert rec.count() == 1  # never two outstanding executions of one job
    assert rig.scheduler.job(JOB).pending
    rec.gate.set()
    wait_until(lambda: rec.count() == 2 and idle(rig.scheduler))
    assert rig.scheduler.job(JOB).executions == 2  # coalesced into one more, not dropped


def test_run_now_of_an_unknown_job_is_refused(recorder: tuple[Recorder, str]) -> None:
    rig = make_rig(recorder[1])
    with pytest.raises(UnknownJob):
        rig.scheduler.run_now("slotwork-nope")


def test_stop_ends_a_retry_that_is_waiting(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    rec.statuses = [500]
    scheduler = LocalScheduler(
        {JOB: spec(RetryPolicy(3, 300, 300, 0, 0))},
        {JOB: IntervalCadence(3600)},
        HttpDelivery(url),
    )
    scheduler.run_now(JOB)
    wait_until(lambda: rec.count() == 1)
    scheduler.stop()
    assert scheduler.join(TIMEOUT)  # the 300 s backoff was abandoned
    assert rec.count() == 1


def test_the_loop_ticks_on_its_cadence(recorder: tuple[Recorder, str]) -> None:
    rec, url = recorder
    scheduler = LocalScheduler(
        {JOB: spec()}, {JOB: IntervalCadence(0.2)}, HttpDelivery(url)
    )
    scheduler.start()
    try:
        wait_until(lambda: rec.count() >= 2)
    finally:
        scheduler.stop()
        scheduler.join(TIMEOUT)
    assert all(r["body"] == BODY for r in rec.requests)


# -- the Cloud Scheduler REST API, through the real client ---------------------------------------
@pytest.fixture
def served(recorder: tuple[Recorder, str]) -> Iterator[tuple[Recorder, SchedulerApi]]:
    rec, url = recorder
    rig = make_rig(url)
    api = SchedulerApi(rig.scheduler, PARENT, url)
    api.start()
    try:
        yield rec, api
    finally:
        api.stop()


def real_client(api: SchedulerApi) -> scheduler_v1.CloudSchedulerClient:
    return scheduler_v1.CloudSchedulerClient(
        transport="rest",
        client_options={"api_endpoint": api.endpoint},
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )


def test_run_job_through_the_real_client_fires_a_tick(
    served: tuple[Recorder, SchedulerApi],
) -> None:
    rec, api = served
    job = real_client(api).run_job(name=f"{PARENT}/jobs/{JOB}", timeout=TIMEOUT)
    assert job.name == f"{PARENT}/jobs/{JOB}"
    assert job.state == scheduler_v1.Job.State.ENABLED
    assert job.retry_config.retry_count == 3 and job.schedule == "*/15 * * * *"
    wait_until(lambda: rec.count() == 1)
    assert rec.requests[0]["body"] == BODY


def test_run_job_of_an_unknown_job_or_location_is_not_found(
    served: tuple[Recorder, SchedulerApi],
) -> None:
    rec, api = served
    client = real_client(api)
    with pytest.raises(gexc.NotFound):
        client.run_job(name=f"{PARENT}/jobs/slotwork-nope", timeout=TIMEOUT)
    with pytest.raises(gexc.NotFound):
        client.run_job(name=f"projects/other/locations/local/jobs/{JOB}", timeout=TIMEOUT)
    assert rec.count() == 0


def test_get_and_list_jobs_through_the_real_client(
    served: tuple[Recorder, SchedulerApi],
) -> None:
    _, api = served
    client = real_client(api)
    job = client.get_job(name=f"{PARENT}/jobs/{JOB}", timeout=TIMEOUT)
    assert json.loads(job.http_target.body) == BODY
    assert job.attempt_deadline.seconds == 5  # a timedelta at run time, a Duration to mypy
    names = [j.name for j in client.list_jobs(parent=PARENT, timeout=TIMEOUT)]
    assert names == [f"{PARENT}/jobs/{JOB}"]


def test_the_engines_continuation_trigger_reaches_the_local_scheduler(
    served: tuple[Recorder, SchedulerApi],
) -> None:
    rec, api = served
    CloudSchedulerTrigger(PARENT, api.endpoint).run_now("ttl-sweeper", 0)
    wait_until(lambda: rec.count() == 1)
    assert rec.requests[0]["body"] == BODY
