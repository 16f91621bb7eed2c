"""Workers that misbehave: raise, return garbage, mutate what they are given,
record stats Firestore cannot store, run slowly, or hang. None may corrupt the
state or wedge the process; a hung worker is bounded by the platform (the
engine cannot pre-empt a thread) and the run is left resumable.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests
from google.cloud import firestore

import slotwork
from slotwork.context import MAX_ERROR_TEXT
from slotwork.schema import Status
from slotwork_local.emulator import Emulator

import helpers
import reliability_processes
from conftest import new_client
from helpers import FakeClock, RecordingWorker
from reliability_support import (
    Server,
    call_counts,
    calls,
    item_names,
    launch,
    long_only,
    poll,
    process_doc,
    ready,
    stop,
)
from reliability_support import items as read_items

pytestmark = pytest.mark.reliability

LEASE = 30


def make_app(
    client: firestore.Client, worker: Any, clock: FakeClock | None = None, **kw: Any
) -> slotwork.App:
    return helpers.make_app(
        client,
        worker,
        clock or FakeClock(),
        settings={"string_params": {"mode": "orig"}},
        **{"lease_ttl": LEASE, **kw},
    )


def worker_doing(action: Callable[[slotwork.Context, slotwork.Item], Any]) -> RecordingWorker:
    """A worker that runs ``action`` on item-0001 only."""

    def on_process(ctx: slotwork.Context, item: slotwork.Item) -> None:
        if item.name == "item-0001":
            action(ctx, item)

    return RecordingWorker(on_process=on_process)


def raise_(err: BaseException) -> Callable[[slotwork.Context, slotwork.Item], None]:
    def action(ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise err

    return action


class Unprintable(Exception):
    def __str__(self) -> str:
        raise RuntimeError("__str__ itself fails")


def assert_run_survives(
    app: slotwork.App, worker: RecordingWorker, result: slotwork.TickResult, n: int = 4
) -> None:
    """The tick answered; every other item completed; the bad item is an error, not lost."""
    assert result.outcome == "claimed", result
    state = app.get_process("sweep")
    assert state.run.status.state in (Status.COMPLETED, Status.INCOMPLETE)
    assert state.lease.expire_time.ToDatetime().timestamp() <= app.clock().timestamp()
    for name in item_names(n):
        work = app.get_work("sweep", name)
        assert work.state in ("completed", "incomplete"), (name, work.state)
        if name != "item-0001":
            assert work.state == "completed"
    assert sorted(set(worker.processed)) == item_names(n)


@pytest.mark.parametrize(
    "error",
    [
        pytest.param(ValueError("plain"), id="value", marks=long_only),
        pytest.param(KeyError("missing"), id="key", marks=long_only),
        pytest.param(RuntimeError("x" * 2_000_000), id="huge"),
        pytest.param(RuntimeError("ünïcødé ✓ \u0000 nul and \n newline"), id="unicode"),
        pytest.param(slotwork.Gone("gone while processing"), id="gone", marks=long_only),
        pytest.param(Exception(), id="empty", marks=long_only),
    ],
)
def test_a_raising_worker_records_a_bounded_error_and_the_run_goes_on(
    client: firestore.Client, error: Exception
) -> None:
    worker = worker_doing(raise_(error))
    app = make_app(client, worker)
    app.register_many("sweep", [(n, None) for n in item_names(4)])
    assert_run_survives(app, worker, app.tick("sweep"))
    bad = app.get_work("sweep", "item-0001").details.status
    assert bad.state == Status.INCOMPLETE and bad.total_errors == 1
    assert 0 < len(bad.errors[0].text) <= MAX_ERROR_TEXT
    run = app.get_process("sweep").run
    assert run.status.total_errors == 1 and run.status.state == Status.INCOMPLETE


def test_a_worker_hitting_the_error_limits_aborts_cleanly_and_state_stays_readable(
    client: firestore.Client,
) -> None:
    names = item_names(40)
    worker = RecordingWorker(fail=dict.fromkeys(names, 1000))
    app = make_app(client, worker)
    app.register_many("sweep", [(n, None) for n in names])
    result = app.tick("sweep")
    assert result.outcome == "aborted"
    state = app.get_process("sweep")
    assert state.run.status.state == Status.ABORTED and state.run.items_left > 0
    assert len(state.run.status.errors) <= 25
    assert state.lease.expire_time.ToDatetime().timestamp() <= app.clock().timestamp()


@pytest.mark.parametrize(
    ("action", "how"),
    [
        pytest.param(
            raise_(Unprintable()),
            "error_text() calls str(err) inside the except block and the worker's "
            "exception's __str__ raises",
            id="exception-whose-str-raises",
        ),
        pytest.param(
            raise_(RuntimeError("path \udcff from os.fsdecode")),
            "the error text keeps a lone surrogate (common from os.fsdecode / "
            "surrogateescape); the checkpoint commit raises UnicodeEncodeError",
            id="error-text-with-lone-surrogate",
        ),
        pytest.param(
            lambda ctx, item: ctx.add_error("bad \ud800"),
            "ctx.add_error text with a lone surrogate: UnicodeEncodeError at commit",
            id="add-error-with-lone-surrogate",
        ),
        pytest.param(
            lambda ctx, item: ctx.add_stat(""),
            "ctx.add_stat('') is accepted; the commit raises ValueError (empty field name)",
            id="stat-empty-name",
        ),
        pytest.param(
            lambda ctx, item: ctx.add_stat("__x__"),
            "ctx.add_stat('__x__') is accepted; Firestore rejects the reserved name "
            "(INVALID_ARGUMENT, turned into StoreUnavailable: a 503 that Scheduler retries "
            "forever although it is permanent)",
            id="stat-reserved-name",
        ),
        pytest.param(
            lambda ctx, item: ctx.add_stat("k" * 2000),
            "a 2000-byte stat name is accepted; Firestore rejects it at commit (INVALID_ARGUMENT)",
            id="stat-name-too-long",
        ),
        pytest.param(
            lambda ctx, item: ctx.add_stat("\udcff"),
            "a stat name with a lone surrogate: UnicodeEncodeError at commit",
            id="stat-name-lone-surrogate",
        ),
    ],
)
def test_a_worker_whose_error_or_stat_cannot_be_stored_does_not_wedge_the_process(
    client: firestore.Client, action: Callable[[slotwork.Context, slotwork.Item], Any], how: str
) -> None:
    """Whatever a worker raises or records must end as an error of that item. Before
    the fix, each of these escaped the worker's try/except (``how``): the tick died
    with the lease held and every later tick died on the same item, for good.
    """
    clock = FakeClock()
    worker = worker_doing(action)
    app = make_app(client, worker, clock, checkpoint_items=1)
    app.register_many("sweep", [(n, None) for n in item_names(4)])
    try:
        result = app.tick("sweep")
    except BaseException as err:
        # Show that it is permanent: once the lease expires, the next tick dies too.
        clock.advance(timedelta(seconds=LEASE + 1))
        try:
            app.tick("sweep")
        except BaseException as again:
            raise AssertionError(f"{how}: wedged ({err!r}, then {again!r})") from again
        raise AssertionError(f"{how}: the first tick died: {err!r}") from err
    assert_run_survives(app, worker, result)
    bad = app.get_work("sweep", "item-0001").details.status
    assert bad.state == Status.INCOMPLETE and bad.total_errors >= 1, bad


def test_a_lease_within_the_stop_margin_is_refused_or_still_makes_progress(
    client: firestore.Client,
) -> None:
    clock = FakeClock(step=timedelta(milliseconds=10))
    try:
        app = make_app(
            client, RecordingWorker(), clock, lease_ttl=3, deadline=60, checkpoint_seconds=1
        )
    except ValueError:
        return  # refusing the configuration is a fine answer
    app.register_many("sweep", [(n, None) for n in item_names(5)])
    results = [app.tick("sweep") for _ in range(3)]
    assert sum(r.processed for r in results) > 0, results


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(42, id="int", marks=long_only),
        pytest.param("garbage", id="str", marks=long_only),
        pytest.param(object(), id="object", marks=long_only),
        pytest.param((x for x in range(3)), id="generator"),
        pytest.param({"status": "FAILED"}, id="dict"),
        pytest.param(float("nan"), id="nan", marks=long_only),
    ],
)
def test_a_worker_returning_garbage_is_treated_as_done(
    client: firestore.Client, value: Any
) -> None:
    worker = worker_doing(lambda ctx, item: value)

    class Returning:
        def process(self, ctx: slotwork.Context, item: slotwork.Item) -> Any:
            worker.process(ctx, item)
            return value

        def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> Any:
            return value

    app = make_app(client, Returning())
    app.register_many("sweep", [(n, None) for n in item_names(4)])
    assert app.tick("sweep").run_state == "COMPLETED"
    assert all(app.get_work("sweep", n).state == "completed" for n in item_names(4))
    app.unregister("sweep", "item-0002")
    app.tick("sweep")
    assert app.get_work("sweep", "item-0002").state == "dropped"


def test_a_worker_mutating_params_settings_and_status_changes_nothing_stored(
    client: firestore.Client,
) -> None:
    seen: list[tuple[str, str, int]] = []

    def vandalise(ctx: slotwork.Context, item: slotwork.Item) -> None:
        seen.append(
            (item.name, ctx.settings.string_params.get("mode", ""), item.params.int_params["n"])
        )
        item.params.int_params["n"] = -1
        item.params.string_params["injected"] = "x" * 100_000
        ctx.settings.string_params["mode"] = "vandalised"
        ctx.settings.int_params["evil"] = 1
        item.status.state = Status.ABORTED
        item.status.total_errors = 999

    app = make_app(client, RecordingWorker(on_process=vandalise), checkpoint_items=1)
    app.register_many("sweep", [(n, {"int_params": {"n": i}}) for i, n in enumerate(item_names(4))])
    assert app.tick("sweep").run_state == "COMPLETED"
    # Every item saw the original settings and its own params, not a neighbour's mutation.
    assert seen == [(n, "orig", i) for i, n in enumerate(item_names(4))]
    state = app.get_process("sweep")
    assert dict(state.settings.string_params) == {"mode": "orig"}
    assert dict(state.settings.int_params) == {}
    for i, name in enumerate(item_names(4)):
        work = app.get_work("sweep", name).details
        assert dict(work.params.int_params) == {"n": i} and not work.params.string_params
        assert work.status.state == Status.COMPLETED and work.status.total_errors == 0


def test_a_completed_run_reports_no_items_left(client: firestore.Client) -> None:
    clock = FakeClock(step=timedelta(milliseconds=50))
    app = make_app(client, RecordingWorker(), clock, deadline=1)
    app.register_many("sweep", [(n, None) for n in item_names(30)])
    first = app.tick("sweep")
    assert first.left > 0
    while app.tick("sweep").run_state != "COMPLETED":
        pass
    assert app.get_process("sweep").run.items_left == 0
    runs, _ = app.list_runs("sweep")
    assert runs[0].run.items_left == 0


# -- slow and hung workers over HTTP ---------------------------------------------------


DEADLINE = 2.0
HTTP_LEASE = 3.0


@pytest.fixture(scope="module")
def server_pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Server]]:
    pool: dict[str, Server] = {}
    yield pool
    for server in pool.values():
        stop(server)


@pytest.fixture
def servers(
    emulator: Emulator, server_pool: dict[str, Server], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Server, Server]:
    """Two servers on an emptied emulator (restarted when a test killed one)."""
    emulator.reset()
    env = {
        "SLOTWORK_LEASE_SECONDS": str(HTTP_LEASE),
        "SLOTWORK_CHECKPOINT_SECONDS": "1",
        "SLOTWORK_CHECKPOINT_ITEMS": "2",
        "SLOTWORK_DEADLINE_SECONDS": str(DEADLINE),
    }
    for name in ("first", "second"):
        if name not in server_pool or not server_pool[name].alive():
            logs = tmp_path_factory.mktemp(f"slow-{name}")
            server_pool[name] = launch(name, emulator.host, logs, env)
    for name in ("first", "second"):
        ready(server_pool[name])
        server_pool[name].log_path.write_text("")  # each test reads its own lines
    return server_pool["first"], server_pool["second"]


def quietly(call: Callable[[], Any]) -> Callable[[], None]:
    """``call`` for a thread whose server is killed under it: the broken connection is expected."""

    def run() -> None:
        with contextlib.suppress(requests.RequestException):
            call()

    return run


def register_http(client: firestore.Client, params: list[tuple[str, dict[str, Any]]]) -> None:
    app = slotwork.App(reliability_processes.PROCESSES, client=client, min_frequency=60)
    app.register_many("work", params)


def test_a_slow_worker_never_starts_an_item_after_the_deadline(
    emulator: Emulator, servers: tuple[Server, Server]
) -> None:
    first, _ = servers
    client = new_client(emulator)
    names = item_names(12)
    register_http(client, [(n, {"int_params": {"sleep_ms": 400}}) for n in names])
    answers = []
    started = time.time()
    body = first.tick("work")
    took = time.time() - started
    answers.append(body)
    assert body["outcome"] == "claimed" and 0 < body["processed"] < 12 and body["left"] > 0
    # Nothing started past the deadline; the answer came within it plus one item.
    starts = [c["time"] for c in calls(client, "work")]
    assert max(starts) <= started + DEADLINE, [round(s - started, 2) for s in starts]
    assert took <= DEADLINE + 0.4 + 1.0, took
    while body.get("run_state") != "COMPLETED":
        body = first.tick("work")
        answers.append(body)
        assert len(answers) < 20
    assert all(a["outcome"] in ("claimed", "resumed") for a in answers)
    assert call_counts(calls(client, "work")) == Counter(dict.fromkeys(names, 1))
    handovers = [
        e
        for e in first.logs()
        if e.get("message") == "tick stopped with work left" and e.get("process") == "work"
    ]
    assert len(handovers) == len(answers) - 1
    assert all({"items_left", "continuation", "epoch", "instance"} <= set(e) for e in handovers)


def test_a_hung_worker_is_bounded_by_the_platform_and_the_run_resumes(
    emulator: Emulator, servers: tuple[Server, Server]
) -> None:
    """The engine cannot stop a hung worker; the platform kills the instance. The
    lease then expires and the next tick resumes; what was checkpointed is kept.
    """
    first, second = servers
    client = new_client(emulator)
    names = item_names(10)
    params = [(n, {"int_params": {"sleep_ms": 20}}) for n in names]
    params[5] = (names[5], {"string_params": {"stall_on": first.server_id}})
    register_http(client, params)
    answer: dict[str, Any] = {}
    thread = threading.Thread(
        target=quietly(lambda: answer.update(first.tick("work"))), daemon=True
    )
    thread.start()
    poll(
        "the worker to hang", lambda: any(c["item"] == names[5] for c in calls(client, "work")), 30
    )
    thread.join(timeout=DEADLINE + 1.0)
    assert thread.is_alive() and not answer, "a hung worker cannot be pre-empted"
    killed_at = first.kill()  # the platform's timeout
    at_kill = read_items(client, "work")
    kept = {n for n, d in at_kill.items() if d["status"]["state"] == "COMPLETED"}
    assert kept, "nothing was checkpointed before the hang"
    outcomes: list[str] = []

    def resumed() -> bool:
        body = second.tick("work")
        outcomes.append(body["outcome"])
        return body["outcome"] == "resumed" and body["run_state"] == "COMPLETED"

    poll("the next tick to resume", resumed, HTTP_LEASE + 30, interval=0.1)
    assert time.time() - killed_at <= HTTP_LEASE + 3
    assert process_doc(client, "work")["run"]["status"]["state"] == "COMPLETED"
    counts = call_counts(calls(client, "work"))
    assert all(counts[n] == 1 for n in kept)
    assert counts[names[5]] == 2  # the hung call, then the resumed one
    final = read_items(client, "work")
    assert all(final[n]["status"]["state"] == "COMPLETED" for n in names)


def test_every_checkpoint_is_in_the_structured_logs(
    emulator: Emulator, servers: tuple[Server, Server]
) -> None:
    first, _ = servers
    client = new_client(emulator)
    register_http(client, [(n, {"int_params": {"sleep_ms": 10}}) for n in item_names(6)])
    assert first.tick("work")["run_state"] == "COMPLETED"
    checkpoints = [e for e in first.logs() if e.get("message") == "checkpoint"]
    assert len(checkpoints) >= 3, "6 items, a checkpoint every 2"


def test_a_takeover_is_logged_with_the_holder_it_replaced(
    emulator: Emulator, servers: tuple[Server, Server]
) -> None:
    first, second = servers
    client = new_client(emulator)
    names = item_names(4)
    params = [(n, {"string_params": {"stall_on": first.server_id}}) for n in names]
    register_http(client, params)
    thread = threading.Thread(target=quietly(lambda: first.post({"process": "work"})), daemon=True)
    thread.start()
    poll("the worker to hang", lambda: len(calls(client, "work")) >= 1, 30)
    old = process_doc(client, "work")["lease"]
    first.kill()
    poll(
        "the takeover",
        lambda: second.tick("work")["outcome"] == "resumed",
        HTTP_LEASE + 30,
        interval=0.1,
    )
    entries = [e for e in second.logs() if e.get("process") == "work"]
    assert any(old["holder"] in map(str, e.values()) for e in entries), entries
