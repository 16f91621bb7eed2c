"""``slotwork-local`` (``make run``): the whole system on one machine, shaped as production.

Starts the Firestore emulator (or uses FIRESTORE_EMULATOR_HOST), the local
scheduler and its Cloud Scheduler REST endpoint, the functions-framework
servers of ``run`` and ``api``, seeds the TTL-sweeper demo (when the processes
have it), then shows live progress until Ctrl-C or SIGTERM, and stops
everything it started.

It runs this repository's functions by default, or a project of your own:
``--source`` (its functions directory), ``--jobs`` (its tfvars file) and
``--processes`` (its processes module); outside this repository the defaults
are ``./functions``, ``./terraform/processes.auto.tfvars.json`` and
``./.slotwork/run``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Protocol

from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore
from rich.console import Console
from rich.live import Live

import slotwork
from slotwork.config import Config
from slotwork.deployment import PROCESSES_VARIABLE, load_processes
from slotwork_local import emulator, progress, servers
from slotwork_local.cadence import cadence_for
from slotwork_local.delivery import HttpDelivery
from slotwork_local.jobs import load_jobs
from slotwork_local.layout import Layout, default_layout
from slotwork_local.runlog import RunLog, attach, event
from slotwork_local.scheduler import LocalScheduler
from slotwork_local.scheduler_api import SchedulerApi
from slotwork_local.seed import DEMO_COLLECTIONS, seed
from slotwork_local.seed import PROCESS as DEMO_PROCESS

PROJECT = "slotwork-local"
LOCATION = "local"
REFRESH_SECONDS = 1.0
# A non-terminal output gets a summary line on every change, and this often regardless.
PLAIN_EVERY_SECONDS = 30.0


@dataclass(frozen=True)
class Options:
    """The command line, parsed."""

    tick_seconds: float | None
    frequency_seconds: float
    min_frequency_seconds: float
    deadline_seconds: float
    lease_seconds: float
    project: str
    emulator_port: int | None
    run_port: int | None
    api_port: int | None
    scheduler_port: int
    run_root: Path
    data_dir: Path | None
    jobs_file: Path
    source: Path
    processes: str
    seed: bool
    duration: float | None
    plain: bool
    checkout: bool = True


def parse_args(argv: list[str] | None = None, layout: Layout | None = None) -> Options:
    """Options from the command line (every default is the demo's, or ``layout``'s paths)."""
    layout = layout or default_layout()
    parser = argparse.ArgumentParser(prog="slotwork-local", description=__doc__)
    add = parser.add_argument
    add(
        "--tick-seconds",
        type=float,
        default=5.0,
        help="tick every job this often instead of its Terraform cron schedule (default 5)",
    )
    add("--cron", action="store_true", help="tick on the Terraform cron schedules as deployed")
    add("--frequency-seconds", type=float, default=30.0, help="the demo's slot frequency")
    add(
        "--min-frequency-seconds",
        type=float,
        default=10.0,
        help="SLOTWORK_MIN_FREQUENCY_SECONDS of the functions (production: 900)",
    )
    add("--deadline-seconds", type=float, default=20.0, help="SLOTWORK_DEADLINE_SECONDS")
    add("--lease-seconds", type=float, default=30.0, help="SLOTWORK_LEASE_SECONDS")
    add("--project", default=os.environ.get("GOOGLE_CLOUD_PROJECT") or PROJECT)
    add("--emulator-port", type=int, default=None, help="default: a free port")
    add("--run-port", type=int, default=None, help="default: a free port")
    add("--api-port", type=int, default=None, help="default: a free port")
    add("--scheduler-port", type=int, default=0, help="default: a free port")
    add(
        "--run-dir",
        type=Path,
        default=layout.run_root,
        help=f"where each run's folder and log go (default {layout.run_root})",
    )
    add(
        "--data-dir",
        type=Path,
        default=None,
        help="import the emulator's data from here at start and export it here at exit",
    )
    add(
        "--jobs",
        type=Path,
        default=layout.jobs,
        help=f"the job definitions, Terraform's tfvars JSON (default {layout.jobs})",
    )
    add(
        "--source",
        type=Path,
        default=layout.source,
        help=f"the functions directory: main.py and the processes module (default {layout.source})",
    )
    add(
        "--processes",
        default=os.environ.get(PROCESSES_VARIABLE) or Config().processes_module,
        help=f"the module of --source with PROCESSES (default ${PROCESSES_VARIABLE}, processes)",
    )
    add("--no-seed", action="store_true", help="do not seed the demo collections and items")
    add("--duration", type=float, default=None, help="stop by itself after this many seconds")
    add("--plain", action="store_true", help="summary lines instead of the live table")
    args = parser.parse_args(argv)
    return Options(
        tick_seconds=None if args.cron else args.tick_seconds,
        frequency_seconds=args.frequency_seconds,
        min_frequency_seconds=args.min_frequency_seconds,
        deadline_seconds=args.deadline_seconds,
        lease_seconds=args.lease_seconds,
        project=args.project,
        emulator_port=args.emulator_port,
        run_port=args.run_port,
        api_port=args.api_port,
        scheduler_port=args.scheduler_port,
        run_root=args.run_dir.resolve(),  # stack.json and the log path hold whole paths
        data_dir=args.data_dir,
        jobs_file=args.jobs,
        source=args.source.resolve(),
        processes=args.processes,
        seed=not args.no_seed,
        duration=args.duration,
        plain=args.plain or not sys.stdout.isatty(),
        checkout=layout.is_checkout,
    )


def new_run_dir(root: Path) -> Path:
    """A fresh folder for this run (two copies never share one); ``latest`` points to it."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_dir = root / f"{stamp}-{os.getpid()}"
    run_dir.mkdir(parents=True, exist_ok=False)
    latest = root / "latest"
    temporary = root / f".latest-{os.getpid()}"
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(run_dir.name)
    temporary.replace(latest)  # atomic: a concurrent tail never sees it missing
    return run_dir


