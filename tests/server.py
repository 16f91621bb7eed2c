"""Run the real functions-framework server for a target, in its own process group."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import IO, Any

import requests

from slotwork_local import servers
from slotwork_local.emulator import free_port, stop_group

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 30.0
LOG_SECONDS = 10.0


@contextmanager
def functions_server(target: str, env: Mapping[str, str], log: Path | None = None) -> Iterator[str]:
    """Serve ``target`` of functions/main.py; yields its base URL. With ``log``, the
    server's stdout (the functions' JSON log lines) is appended to that file."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    with ExitStack() as files:
        stdout: IO[bytes] | int = (
            files.enter_context(log.open("ab")) if log is not None else subprocess.DEVNULL
        )
        process = subprocess.Popen(
            servers.command(target, port),
            env=full_env,
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            yield _ready(process, f"http://127.0.0.1:{port}")
        finally:
            stop_group(process)


def _ready(process: subprocess.Popen[bytes], url: str) -> str:
    deadline = time.monotonic() + READY_SECONDS
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"functions-framework exited with {process.returncode}")
        try:
            requests.get(url, timeout=1)
            return url
        except requests.ConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # polling the port, bounded by READY_SECONDS


def log_entries(log: Path) -> list[dict[str, Any]]:
    """The JSON lines of a server log (other lines, such as gunicorn's, skipped)."""
    entries = []
    for line in log.read_text().splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


def wait_for_entry(
    log: Path, matches: Callable[[dict[str, Any]], bool], timeout: float = LOG_SECONDS
) -> dict[str, Any]:
    """The first log entry that ``matches``, polling until ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        found = [e for e in log_entries(log) if matches(e)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise AssertionError(f"no matching log entry in {timeout}s: {log.read_text()[-2000:]}")
        time.sleep(0.05)  # polling the file, bounded by ``timeout``
