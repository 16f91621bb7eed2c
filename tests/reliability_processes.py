"""The processes module of the reliability tests' functions-framework servers.

Served with ``SLOTWORK_PROCESSES=reliability_processes`` (``tests/`` on the
server's PYTHONPATH). The worker is steered by each item's params, so one
module serves every test:

- ``int_params["sleep_ms"]``: sleep this long per call (so kills land mid-run);
- ``string_params["stall_on"]``: when equal to this server's
  ``RELIABILITY_SERVER_ID``, the call never returns (a hung worker: only a kill
  of the server, or a takeover and its fence, ends that run);
- ``string_params["kill"]``: ``exit`` ends the server's worker process at once
  (``os._exit``), ``system_exit`` raises ``SystemExit``: an item that kills the
  invocation that works it.

Every call is recorded *before* the work, one document per call in the
collection ``RELIABILITY_CALLS_COLLECTION`` (default ``calls``) of the same
Firestore, or one JSON line per call in ``RELIABILITY_CALLS_FILE`` when set (the
outage test, whose Firestore goes away under the worker). Each successful call
adds the stat ``by.<server id>``, so the committed status of an item names the
server whose call was checkpointed.

The servers' environment sets ``SLOTWORK_CHECKPOINT_ITEMS`` and
``SLOTWORK_CHECKPOINT_SECONDS`` low, so kills land inside checkpoints taken
every 1-5 items.
"""

from __future__ import annotations

import faulthandler
import json
import os
import signal
import threading
import time
import uuid
from datetime import timedelta
from typing import Any

from google.cloud import firestore

import slotwork

SERVER_ID = os.environ.get("RELIABILITY_SERVER_ID", f"srv-{os.getpid()}")
CALLS_COLLECTION = os.environ.get("RELIABILITY_CALLS_COLLECTION", "calls")
CALLS_FILE = os.environ.get("RELIABILITY_CALLS_FILE", "")
# A slot so long (ten years from the Unix epoch: the current one ends in
# December 2029) that no trial straddles a slot boundary on the real clock.
LONG_SLOT = timedelta(days=3650)


# `kill -USR1 <gunicorn worker>` dumps every thread's stack to stderr (diagnosing hangs).
faulthandler.register(signal.SIGUSR1, all_threads=True)

_lock = threading.Lock()
_client: firestore.Client | None = None


def _calls() -> firestore.CollectionReference:
    global _client
    with _lock:
        if _client is None:
            _client = firestore.Client(project=os.environ.get("GOOGLE_CLOUD_PROJECT"))
        return _client.collection(CALLS_COLLECTION)


def record_call(process: str, kind: str, slot: str, item: str) -> None:
    """One record per worker call, written before the work starts."""
    record: dict[str, Any] = {
        "process": process,
        "kind": kind,
        "slot": slot,
        "item": item,
        "server": SERVER_ID,
        "pid": os.getpid(),
        "thread": threading.get_ident(),
        "time": time.time(),
    }
    if CALLS_FILE:
        with _lock, open(CALLS_FILE, "a", encoding="utf-8") as sink:
            sink.write(json.dumps(record) + "\n")
            sink.flush()
        return
    doc_id = f"{process}:{slot}:{item}:{uuid.uuid4().hex}"
    _calls().document(doc_id).set(record, timeout=10)


class RecordingSleeper:
    """Records the call, sleeps as the item says, stalls when the item says so."""

    def __init__(self, process: str) -> None:
        self.process_name = process

    def _call(self, ctx: slotwork.Context, item: slotwork.Item, kind: str) -> None:
        record_call(self.process_name, kind, ctx.slot.isoformat(), item.name)
        if item.params.string_params.get("stall_on") == SERVER_ID:
            threading.Event().wait()  # hangs until the server is killed
        kill = item.params.string_params.get("kill")
        if kill == "exit":
            os._exit(17)
        if kill == "system_exit":
            raise SystemExit(17)
        sleep_ms = item.params.int_params.get("sleep_ms", 0)
        if sleep_ms:
            time.sleep(sleep_ms / 1000)
        ctx.add_stat("calls")
        ctx.add_stat(f"by.{SERVER_ID}")

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        self._call(ctx, item, "process")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        self._call(ctx, item, "cleanup")


class Noop:
    """The warm-up process: builds the App and its channel before a trial starts."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        return None


# The wide process: 16 items in flight per tick, 4 shards (issue 13's trials).
WIDE_CONCURRENCY = 16
WIDE_SHARDS = 4

PROCESSES = [
    slotwork.Process("work", RecordingSleeper("work"), frequency=LONG_SLOT),
    slotwork.Process(
        "wide",
        RecordingSleeper("wide"),
        frequency=LONG_SLOT,
        concurrency=WIDE_CONCURRENCY,
        shards=WIDE_SHARDS,
    ),
    slotwork.Process("warmup", Noop(), frequency=LONG_SLOT),
]