@contextmanager
def stop_signals(stop: threading.Event) -> Iterator[None]:
    """SIGINT and SIGTERM set ``stop`` instead of interrupting wherever the code is."""

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


class Stoppable(Protocol):
    """A started child: the emulator or a functions server."""

    @property
    def port(self) -> int: ...

    def stop(self) -> None: ...


class Interrupted(Exception):
    """Ctrl-C or SIGTERM came while the stack was starting."""


def function_env(opts: Options, emulator_host: str, scheduler_endpoint: str) -> dict[str, str]:
    """The environment both functions get (DESIGN.md's variables)."""
    return {
        "FIRESTORE_EMULATOR_HOST": emulator_host,
        "GOOGLE_CLOUD_PROJECT": opts.project,
        "SLOTWORK_MIN_FREQUENCY_SECONDS": f"{opts.min_frequency_seconds:g}",
        "SLOTWORK_DEADLINE_SECONDS": f"{opts.deadline_seconds:g}",
        "SLOTWORK_LEASE_SECONDS": f"{opts.lease_seconds:g}",
        "SLOTWORK_SCHEDULER_PARENT": f"projects/{opts.project}/locations/{LOCATION}",
        "SLOTWORK_SCHEDULER_ENDPOINT": scheduler_endpoint,
        PROCESSES_VARIABLE: opts.processes,
        "SLOTWORK_TTL_SWEEPER_COLLECTIONS": ",".join(d.name for d in DEMO_COLLECTIONS),
    }


def check_source(opts: Options) -> None:
    """Refuse a --source without main.py before anything starts."""
    if not (opts.source / "main.py").is_file():
        raise ValueError(
            f"--source {opts.source}: no main.py there (the functions directory holds main.py "
            f"and the {opts.processes} module)"
        )


def project_app(opts: Options, client: firestore.Client) -> slotwork.App:
    """An App over the project's processes (the display reads state through it)."""
    # The deployed source directory is the import root, as in the functions.
    sys.path.insert(0, str(opts.source))
    return slotwork.App(
        load_processes(opts.processes), client=client, min_frequency=opts.min_frequency_seconds
    )


def seeds_demo(opts: Options, app: slotwork.App) -> bool:
    """Whether to seed the TTL-sweeper demo: asked for, and the processes have the sweeper."""
    return opts.seed and DEMO_PROCESS in app.processes


