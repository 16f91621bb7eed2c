"""End to end: the real ``slotwork-local`` command, in subprocesses, for a bounded time.

Two copies run at once on one run folder: one starts its own emulator, the
other uses FIRESTORE_EMULATOR_HOST (the session's emulator). Each must tick,
complete slots and sweep the demo documents (checked through the HTTPS API and
Firestore), answer the API's ``:run`` through the local scheduler, exit 0 on
SIGINT or SIGTERM and leave no child process behind, without touching the
other copy. Then the operator scripts: export/import, the background emulator,
the run log.
"""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
import pytest
import requests
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from slotwork_local.emulator import Emulator, EmulatorError, export_data, import_data
from slotwork_local.runlog import RunLog, follow, pretty
from slotwork_local.seed import DEMO_COLLECTIONS, expired_count

from conftest import PROJECT, REPO
from helpers import wait_for

START_TIMEOUT = 60.0
PROGRESS_TIMEOUT = 45.0
STOP_TIMEOUT = 30.0
SAFETY_DURATION = "150"  # the stack stops by itself if this test dies before SIGINT
LOUD = {"WARNING", "ERROR", "CRITICAL"}


@dataclass
class Stack:
    """One running copy of the command and what it told us about itself."""

    process: subprocess.Popen[bytes]
    output: Path
    info: dict[str, Any]
    children: list[psutil.Process]

    def client(self, monkeypatch: pytest.MonkeyPatch) -> firestore.Client:
        monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", self.info["emulator_host"])
        return firestore.Client(
            project=self.info["project"],
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        )

    def api(self, method: str, path: str) -> requests.Response:
        return requests.request(method, self.info["api_url"] + path, timeout=10)

    def log_has(self, message: str) -> bool:
        lines = Path(self.info["log"]).read_text().splitlines()
        return any(json.loads(line).get("message") == message for line in lines)


def launch(run_root: Path, name: str, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], Path]:
    output = run_root.parent / f"{name}.out"
    command = [
        sys.executable,
        "-m",
        "slotwork_local.stack",
        "--plain",
        "--tick-seconds",
        "1",
        "--frequency-seconds",
        "5",
        "--min-frequency-seconds",
        "5",
        "--deadline-seconds",
        "10",
        "--lease-seconds",
        "20",
        "--run-dir",
        str(run_root),
        "--duration",
        SAFETY_DURATION,
    ]
    with output.open("wb") as sink:
        process = subprocess.Popen(
            command, cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT
        )
    return process, output


def started(process: subprocess.Popen[bytes], output: Path, run_root: Path) -> Stack:
    """Wait for the copy's stack.json (written once everything runs)."""

    def info() -> dict[str, Any] | None:
        if process.poll() is not None:
            raise AssertionError(f"the stack exited early:\n{output.read_text()}")
        for path in run_root.glob("*/stack.json"):
            data: dict[str, Any] = json.loads(path.read_text())
            if data["pid"] == process.pid:
                return data
        return None

    data = wait_for(info, START_TIMEOUT, "the stack to start")
    children = psutil.Process(process.pid).children(recursive=True)
    return Stack(process, output, data, children)


@pytest.fixture
def stacks(tmp_path: Path, emulator: Emulator) -> Iterator[list[Stack]]:
    emulator.reset()
    run_root = tmp_path / "runs"
    base = {k: v for k, v in os.environ.items() if k != "FIRESTORE_EMULATOR_HOST"}
    base.update({"PYTHONUNBUFFERED": "1", "GOOGLE_CLOUD_PROJECT": "slotwork-local"})
    shared = {**base, "FIRESTORE_EMULATOR_HOST": emulator.host, "GOOGLE_CLOUD_PROJECT": PROJECT}
    launched = [launch(run_root, "own", base), launch(run_root, "shared", shared)]
    running: list[Stack] = []
    try:
        running = [started(p, out, run_root) for p, out in launched]
        yield running
    finally:
        for process, _ in launched:  # never leave strays, even when the test failed
            if process.poll() is None:
                process.kill()
                process.wait(STOP_TIMEOUT)
        for stack in running:
            for child in stack.children:
                if child.is_running():
                    child.kill()


