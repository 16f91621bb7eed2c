"""The local stand-in for Cloud Scheduler: ticks each job on its cadence and on demand.

Behaviour mimicked from Cloud Scheduler:
- each tick POSTs the job's body to the ``run`` function (``delivery.py``);
- a failed attempt is retried with the job's RetryPolicy backoff;
- one job never has two executions outstanding: a tick that comes due, or a
  RunJob that arrives, while an execution (with its retries) is in flight is
  delayed until it ends; several such requests coalesce into one. The engine
  asks for its continuation from inside a tick, so that request is delayed,
  never dropped;
- missed cron times are not replayed: after a delay the job fires once.

Time comes from an injected clock and every wait goes through an injected
``pause``, so tests drive ``fire_due`` with a fake clock and never sleep on cron.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from slotwork_local.cadence import Cadence
from slotwork_local.delivery import Attempt, Delivery
from slotwork_local.jobs import JobSpec
from slotwork_local.runlog import event

Clock = Callable[[], datetime]
Pause = Callable[[float], bool]
"""Waits up to the given seconds; True when the scheduler is stopping (give up)."""

# The loop re-reads the clock at least this often, so a clock jump or a
# suspended laptop never leaves it asleep past a due tick for long.
MAX_LOOP_WAIT_SECONDS = 1.0


def utc_now() -> datetime:
    """The wall clock, aware UTC (the scheduler's default clock)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class JobStatus:
    """A job as the scheduler sees it now (what the REST API and the display show)."""

    spec: JobSpec
    cadence: str
    next_time: datetime
    running: bool = False
    pending: bool = False
    executions: int = 0
    attempts: int = 0
    last_attempt_time: datetime | None = None
    last_attempt: Attempt | None = None


class UnknownJob(KeyError):
    """No job with that id."""


class LocalScheduler:
    """Ticks every job on its cadence; ``run_now`` fires one at once (RunJob)."""

    def __init__(
        self,
        jobs: Mapping[str, JobSpec],
        cadences: Mapping[str, Cadence],
        delivery: Delivery,
        clock: Clock = utc_now,
        pause: Pause | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._clock = clock
        self._pause: Pause = pause or self._stopping.wait
        self._delivery = delivery
        self._cadences = {spec.job_id: cadences[name] for name, spec in jobs.items()}
        now = clock()
        self._jobs: dict[str, JobStatus] = {
            spec.job_id: JobStatus(
                spec=spec,
                cadence=self._cadences[spec.job_id].describe(),
                next_time=self._cadences[spec.job_id].next_after(now),
            )
            for spec in jobs.values()
        }
        self._threads: set[threading.Thread] = set()
        self._loop: threading.Thread | None = None

    # -- reading ---------------------------------------------------------------------
    def jobs(self) -> list[JobStatus]:
        """Every job's status, by job id."""
        with self._lock:
            return [self._jobs[k] for k in sorted(self._jobs)]

    def job(self, job_id: str) -> JobStatus:
        """One job's status, or UnknownJob."""
        with self._lock:
            try:
                return self._jobs[job_id]
            except KeyError:
                raise UnknownJob(job_id) from None

    # -- firing ----------------------------------------------------------------------
    def run_now(self, job_id: str) -> JobStatus:
        """RunJob: start an execution now, or right after the one in flight."""
        self.job(job_id)
        self._start(job_id, "run-now")
        return self.job(job_id)

    def fire_due(self, now: datetime | None = None) -> list[str]:
        """Start every job whose next time has come; returns their ids.

        The next time moves to the first fire time after ``now``: missed
        times are skipped, not replayed.
        """
        now = now or self._clock()
        due: list[str] = []
        with self._lock:
            for job_id, status in self._jobs.items():
                if status.next_time <= now:
                    following = self._cadences[job_id].next_after(now)
                    self._jobs[job_id] = replace(status, next_time=following)
                    due.append(job_id)
        for job_id in due:
            self._start(job_id, "schedule")
        return due

    def _start(self, job_id: str, reason: str) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            status = self._jobs[job_id]
            if status.running:
                # Never two outstanding executions of one job: run once it ends.
                self._jobs[job_id] = replace(status, pending=True)
                thread = None
            else:
                thread = self._spawn_locked(job_id, reason)
        if thread is None:
            event(
                logging.INFO,
                "execution delayed: the previous one is in flight",
                job=job_id,
                reason=reason,
            )
            return
        thread.start()

    def _spawn_locked(self, job_id: str, reason: str) -> threading.Thread:
        """Mark the job running and make its execution's thread (the caller holds the lock)."""
        status = self._jobs[job_id]
        self._jobs[job_id] = replace(
            status, running=True, pending=False, executions=status.executions + 1
        )
        thread = threading.Thread(
            target=self._execute, args=(job_id, reason), name=f"job-{job_id}", daemon=True
        )
        self._threads.add(thread)
        return thread

    def _execute(self, job_id: str, reason: str) -> None:
        """One execution: the first attempt, then retries while the policy allows."""
        spec = self._jobs[job_id].spec
        first = self._clock()
        retries = 0
        try:
            while True:
                attempt = self._attempt(job_id, spec, reason, retries)
                if attempt.ok or not attempt.retryable:
                    break
                elapsed = (self._clock() - first).total_seconds()
                if not spec.retry.may_retry(retries, elapsed):
                    event(
                        logging.ERROR,
                        "execution failed; retries exhausted",
                        job=job_id,
                        retries=retries,
                    )
                    break
                delay = spec.retry.backoff(retries)
                event(
                    logging.WARNING,
                    "attempt failed; retrying",
                    job=job_id,
                    retry_in_seconds=delay,
                    retry=retries + 1,
                )
                retries += 1
                if self._pause(delay):
                    break
        finally:
            self._finish(job_id)

    def _attempt(self, job_id: str, spec: JobSpec, reason: str, retries: int) -> Attempt:
        started = self._clock()
        try:
            attempt = self._delivery.deliver(spec)
        except Exception as err:  # a broken delivery must not kill the job's thread
            attempt = Attempt(None, error=f"{type(err).__name__}: {err}")
        with self._lock:
            status = self._jobs[job_id]
            self._jobs[job_id] = replace(
                status,
                attempts=status.attempts + 1,
                last_attempt_time=started,
                last_attempt=attempt,
            )
        level = logging.INFO if attempt.ok else logging.ERROR
        event(
            level,
            "tick delivered" if attempt.ok else "tick failed",
            job=job_id,
            reason=reason if retries == 0 else "retry",
            status=attempt.status,
            response=attempt.body if attempt.body is not None else attempt.error,
            seconds=attempt.seconds,
        )
        return attempt

    def _finish(self, job_id: str) -> None:
        """End an execution; a delayed request starts the next one at once, atomically."""
        thread = None
        with self._lock:
            self._threads.discard(threading.current_thread())
            status = self._jobs[job_id]
            if status.pending and not self._stopping.is_set():
                thread = self._spawn_locked(job_id, "delayed")
            else:
                self._jobs[job_id] = replace(status, running=False, pending=False)
        if thread is not None:
            thread.start()

    # -- the loop --------------------------------------------------------------------
    def start(self) -> None:
        """Run the cadence loop on a background thread until ``stop``."""
        if self._loop is not None:
            raise RuntimeError("the scheduler is already running")
        self._loop = threading.Thread(target=self._run_loop, name="scheduler-loop", daemon=True)
        self._loop.start()
        event(logging.INFO, "scheduler started", jobs=[j.spec.job_id for j in self.jobs()])

    def _run_loop(self) -> None:
        while not self._stopping.is_set():
            now = self._clock()
            self.fire_due(now)
            with self._lock:
                soonest = min((s.next_time for s in self._jobs.values()), default=None)
            wait = MAX_LOOP_WAIT_SECONDS
            if soonest is not None:
                wait = min(wait, max(0.0, (soonest - self._clock()).total_seconds()))
            self._stopping.wait(wait)

    def stop(self) -> None:
        """Stop the loop and refuse new executions; retries waiting give up at once."""
        self._stopping.set()
        if self._loop is not None:
            self._loop.join(MAX_LOOP_WAIT_SECONDS * 5)
        event(logging.INFO, "scheduler stopped")

    def join(self, timeout: float = 10.0) -> bool:
        """Wait for in-flight executions to end; False if some still run after ``timeout``.

        An attempt blocked on a slow ``run`` ends when its server stops, so the
        stack stops the servers between ``stop`` and ``join``.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in threads)

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()