def tail_hint(opts: Options, run_dir: Path) -> str:
    """The command that follows this run's log."""
    if opts.checkout:
        return "infra/bin/tail-log"
    return f"python -m slotwork_local.ops tail-log {run_dir}"


def run(opts: Options, stop: threading.Event, console: Console) -> int:
    """Start the stack, show progress until ``stop`` (or ``duration``), stop it all."""
    check_source(opts)
    run_dir = new_run_dir(opts.run_root)
    runlog = RunLog(run_dir / "run.log")
    handler = attach(runlog, "local")
    with ExitStack() as cleanup:
        cleanup.callback(runlog.close)
        cleanup.callback(logging.getLogger("slotwork_local").removeHandler, handler)

        def step(what: str) -> None:
            if stop.is_set():
                raise Interrupted(what)
            console.print(f"[dim]- {what}[/dim]")

        try:
            step("starting the emulator, the local scheduler, the run and api functions")
            host = os.environ.get("FIRESTORE_EMULATOR_HOST") or ""
            emulator_port = None if host else (opts.emulator_port or emulator.free_port())
            if host:
                console.print(f"  using the emulator at FIRESTORE_EMULATOR_HOST={host}")
            else:
                host = f"127.0.0.1:{emulator_port}"
            os.environ["FIRESTORE_EMULATOR_HOST"] = host

            jobs = load_jobs(opts.jobs_file)
            run_port = opts.run_port or emulator.free_port()
            scheduler = LocalScheduler(
                jobs,
                {name: cadence_for(spec, opts.tick_seconds) for name, spec in jobs.items()},
                HttpDelivery(f"http://127.0.0.1:{run_port}"),
            )
            parent = f"projects/{opts.project}/locations/{LOCATION}"
            api = SchedulerApi(
                scheduler, parent, f"http://127.0.0.1:{run_port}", opts.scheduler_port
            )
            api.start()
            cleanup.callback(api.stop)
            env = function_env(opts, host, api.endpoint)
            started = start_children(opts, emulator_port, run_port, env, runlog, run_dir, cleanup)
            api_url = f"http://127.0.0.1:{started['api'].port}"
            # On the way out (callbacks run last-in first-out) the scheduler stops
            # first, and the ticks it has in flight end, before the servers and the
            # emulator they need go away.
            cleanup.callback(scheduler.join, 10.0)
            cleanup.callback(scheduler.stop)

            client = firestore.Client(
                project=opts.project,
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            )
            app = project_app(opts, client)
            demo = seeds_demo(opts, app)
            if demo:
                step("seeding the demo: " + ", ".join(d.name for d in DEMO_COLLECTIONS))
                seed(app, client, datetime.now(UTC), timedelta(seconds=opts.frequency_seconds))
            scheduler.start()
        except Interrupted:
            return 0

        info = {
            "pid": os.getpid(),
            "run_dir": str(run_dir),
            "log": str(runlog.path),
            "emulator_host": host,
            "run_url": f"http://127.0.0.1:{run_port}",
            "api_url": api_url,
            "scheduler_endpoint": api.endpoint,
            "scheduler_parent": parent,
            "project": opts.project,
        }
        (run_dir / "stack.json").write_text(json.dumps(info, indent=2) + "\n")
        event(logging.INFO, "stack started", **info)
        console.print(
            f"run {info['run_url']}   api {api_url}   scheduler {api.endpoint}   "
            f"emulator {host}\nlog {runlog.path} ({tail_hint(opts, run_dir)} follows it)"
        )
        collections = [d.name for d in DEMO_COLLECTIONS] if demo else []
        watch(
            lambda: progress.snapshot(
                app, client, scheduler.jobs(), collections, datetime.now(UTC)
            ),
            stop,
            opts,
            console,
            footer=f"log: {runlog.path}    Ctrl-C stops everything",
        )
        event(logging.INFO, "stack stopping")
        console.print("[dim]- stopping[/dim]")
    return 0


