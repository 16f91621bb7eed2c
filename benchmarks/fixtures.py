"""Shared fixtures: an emulator per size, fast seeding, clocks that give every
measurement a fresh slot, a no-op worker, timing and statistics helpers.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import psutil
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from google.cloud.firestore_v1 import _helpers, types

import slotwork
from slotwork import rules
from slotwork.buckets import bucket_of
from slotwork.clock import EPOCH
from slotwork.model import ACTIVE
from slotwork.schema import SCHEMA_VERSION
from slotwork.store.firestore import WORK
from slotwork.triggers import Trigger
from slotwork_local import emulator as emulator_mod

PROJECT = "slotwork-bench"
COLLECTION = "slotwork"
PROCESS = "bench"
FREQUENCY = timedelta(hours=1)
SEED_BATCH = 500
SEED_THREADS = 4
# Of the machine's RAM, what the emulator's heap may grow to (see emulator_heap_mib).
EMULATOR_HEAP_FRACTION = 0.6
# Where in its slot every measurement starts: far from the next boundary.
SLOT_LEAD = timedelta(minutes=1)
REPO = Path(__file__).resolve().parents[1]

T = TypeVar("T")


class NoopWorker:
    """A worker that does nothing: what is left of a tick's time is slotwork's."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


def bench_process(name: str = PROCESS) -> slotwork.Process:
    """The benchmarked process: hourly, no-op worker."""
    return slotwork.Process(name, NoopWorker(), FREQUENCY)


@dataclass
class RecordingTrigger:
    """Counts the continuations a tick asked for (the caller runs them)."""

    calls: list[str] = field(default_factory=list)

    def run_now(self, process: str, shard: int) -> None:
        self.calls.append(process)


class SlotClock:
    """Wall-clock time moved to ``SLOT_LEAD`` past the start of a chosen slot.

    Time passes at the real rate (deadlines, checkpoint intervals and the
    budget see real durations) but the slot is fixed for an hour.
    """

    def __init__(self, slot: datetime) -> None:
        self.slot = slot
        self._start = slot + SLOT_LEAD
        self._t0 = time.monotonic()

    def __call__(self) -> datetime:
        return self._start + timedelta(seconds=time.monotonic() - self._t0)


class Slots:
    """Hands out strictly later slots: each measurement finds every item pending again,
    with no re-seeding and no reset write.
    """

    def __init__(self) -> None:
        self._last = rules.slot_of(datetime.now(UTC), FREQUENCY)

    def next_slot(self) -> datetime:
        self._last = self._last + FREQUENCY
        return self._last

    def next_clock(self) -> SlotClock:
        return SlotClock(self.next_slot())


def item_doc(name: str, index: int, now: datetime) -> dict[str, Any]:
    """An item exactly as ``Registry`` writes a new one (registry.py), with small params."""
    return {
        "schema_version": SCHEMA_VERSION,
        "name": name,
        "list": ACTIVE,
        "params": {
            "int_params": {"index": index},
            "string_params": {"account": f"sa-{index}@example.iam.gserviceaccount.com"},
        },
        "modified": now,
        "status": {"state": "NEW", "stats": {}, "errors": [], "total_errors": 0},
        "done_slot": EPOCH,
        "bucket": bucket_of(name),
    }


def item_name(index: int) -> str:
    return f"item-{index:07d}"


def item_params(index: int) -> dict[str, dict[str, Any]]:
    """The params ``item_doc`` stores, as a Params dict for ``register_many``."""
    return {
        "int_params": {"index": index},
        "string_params": {"account": f"sa-{index}@example.iam.gserviceaccount.com"},
    }


