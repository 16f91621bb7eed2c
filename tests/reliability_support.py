"""Shared machinery of the reliability tests: real functions-framework servers
that can be killed, frozen and restarted; reading what Firestore and the
server logs say happened; bounded polling; the long-run switch.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import struct
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import requests
from google.cloud import firestore
from google.cloud.firestore_v1.base_query import FieldFilter

from slotwork_local import servers
from slotwork_local.emulator import free_port

from conftest import PROJECT

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 30.0
LONG = os.environ.get("SLOTWORK_LONG", "") not in ("", "0")
COLLECTION = "slotwork"
CALLS = "calls"

T = TypeVar("T")


long_only = pytest.mark.skipif(not LONG, reason="long run only: SLOTWORK_LONG=1 (make test-long)")


def scale(ci: int, long: int, override: str = "") -> int:
    """How many trials: the CI figure, or the long run's under SLOTWORK_LONG=1, or
    the number in the environment variable ``override`` when set.
    """
    raw = os.environ.get(override, "") if override else ""
    if raw:
        return int(raw)
    return long if LONG else ci


def seeded(name: str) -> tuple[int, random.Random]:
    """A random generator for one test, its seed from RELIABILITY_SEED or fresh."""
    raw = os.environ.get("RELIABILITY_SEED")
    seed = int(raw) if raw else random.SystemRandom().randrange(2**32)
    print(f"{name}: RELIABILITY_SEED={seed}")
    return seed, random.Random(seed)


def poll(what: str, check: Callable[[], T | None], timeout: float, interval: float = 0.05) -> T:
    """``check()`` until it returns something other than None or False; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.1f} s waiting for {what}")
        time.sleep(interval)


# -- servers ---------------------------------------------------------------------