def start_children(
    opts: Options,
    emulator_port: int | None,
    run_port: int,
    env: dict[str, str],
    runlog: RunLog,
    run_dir: Path,
    cleanup: ExitStack,
) -> dict[str, Stoppable]:
    """Start the emulator (unless one was given) and both servers side by side.

    They do not need each other to start (the servers reach Firestore only on
    requests), and the emulator's JVM start-up dominates, so doing it at once
    saves seconds. Everything that started is registered for stopping, even
    when another part failed.
    """
    with ThreadPoolExecutor(max_workers=3) as pool:
        futures: dict[str, Future[Stoppable]] = {
            target: pool.submit(servers.start, target, env, runlog, port, opts.source / "main.py")
            for target, port in (("run", run_port), ("api", opts.api_port))
        }
        if emulator_port is not None:
            futures["emulator"] = pool.submit(
                emulator.start,
                emulator_port,
                opts.project,
                run_dir / "emulator.log",
                opts.data_dir,
            )
    started: dict[str, Stoppable] = {}
    failure: BaseException | None = None
    for name, future in futures.items():
        try:
            started[name] = future.result()
        except Exception as err:
            failure = failure or err
            continue
        cleanup.callback(started[name].stop)
    if failure is not None:
        raise failure
    return started


def watch(
    read: Callable[[], progress.Snapshot],
    stop: threading.Event,
    opts: Options,
    console: Console,
    footer: str,
) -> None:
    """Refresh the display every second until ``stop`` or the duration is over."""
    ends = time.monotonic() + opts.duration if opts.duration else None

    def over() -> bool:
        return stop.wait(REFRESH_SECONDS) or (ends is not None and time.monotonic() >= ends)

    def safe_read() -> progress.Snapshot | None:
        try:
            return read()
        except Exception as err:  # the display must survive a slow or restarting emulator
            event(logging.WARNING, "progress read failed", detail=str(err))
            return None

    def refreshes() -> Iterator[progress.Snapshot]:
        # One last read after the stop, so the final state is what stays on screen.
        finished = False
        while True:
            snap = safe_read()
            if snap is not None:
                yield snap
            if finished:
                return
            finished = over()

    if opts.plain:
        last_line, last_time = "", 0.0
        for snap in refreshes():
            line = progress.plain_line(snap)
            body = line.split(" ", 1)[-1]  # without the time
            if body != last_line or time.monotonic() - last_time >= PLAIN_EVERY_SECONDS:
                console.print(line, highlight=False)
                last_line, last_time = body, time.monotonic()
        return
    with Live(console=console, refresh_per_second=4, transient=False) as live:
        for snap in refreshes():
            live.update(progress.render(snap, footer))


@contextmanager
def own_terminal() -> Iterator[None]:
    """Make this process's group the terminal's foreground group while it runs.

    Ctrl-C goes to the foreground group: under ``make run`` that is make's, so make
    got the SIGINT too and exited 130 however cleanly the stack stopped. As a job
    of its own (what a shell does for each job), only the stack sees Ctrl-C; the
    terminal goes back to make's group before the stack exits, and make sees 0.
    """
    try:
        fd = sys.stdin.fileno()
        foreground = os.tcgetpgrp(fd) if os.isatty(fd) else None
    except (OSError, ValueError):
        foreground = None
    if foreground is None or os.getpgrp() == os.getpid():
        yield  # no terminal, or already a job of its own (started by a shell)
        return
    # A process outside the foreground group that sets it is sent SIGTTOU: ignore it.
    previous = signal.signal(signal.SIGTTOU, signal.SIG_IGN)
    try:
        os.setpgid(0, 0)
        os.tcsetpgrp(fd, os.getpgrp())
    except OSError:
        signal.signal(signal.SIGTTOU, previous)
        yield
        return
    try:
        yield
    finally:
        with suppress(OSError):
            os.tcsetpgrp(fd, foreground)
        signal.signal(signal.SIGTTOU, previous)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``slotwork-local``: exit 0 after a clean stop."""
    opts = parse_args(argv)
    stop = threading.Event()
    console = Console(soft_wrap=True)  # summary lines stay whole in a log or a pipe
    with own_terminal(), stop_signals(stop):
        try:
            return run(opts, stop, console)
        except (emulator.EmulatorError, servers.ServerError, OSError, ValueError) as err:
            console.print(f"[red]slotwork-local: {err}[/red]")
            return 1


if __name__ == "__main__":
    sys.exit(main())