def swept(client: firestore.Client) -> bool:
    """Every demo document that was already expired when seeded is gone."""
    for demo in DEMO_COLLECTIONS:
        now = datetime.now(UTC)
        fresh_at_seeding = demo.documents - expired_count(demo, now, seeded_at=now)
        count = client.collection(demo.name).count().get()[0][0].value  # type: ignore[no-untyped-call]
        if count > fresh_at_seeding:
            return False
    return True


def completed_runs(stack: Stack) -> int:
    response = stack.api("GET", "/processes/ttl-sweeper")
    if response.status_code != 200:
        return 0
    return int(response.json().get("aggregateStats", {}).get("runs", 0))


def check_progress(stack: Stack, client: firestore.Client) -> None:
    """Slots complete, the demo is swept, and the API's ``:run`` reaches the scheduler."""
    wait_for(lambda: completed_runs(stack) >= 2, PROGRESS_TIMEOUT, "two completed runs")
    wait_for(lambda: swept(client), PROGRESS_TIMEOUT, "the demo swept")
    work = stack.api("GET", "/processes/ttl-sweeper/work/demo_sessions").json()
    assert work["state"] == "completed"
    assert not stack.log_has("RunJob")  # the demo's ticks never need a continuation
    assert stack.api("POST", "/processes/ttl-sweeper:run").status_code < 300
    wait_for(lambda: stack.log_has("RunJob"), PROGRESS_TIMEOUT, "RunJob in the log")


