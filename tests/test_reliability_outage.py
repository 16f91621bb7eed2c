"""Firestore outages under a running tick, on an emulator of this module's own.

- The network to Firestore is cut mid-tick (a TCP forwarder between the server
  and the emulator resets every connection and refuses new ones; the data stays
  intact, as in a real outage): the tick must end with a 5xx within a bounded
  time, and once the network is back the next tick resumes with nothing lost.
- A brief cut (shorter than the retry budget) is absorbed by retries.
- Firestore as a black hole (the emulator SIGSTOPped: requests hang): the tick
  must still end, with a 5xx.
- The retry policy: transient errors retried with jittered exponential backoff,
  permanent ones at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from google.api_core import exceptions as gexc
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

import slotwork
from slotwork import retries
from slotwork.store import Commit, ItemFields, ItemWrite
from slotwork.store.firestore import FirestoreStore
from slotwork_local import emulator as emulator_mod
from slotwork_local.rpccount import counting_client

import reliability_processes
from conftest import PROJECT
from reliability_support import (
    CuttableProxy,
    Server,
    item_names,
    launch,
    long_only,
    poll,
    process_doc,
    read_json_lines,
    ready,
    stop,
)
from reliability_support import items as read_items

pytestmark = pytest.mark.reliability

PROCESS = "work"
LEASE = 4.0
# A tick whose Firestore is gone must answer within the retry budget of one
# call (retries.CALL_TIMEOUT_SECONDS) plus the item in hand and some slack.
ANSWER_BOUND = retries.CALL_TIMEOUT_SECONDS + 10


def client_for(host: str) -> firestore.Client:
    """A client of ``host`` that leaves FIRESTORE_EMULATOR_HOST as it was."""
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    try:
        return firestore.Client(
            project=PROJECT,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )
    finally:
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


@dataclass
class Rig:
    emulator: emulator_mod.Emulator
    proxy: CuttableProxy
    server: Server
    client: firestore.Client
    calls_file: Path
    env: dict[str, str]

    def reset(self) -> None:
        self.emulator.reset()
        self.calls_file.write_text("")

    def calls(self) -> list[dict[str, Any]]:
        return [c for c in read_json_lines(self.calls_file) if c["process"] == PROCESS]

    def register(self, n: int, sleep_ms: int) -> list[str]:
        names = item_names(n)
        app = slotwork.App(reliability_processes.PROCESSES, client=self.client, min_frequency=60)
        app.register_many(PROCESS, [(x, {"int_params": {"sleep_ms": sleep_ms}}) for x in names])
        return names

    def freeze_firestore(self) -> None:
        os.killpg(self.emulator.process.pid, signal.SIGSTOP)

    def thaw_firestore(self) -> None:
        os.killpg(self.emulator.process.pid, signal.SIGCONT)


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    logs = tmp_path_factory.mktemp("outage")
    emu = emulator_mod.start(project=PROJECT, log_path=logs / "emulator.log")
    proxy = CuttableProxy(emu.port)
    calls_file = logs / "calls.jsonl"
    env = {
        "SLOTWORK_LEASE_SECONDS": str(LEASE),
        "SLOTWORK_CHECKPOINT_SECONDS": "1",
        "SLOTWORK_CHECKPOINT_ITEMS": "2",
        "SLOTWORK_DEADLINE_SECONDS": "20",
        "RELIABILITY_CALLS_FILE": str(calls_file),
    }
    server = launch("outage", proxy.host, logs, env)
    try:
        yield Rig(emu, proxy, ready(server), client_for(emu.host), calls_file, env)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(emu.process.pid, signal.SIGCONT)
        stop(server)
        proxy.close()
        emu.stop()


def post_in_background(server: Server, timeout: float) -> tuple[threading.Thread, dict[str, Any]]:
    answer: dict[str, Any] = {}

    def post() -> None:
        started = time.monotonic()
        try:
            answer["response"] = server.post({"process": PROCESS}, timeout=timeout)
        except requests.RequestException as err:
            answer["error"] = err
        answer["seconds"] = time.monotonic() - started

    thread = threading.Thread(target=post, daemon=True)
    thread.start()
    return thread, answer


def tick_until_complete(
    rig: Rig, timeout: float, server: Server | None = None
) -> list[dict[str, Any]]:
    answers: list[dict[str, Any]] = []
    target = server or rig.server

    def complete() -> bool:
        response = target.post({"process": PROCESS}, timeout=60)
        if response.status_code != 200:
            answers.append({"status": response.status_code})
            return False
        body = response.json()
        answers.append(body)
        return body.get("run_state") == "COMPLETED" or body["outcome"] == "done"

    poll("the run to complete", complete, timeout, interval=0.2)
    return answers


@dataclass
class CutOutage:
    status: int
    content_type: str
    text: str
    seconds_after_cut: float
    committed_at_cut: set[str]
    names: list[str]
    resumed: list[dict[str, Any]]
    server_logs: list[dict[str, Any]]


@pytest.fixture(scope="module")
def cut_outage(rig: Rig) -> CutOutage:
    """The outage scenario, run once; the tests below check what it showed."""
    rig.reset()
    names = rig.register(30, 60)
    thread, answer = post_in_background(rig.server, timeout=120)
    poll("the tick to work", lambda: len(rig.calls()) >= 6, 30)
    rig.proxy.cut()
    cut_at = time.monotonic()
    thread.join(timeout=120)
    seconds = time.monotonic() - cut_at
    # What was committed before the cut is what Firestore holds now.
    at_cut = read_items(rig.client, PROCESS)
    committed = {n for n, doc in at_cut.items() if doc["status"]["state"] == "COMPLETED"}
    rig.proxy.restore()
    # The instance whose tick failed reconnects at once (its channel's reconnect
    # backoff is capped at a second): the next tick through it works.
    resumed = tick_until_complete(rig, timeout=LEASE + 60)
    response = answer.get("response")
    assert response is not None, answer
    return CutOutage(
        response.status_code,
        response.headers.get("Content-Type", ""),
        response.text,
        seconds,
        committed,
        names,
        resumed,
        rig.server.logs(),
    )


def test_cut_mid_tick_ends_with_a_5xx_in_bounded_time(cut_outage: CutOutage) -> None:
    assert 500 <= cut_outage.status < 600, (cut_outage.status, cut_outage.text[:300])
    assert cut_outage.seconds_after_cut < ANSWER_BOUND, cut_outage.seconds_after_cut


def test_after_the_outage_the_next_tick_resumes_and_nothing_is_lost(
    rig: Rig, cut_outage: CutOutage
) -> None:
    final = read_items(rig.client, PROCESS)
    assert all(final[n]["status"]["state"] == "COMPLETED" for n in cut_outage.names)
    assert process_doc(rig.client, PROCESS)["run"]["status"]["state"] == "COMPLETED"
    assert any(a.get("outcome") == "resumed" for a in cut_outage.resumed), cut_outage.resumed
    # The first tick after Firestore came back already answered 200: no reconnect wait.
    assert "status" not in cut_outage.resumed[0], cut_outage.resumed
    counts = Counter(c["item"] for c in rig.calls())
    assert set(counts) == set(cut_outage.names)
    # Only what the failed tick had not checkpointed ran twice.
    for name in cut_outage.committed_at_cut:
        assert counts[name] == 1, name
    assert cut_outage.committed_at_cut, "the tick checkpointed nothing before the cut"
    stats = process_doc(rig.client, PROCESS)["run"]["status"]["stats"]
    assert stats["workItems"] == len(cut_outage.names)


def test_cut_mid_tick_answers_a_json_503_and_logs_it(cut_outage: CutOutage) -> None:
    assert cut_outage.status == 503, (cut_outage.status, cut_outage.text[:200])
    assert cut_outage.content_type.startswith("application/json")
    assert json.loads(cut_outage.text)["error"]["status"] == "UNAVAILABLE"
    failed = [e for e in cut_outage.server_logs if e.get("message") == "tick failed"]
    assert failed and failed[-1]["severity"] == "ERROR" and failed[-1]["status"] == 503


def test_a_brief_cut_is_absorbed_by_retries(rig: Rig) -> None:
    """Firestore unreachable (connections reset) when a tick starts, back once the
    tick has retried against it twice: the UNAVAILABLE errors are retried with
    backoff, the tick answers 200 and nothing runs twice.
    """
    rig.reset()
    names = rig.register(10, 20)
    rig.proxy.cut()
    thread, answer = post_in_background(rig.server, timeout=120)
    poll("the tick to retry against the cut", lambda: rig.proxy.refused >= 2, 15)
    rig.proxy.restore()
    thread.join(timeout=120)
    response = answer.get("response")
    assert response is not None, answer
    assert response.status_code == 200, response.text[:300]  # retried through, no 5xx
    assert response.json()["outcome"] == "claimed", response.json()
    if response.json()["run_state"] != "COMPLETED":
        tick_until_complete(rig, timeout=60)
    assert Counter(c["item"] for c in rig.calls()) == Counter(dict.fromkeys(names, 1))


@long_only  # about 20 s: the retry budget of the call that meets the black hole
def test_black_hole_firestore_ends_the_tick_with_a_5xx(rig: Rig) -> None:
    """Requests that hang (not refused) must still time out: every call, the
    pending-items stream included, has a deadline.
    """
    rig.reset()
    rig.register(1, 500)
    thread, answer = post_in_background(rig.server, timeout=ANSWER_BOUND + 5)
    try:
        poll("the tick to work", lambda: len(rig.calls()) >= 1, 30)
        rig.freeze_firestore()
        thread.join(timeout=ANSWER_BOUND + 10)
    finally:
        rig.thaw_firestore()
    response = answer.get("response")
    assert response is not None, f"no answer within {ANSWER_BOUND + 5:.0f} s: {answer}"
    assert 500 <= response.status_code < 600
    # The stuck tick (if any) finishes once Firestore answers again.
    tick_until_complete(rig, timeout=LEASE + 60)


def test_a_renewal_that_returns_after_the_lease_expired_starts_no_item(rig: Rig) -> None:
    rig.reset()
    rig.register(10, 300)
    thread, answer = post_in_background(rig.server, timeout=120)
    try:
        poll("the tick to work", lambda: len(rig.calls()) >= 2, 30)
        rig.freeze_firestore()  # the next renewal hangs in Firestore
        frozen_at = time.time()
        poll(
            "the holder to wait on Firestore",
            lambda: time.time() - frozen_at > LEASE + 1 and len(rig.calls()) == 2,
            LEASE + 5,
            interval=0.2,
        )
    finally:
        rig.thaw_firestore()
    thawed_at = time.time()
    thread.join(timeout=120)
    started_late = [c["item"] for c in rig.calls() if c["time"] >= thawed_at]
    assert not started_late, f"started on an expired lease: {started_late} ({answer})"


# -- the retry policy ----------------------------------------------------------------


class Flaky:
    """Fails ``failures`` times with ``error``, then answers; records attempt times."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error = error
        self.failures = failures
        self.attempts: list[float] = []

    def __call__(self) -> str:
        self.attempts.append(time.monotonic())
        if len(self.attempts) <= self.failures:
            raise self.error
        return "ok"