def new_client(host: str, project: str = PROJECT) -> firestore.Client:
    """A plain Firestore client on the emulator at ``host``."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = host
    return firestore.Client(
        project=project,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )


def work_collection(
    client: firestore.Client, process: str = PROCESS, collection: str = COLLECTION
) -> firestore.CollectionReference:
    work: firestore.CollectionReference = (
        client.collection(collection).document(process).collection(WORK)
    )
    return work


def _write_template(client: firestore.Client, now: datetime) -> Any:
    """A raw ``Write`` protobuf creating an item, to be copied and renamed per item."""
    fields = _helpers.encode_dict(item_doc("template", 0, now))
    document = types.Document(fields=fields)
    write = types.Write(update=document, current_document=types.Precondition(exists=False))
    return types.Write.pb(write)


def seed(
    client: firestore.Client,
    count: int,
    process: str = PROCESS,
    collection: str = COLLECTION,
    start: int = 0,
) -> float:
    """Create ``count`` items (``item_doc`` exactly) in commits of 500, a few in flight;
    returns seconds. Writes raw protobufs so that seeding costs the emulator's time,
    not the client library's encoding (which the floor and the engine both measure).
    """
    work = work_collection(client, process, collection)
    prefix = f"{client._database_string}/documents/{work._path[0]}/{work._path[1]}/{WORK}/"
    template = _write_template(client, datetime.now(UTC))
    api = client._firestore_api
    database = client._database_string

    def commit(lo: int) -> None:
        writes = []
        for i in range(lo, min(lo + SEED_BATCH, start + count)):
            name = item_name(i)
            write = type(template)()
            write.CopyFrom(template)
            doc = write.update
            doc.name = prefix + name
            doc.fields["name"].string_value = name
            doc.fields["bucket"].integer_value = bucket_of(name)
            params = doc.fields["params"].map_value.fields
            params["int_params"].map_value.fields["index"].integer_value = i
            account = params["string_params"].map_value.fields["account"]
            account.string_value = f"sa-{i}@example.iam.gserviceaccount.com"
            writes.append(write)
        request = types.CommitRequest.pb()(database=database, writes=writes)
        api.commit(request=types.CommitRequest.wrap(request))

    began = time.perf_counter()
    with ThreadPoolExecutor(SEED_THREADS) as pool:
        list(pool.map(commit, range(start, start + count, SEED_BATCH)))
    return time.perf_counter() - began


def make_app(
    client: firestore.Client,
    process: str,
    clock: SlotClock,
    deadline: float = 3600.0,
    trigger: Trigger | None = None,
    collection: str = COLLECTION,
    definition: slotwork.Process | None = None,
) -> slotwork.App:
    """An App as production configures it (default lease and checkpoint settings),
    of the no-op process (or ``definition``)."""
    return slotwork.App(
        [definition or bench_process(process)],
        client=client,
        collection=collection,
        clock=clock,
        deadline=deadline,
        trigger=trigger,
    )


@dataclass
class Bench:
    """A running emulator, its client, and the slots handed out so far."""

    emulator: emulator_mod.Emulator
    client: firestore.Client
    slots: Slots = field(default_factory=Slots)
    seeded: dict[str, int] = field(default_factory=dict)
    seed_seconds: dict[str, float] = field(default_factory=dict)
    # The largest single seeding step: (items, seconds), for the registration table.
    seed_rate: tuple[int, float] = (0, 0.0)
    collection: str = COLLECTION

    @property
    def host(self) -> str:
        return self.emulator.host

    def grow(self, process: str, items: int) -> float:
        """Seed ``process`` up to ``items`` items (adding only the missing ones)."""
        have = self.seeded.get(process, 0)
        if not have:
            # As the registry's first write: every item of this process has a bucket.
            ref = self.client.collection(self.collection).document(process)
            ref.set({"schema_version": SCHEMA_VERSION, "buckets_complete": True}, merge=True)
        seconds = seed(self.client, items - have, process, self.collection, start=have)
        self.seeded[process] = max(have, items)
        self.seed_seconds[process] = self.seed_seconds.get(process, 0.0) + seconds
        if items - have > self.seed_rate[0]:
            self.seed_rate = (items - have, seconds)
        return seconds


def emulator_heap_mib() -> int:
    """The emulator's heap limit for a benchmark: most of the RAM. The emulator
    keeps every document in its Java heap; at a million items the JVM's default
    (a quarter of the RAM: 6 GiB on a 24 GiB machine) fills up and the emulator
    stalls in back-to-back full garbage collections, answering nothing.
    """
    return int(psutil.virtual_memory().total * EMULATOR_HEAP_FRACTION) >> 20


@contextlib.contextmanager
def emulator(log_dir: Path | None = None) -> Iterator[emulator_mod.Emulator]:
    """A fresh emulator on a free port (its log in ``log_dir`` or a temp dir)."""
    with contextlib.ExitStack() as stack:
        if log_dir is None:
            log_dir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        emu = emulator_mod.start(
            project=PROJECT, log_path=log_dir / "emulator.log", max_heap_mib=emulator_heap_mib()
        )
        stack.callback(emu.stop)
        yield emu


@contextlib.contextmanager
def bench(log_dir: Path | None = None) -> Iterator[Bench]:
    """One emulator for a whole run (its JIT warms once), and a client on it."""
    with emulator(log_dir) as emu:
        yield Bench(emu, new_client(emu.host))


def timed(fn: Callable[[], T]) -> tuple[T, float, float]:
    """``fn()``, its wall seconds and this process's CPU seconds."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return result, time.perf_counter() - wall, time.process_time() - cpu


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(a: float, b: float) -> float:
    return a / b if b else float("nan")


class TimeBudget:
    """The whole run's time budget: optional extra repeats run only while it lasts."""

    def __init__(self, seconds: float | None) -> None:
        self.seconds = seconds
        self._t0 = time.monotonic()

    def elapsed(self) -> float:
        return time.monotonic() - self._t0

    def remaining(self) -> float:
        return float("inf") if self.seconds is None else self.seconds - self.elapsed()

    def allows(self, estimate: float) -> bool:
        """Whether something expected to take ``estimate`` seconds still fits."""
        return estimate <= self.remaining()
