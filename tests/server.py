"""Run the real functions-framework server for a target, in its own process group."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import requests

from slotwork_local import servers
from slotwork_local.emulator import free_port, stop_group

ROOT = Path(__file__).resolve().parents[1]
READY_SECONDS = 30.0


@contextmanager
def functions_server(target: str, env: Mapping[str, str]) -> Iterator[str]:
    """Serve ``target`` of functions/main.py; yields its base URL."""
    port = free_port()
    full_env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "tests"), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    process = subprocess.Popen(
        servers.command(target, port),
        env=full_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"functions-framework exited with {process.returncode}")
            try:
                requests.get(url, timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        stop_group(process)  # type: ignore[arg-type]