@pytest.mark.slow
def test_the_local_stack_runs_sweeps_and_stops_cleanly(
    stacks: list[Stack], emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    own, shared = stacks
    assert own.info["run_dir"] != shared.info["run_dir"]
    ports = {own.info[k] for k in ("run_url", "api_url", "scheduler_endpoint")}
    assert ports.isdisjoint({shared.info[k] for k in ("run_url", "api_url", "scheduler_endpoint")})
    assert shared.info["emulator_host"] == emulator.host != own.info["emulator_host"]
    assert any("java" in " ".join(c.cmdline()) for c in own.children)
    assert not any("java" in " ".join(c.cmdline()) for c in shared.children)

    for stack in stacks:
        check_progress(stack, stack.client(monkeypatch))

    for stack, sig in ((own, signal.SIGINT), (shared, signal.SIGTERM)):
        stack.process.send_signal(sig)
        assert stack.process.wait(STOP_TIMEOUT) == 0
        _, alive = psutil.wait_procs(stack.children, timeout=5)
        assert alive == [], f"stray processes: {[p.cmdline() for p in alive]}"
        output = stack.output.read_text()
        assert "run=completed" in output, output
    # The copy that found FIRESTORE_EMULATOR_HOST left that emulator running.
    assert emulator.process.poll() is None
    emulator.reset()


@pytest.mark.slow
def test_ctrl_c_stops_make_run_with_0_and_a_quiet_log(tmp_path: Path) -> None:
    """``make run`` on a terminal (a pty whose foreground group make is in): Ctrl-C
    stops the stack, make exits 0, and a normal start and stop logs no warning."""
    master, slave = os.openpty()
    run_root = tmp_path / "runs"
    args = (
        f"--run-dir {run_root} --tick-seconds 1 --frequency-seconds 5 "
        f"--min-frequency-seconds 5 --duration {SAFETY_DURATION}"
    )

    def controlling_terminal() -> None:  # pragma: no cover - runs in the child
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    env = {k: v for k, v in os.environ.items() if k != "FIRESTORE_EMULATOR_HOST"}
    make = subprocess.Popen(
        ["make", "-s", "run", f"ARGS={args}"],
        cwd=REPO,
        env={**env, "PYTHONUNBUFFERED": "1", "TERM": "dumb"},
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=controlling_terminal,
    )
    os.close(slave)
    output = bytearray()

    def read_some() -> None:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            with suppress(OSError):
                output.extend(os.read(master, 65536))

    def has_completed_a_run() -> bool:
        read_some()
        info = next(iter(run_root.glob("*/stack.json")), None)
        if info is None:
            return False
        api = json.loads(info.read_text())["api_url"]
        with suppress(requests.RequestException):
            body = requests.get(f"{api}/processes/ttl-sweeper", timeout=5).json()
            return int(body.get("aggregateStats", {}).get("runs", 0)) >= 1
        return False

    try:
        wait_for(has_completed_a_run, START_TIMEOUT + PROGRESS_TIMEOUT, "a completed run")
        os.write(master, b"\x03")  # Ctrl-C, as the terminal sends it
        deadline = time.monotonic() + STOP_TIMEOUT
        while make.poll() is None and time.monotonic() < deadline:
            read_some()
        code = make.wait(timeout=5)
    finally:
        if make.poll() is None:
            make.kill()
        os.close(master)
    assert code == 0, output.decode(errors="replace")[-2000:]
    log = next(run_root.glob("*/run.log")).read_text().splitlines()
    loud = [line for line in log if json.loads(line).get("severity") in LOUD]
    assert not loud, loud[:5]


# -- operator scripts ------------------------------------------------------------------------------
BIN = REPO / "infra" / "bin"


def test_export_then_import_restores_the_emulators_documents(
    client: firestore.Client, emulator: Emulator, tmp_path: Path
) -> None:
    client.collection("demo_sessions").document("kept").set({"n": 1})
    metadata = export_data(emulator.host, PROJECT, tmp_path / "backup")
    assert metadata.is_relative_to(tmp_path / "backup")
    emulator.reset()
    assert not client.collection("demo_sessions").document("kept").get().exists
    import_data(emulator.host, PROJECT, tmp_path / "backup")  # the folder is enough
    assert client.collection("demo_sessions").document("kept").get().to_dict() == {"n": 1}


def test_importing_a_folder_without_an_export_names_it(emulator: Emulator, tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="overall_export_metadata"):
        import_data(emulator.host, PROJECT, tmp_path)


@pytest.mark.slow
def test_the_emulator_script_starts_and_stops_a_background_emulator(tmp_path: Path) -> None:
    state = tmp_path / "state"

    def script(*args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if k != "FIRESTORE_EMULATOR_HOST"}
        return subprocess.run(
            [str(BIN / "emulator"), *args, "--state-dir", str(state)],
            capture_output=True,
            text=True,
            env=env,
            timeout=START_TIMEOUT,
            check=False,
        )

    started_run = script("start")
    assert started_run.returncode == 0, started_run.stderr
    recorded = json.loads((state / "state.json").read_text())
    try:
        assert psutil.pid_exists(recorded["pid"])
        assert f"FIRESTORE_EMULATOR_HOST=127.0.0.1:{recorded['port']}" in started_run.stdout
        again = script("start")
        assert again.returncode == 1 and "already running" in again.stderr
        assert script("status").returncode == 0
    finally:
        stopped = script("stop")
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    assert not psutil.pid_exists(recorded["pid"]) or (
        psutil.Process(recorded["pid"]).status() == psutil.STATUS_ZOMBIE
    )
    assert script("status").returncode == 1


def test_the_run_log_wraps_plain_lines_and_tags_every_source(tmp_path: Path) -> None:
    log = RunLog(tmp_path / "run.log")
    log.write("run", '{"severity": "INFO", "message": "slot claimed", "slot": "x"}')
    log.write("api", "[2026-11-29 12:00:00 +0000] [7] [ERROR] Worker failed to boot.")
    log.close()
    lines = [json.loads(line) for line in (tmp_path / "run.log").read_text().splitlines()]
    assert lines[0] == {"severity": "INFO", "message": "slot claimed", "slot": "x", "source": "run"}
    assert lines[1]["severity"] == "ERROR" and lines[1]["source"] == "api"
    assert "Worker failed to boot" in lines[1]["message"]
    followed = follow(tmp_path / "run.log", from_start=True)
    assert "slot claimed slot=x" in pretty(next(followed))
    followed.close()