@dataclass
class Server:
    """A functions-framework server (gunicorn master + worker) in its own process group."""

    server_id: str
    url: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float = field(default_factory=time.time)

    def post(self, body: Any, timeout: float = 60.0) -> requests.Response:
        return requests.post(self.url, json=body, timeout=timeout)

    def tick(self, process: str, timeout: float = 60.0) -> dict[str, Any]:
        """One tick; fails unless the answer is a 200 JSON body."""
        response = self.post({"process": process}, timeout=timeout)
        assert response.status_code == 200, (self.server_id, response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def tick_shard(self, process: str, shard: int, timeout: float = 60.0) -> dict[str, Any]:
        """One tick of one shard; fails unless the answer is a 200 JSON body."""
        response = self.post({"process": process, "shard": shard}, timeout=timeout)
        assert response.status_code == 200, (self.server_id, response.status_code, response.text)
        body: dict[str, Any] = response.json()
        return body

    def kill(self) -> float:
        """SIGKILL the whole group (master and worker) and wait; returns the kill time."""
        killed_at = time.time()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=30)
        # The gunicorn worker is in the same group: wait until none is left.
        poll(f"group of {self.server_id} gone", lambda: not _group_alive(self.popen.pid), 10)
        return killed_at

    def freeze(self) -> None:
        os.killpg(self.popen.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        os.killpg(self.popen.pid, signal.SIGCONT)

    def alive(self) -> bool:
        return self.popen.poll() is None

    def logs(self) -> list[dict[str, Any]]:
        """The JSON lines the server wrote on stdout (slotwork's structured logs)."""
        return read_json_lines(self.log_path)

    def raw_log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def _group_alive(pgid: int) -> bool:
    """Whether a process of group ``pgid`` still runs (zombies awaiting a reaper do not)."""
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                return True
        except (ProcessLookupError, psutil.Error):
            continue
    return False


def read_json_lines(path: Path) -> list[dict[str, Any]]:
    """Every line of ``path`` parsed as JSON; a line that is not JSON fails the test."""
    if not path.exists():
        return []
    entries = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise AssertionError(f"{path}:{n} is not a JSON log line: {line[:200]!r}") from None
        assert isinstance(entry, dict), (path, n, line)
        entries.append(entry)
    return entries


def launch(
    server_id: str,
    emulator_host: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
    target: str = "run",
) -> Server:
    """Start a server for ``target`` (not yet ready: see ``ready``)."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        "FIRESTORE_EMULATOR_HOST": emulator_host,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "SLOTWORK_PROCESSES": "reliability_processes",
        "SLOTWORK_COLLECTION": COLLECTION,
        "SLOTWORK_MIN_FREQUENCY_SECONDS": "60",
        "RELIABILITY_SERVER_ID": server_id,
        **(env or {}),
    }
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{server_id}.log"
    with open(log_path, "ab") as out, open(log_dir / f"{server_id}.err", "ab") as err:
        popen = subprocess.Popen(
            servers.command(target, port),
            env=full_env,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
    return Server(server_id, f"http://127.0.0.1:{port}", popen, log_path)


def ready(server: Server, warm: bool = True) -> Server:
    """Wait until ``server`` answers; with ``warm``, tick the no-item process once so
    the App and its Firestore channel exist before a trial starts.
    """

    def answers() -> bool:
        if server.popen.poll() is not None:
            raise AssertionError(f"{server.server_id} exited: {server.popen.returncode}")
        try:
            requests.get(server.url, timeout=1)
        except requests.ConnectionError:
            return False
        return True

    poll(f"{server.server_id} to answer", answers, READY_SECONDS)
    if warm:
        body = server.tick("warmup")
        assert body["outcome"] in ("claimed", "done", "busy"), body
    return server


def stop(server: Server) -> None:
    """Stop a server if it still runs (thawing it first if frozen)."""
    if server.alive():
        with contextlib.suppress(ProcessLookupError):
            server.thaw()
        server.kill()


@contextlib.contextmanager
def serving(
    server_id: str,
    emulator_host: str,
    log_dir: Path,
    env: Mapping[str, str] | None = None,
) -> Iterator[Server]:
    server = ready(launch(server_id, emulator_host, log_dir, env))
    try:
        yield server
    finally:
        stop(server)


# -- reading state ---------------------------------------------------------------------


def items(
    client: firestore.Client, process: str, collection: str = COLLECTION
) -> dict[str, dict[str, Any]]:
    work = client.collection(collection).document(process).collection("work")
    return {d.id: d.to_dict() or {} for d in work.stream()}


def process_doc(client: firestore.Client, process: str, shard: int = 0) -> dict[str, Any]:
    """The process document, with the lease of one shard (``lease``) and that
    shard's document (``shard``) beside it."""
    ref = client.collection(COLLECTION).document(process)
    doc = ref.get().to_dict() or {}
    part = ref.collection("shards").document(str(shard)).get().to_dict() or {}
    doc["shard"] = part
    doc["lease"] = part.get("lease", {})
    return doc


def calls(client: firestore.Client, process: str) -> list[dict[str, Any]]:
    """Every recorded worker call of ``process``, oldest first."""
    docs = client.collection(CALLS).where(filter=FieldFilter("process", "==", process)).stream()
    return sorted((d.to_dict() or {} for d in docs), key=lambda c: c["time"])


def snapshot_collection(client: firestore.Client) -> dict[str, tuple[Any, dict[str, Any]]]:
    """Every document under the slotwork collection (recursively), by path, with its
    update time: two equal snapshots mean nothing was written in between.
    """
    out: dict[str, tuple[Any, dict[str, Any]]] = {}

    def walk(collection: firestore.CollectionReference) -> None:
        for ref in collection.list_documents():
            snap = ref.get()
            if snap.exists:
                out[ref.path] = (snap.update_time, snap.to_dict() or {})
            for sub in ref.collections():
                walk(sub)

    walk(client.collection(COLLECTION))
    return out


def call_counts(records: list[dict[str, Any]]) -> Counter[str]:
    return Counter(c["item"] for c in records if c["kind"] == "process")


def committed_by(doc: dict[str, Any]) -> list[str]:
    """The servers named by an item's stored status: whose call was checkpointed."""
    stats = (doc.get("status") or {}).get("stats") or {}
    found: list[str] = []
    for key in stats:
        if key == "by":  # nested map form
            found.extend(stats["by"])
        elif key.startswith("by."):
            found.append(key[3:])
    return found


def now_utc() -> datetime:
    return datetime.now(UTC)


def item_names(n: int, prefix: str = "item") -> list[str]:
    return [f"{prefix}-{i:04d}" for i in range(n)]


# -- a network between a server and Firestore that can be cut ---------------------------


def _reset(conn: socket.socket) -> None:
    """Close with a RST: the other side sees the connection reset."""
    with contextlib.suppress(OSError):
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()


class CuttableProxy:
    """A TCP forwarder to the emulator: ``cut()`` resets every connection and resets
    each new one at once (Firestore unreachable, its data intact), counting the
    attempts; ``restore()`` forwards again.
    """

    def __init__(self, target_port: int) -> None:
        self.target = ("127.0.0.1", target_port)
        self.port = free_port()
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._open = True
        self.refused = 0  # connection attempts reset while cut
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def restore(self) -> None:
        with self._lock:
            self._open = True

    def cut(self) -> None:
        with self._lock:
            self._open = False
            self.refused = 0
            conns, self._conns = self._conns, []
        for conn in conns:
            _reset(conn)

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                is_open = self._open
                if not is_open:
                    self.refused += 1
            if not is_open:
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
