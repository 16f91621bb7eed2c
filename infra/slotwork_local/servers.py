"""The functions-framework servers of the ``run`` and ``api`` targets, as child processes.

Each runs in its own process group (functions-framework serves through a
gunicorn master and a worker: stopping only the master would leave the worker
finishing its request), with its output copied into the run log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import requests

from slotwork_local.emulator import free_port, stop_group
from slotwork_local.layout import CHECKOUT, Layout
from slotwork_local.runlog import RunLog

SOURCE = Layout(CHECKOUT).source / "main.py"
READY_TIMEOUT_SECONDS = 60.0


class ServerError(RuntimeError):
    """A functions-framework server did not start."""


def functions_framework_bin() -> str:
    """The functions-framework executable of this Python's environment (else the PATH's)."""
    beside = Path(sys.executable).parent / "functions-framework"
    if beside.exists():
        return str(beside)
    found = shutil.which("functions-framework")
    if found is None:
        raise ServerError("functions-framework not found: run `make setup`")
    return found


def command(target: str, port: int, source: Path = SOURCE) -> list[str]:
    """The command line serving ``target`` of ``source`` on 127.0.0.1:``port``."""
    return [
        functions_framework_bin(),
        "--target",
        target,
        "--source",
        str(source),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@dataclass
class FunctionServer:
    """A running functions-framework server of one target."""

    target: str
    port: int
    process: subprocess.Popen[bytes]
    pump: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        """Stop the whole process group, then let the log pump drain the pipe."""
        stop_group(self.process)
        self.pump.join(5)


def start(
    target: str,
    env: Mapping[str, str],
    runlog: RunLog,
    port: int | None = None,
    source: Path = SOURCE,
) -> FunctionServer:
    """Start ``target`` of ``source`` on ``port`` (a free one by default); wait until it answers."""
    port = port or free_port()
    source = source.resolve()  # the child runs in the source directory: a relative path would move
    process = subprocess.Popen(
        command(target, port, source),
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
        cwd=source.parent,  # as on Cloud Functions, where the source directory is the working one
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None  # stdout=PIPE above
    server = FunctionServer(target, port, process, runlog.pump(process.stdout, target))
    try:
        wait_ready(server, READY_TIMEOUT_SECONDS)
    except BaseException:
        server.stop()
        raise
    return server


def wait_ready(server: FunctionServer, timeout: float) -> None:
    """Poll the server until it answers any HTTP status, or raise ServerError."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerError(
                f"functions-framework --target {server.target} exited with code "
                f"{server.process.returncode}: see the run log"
            )
        try:
            requests.get(server.url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)  # nothing to wait on but the port: poll it
    raise ServerError(f"functions-framework --target {server.target} not ready after {timeout} s")