@pytest.mark.parametrize(
    "error",
    [gexc.Aborted("x"), gexc.ServiceUnavailable("x"), gexc.DeadlineExceeded("x")],
    ids=["ABORTED", "UNAVAILABLE", "DEADLINE_EXCEEDED"],
)
def test_transient_errors_are_retried_with_jittered_backoff(error: Exception) -> None:
    gaps: list[list[float]] = []
    for _ in range(3):
        flaky = Flaky(error, 3)
        assert retries.RETRY(flaky)() == "ok"
        assert len(flaky.attempts) == 4
        gaps.append([b - a for a, b in zip(flaky.attempts, flaky.attempts[1:], strict=False)])
    for run in gaps:
        # Truncated exponential backoff: the n-th sleep is at most 0.1 * 2**n.
        for n, gap in enumerate(run):
            assert gap <= 0.1 * 2**n + 0.05, run
    # Jitter: three runs never sleep the same sequence.
    assert len({tuple(round(g, 3) for g in run) for run in gaps}) == 3, gaps


@pytest.mark.parametrize(
    "error",
    [
        gexc.InvalidArgument("x"),
        gexc.FailedPrecondition("x"),
        gexc.PermissionDenied("x"),
        gexc.NotFound("x"),
        gexc.AlreadyExists("x"),
    ],
    ids=["INVALID_ARGUMENT", "FAILED_PRECONDITION", "PERMISSION_DENIED", "NOT_FOUND", "EXISTS"],
)
def test_permanent_errors_are_not_retried(error: Exception) -> None:
    flaky = Flaky(error, 1)
    with pytest.raises(type(error)):
        retries.RETRY(flaky)()
    assert len(flaky.attempts) == 1


def test_a_permanent_firestore_error_is_sent_once(rig: Rig) -> None:
    """Against the emulator: a commit Firestore rejects (a reserved document id) is one RPC."""
    rig.reset()
    counted, counts = counting_client(PROJECT, rig.emulator.host)
    store = FirestoreStore(counted, "slotwork")
    counts.reset()
    started = time.monotonic()
    with pytest.raises(slotwork.SlotworkError):
        store.commit(PROCESS, Commit(items=[ItemWrite("__reserved__", ItemFields(), None)]))
    assert time.monotonic() - started < 2
    assert counts.snapshot()["rpcs"] == {"Commit": 1}
