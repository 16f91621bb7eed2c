"""Operator scripts of the local stack (``infra/bin/emulator``, ``infra/bin/tail-log``).

    emulator start [--port N] [--data-dir DIR]   start one in the background; prints its env
    emulator stop                                stop the one ``start`` started
    emulator status | env                        is it running / the export line for a shell
    emulator export DIR                          write the data under DIR (a new folder each time)
    emulator import PATH                         load an export (its folder or metadata file)
    tail-log [RUN_DIR] [--from-start] [--json]   follow a run's log (default: the latest run)

The background emulator's pid and port live in ``.slotwork/emulator/state.json``;
``make run`` uses it when FIRESTORE_EMULATOR_HOST is exported (``emulator env``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from slotwork_local import emulator
from slotwork_local.layout import CHECKOUT, Layout
from slotwork_local.runlog import follow, pretty

STATE_DIR = CHECKOUT / ".slotwork" / "emulator"
RUN_ROOT = Layout(CHECKOUT).run_root
DEFAULT_PROJECT = "slotwork-local"
STOP_TIMEOUT_SECONDS = 15.0  # the emulator exports its data on exit when started with --data-dir


@dataclass(frozen=True)
class EmulatorState:
    """What ``emulator start`` left for the other subcommands."""

    pid: int
    port: int
    project: str
    log: str

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def _state_file(state_dir: Path) -> Path:
    return state_dir / "state.json"


def read_state(state_dir: Path = STATE_DIR) -> EmulatorState | None:
    """The background emulator's state, or None when none is running (stale state removed)."""
    path = _state_file(state_dir)
    try:
        state = EmulatorState(**json.loads(path.read_text()))
    except (FileNotFoundError, ValueError, TypeError):
        return None
    if not _alive(state.pid):
        path.unlink(missing_ok=True)
        return None
    return state


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def start_background(
    port: int | None, project: str, data_dir: Path | None, state_dir: Path = STATE_DIR
) -> EmulatorState:
    """Start an emulator that outlives this command; refuse if one is already recorded."""
    running = read_state(state_dir)
    if running is not None:
        raise emulator.EmulatorError(
            f"an emulator is already running at {running.host} (pid {running.pid})"
        )
    state_dir.mkdir(parents=True, exist_ok=True)
    log = state_dir / "emulator.log"
    emu = emulator.start(port=port, project=project, log_path=log, data_dir=data_dir)
    state = EmulatorState(emu.process.pid, emu.port, project, str(log))
    _state_file(state_dir).write_text(json.dumps(asdict(state)) + "\n")
    return state


def stop_background(state_dir: Path = STATE_DIR, timeout: float = STOP_TIMEOUT_SECONDS) -> bool:
    """Stop the recorded emulator's process group; False when none was running."""
    state = read_state(state_dir)
    if state is None:
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(state.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while _alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.1)  # not our child: nothing to wait() on, so poll
    if _alive(state.pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(state.pid, signal.SIGKILL)
    _state_file(state_dir).unlink(missing_ok=True)
    return True


def _target(state_dir: Path, project: str | None) -> tuple[str, str]:
    """(host, project) of the emulator to export from or import into."""
    state = read_state(state_dir)
    host = os.environ.get("FIRESTORE_EMULATOR_HOST") or (state.host if state else None)
    if host is None:
        raise emulator.EmulatorError(
            "no emulator: run `infra/bin/emulator start` or export FIRESTORE_EMULATOR_HOST"
        )
    chosen = project or os.environ.get("GOOGLE_CLOUD_PROJECT")
    return host, chosen or (state.project if state else DEFAULT_PROJECT)


def latest_log(run_root: Path = RUN_ROOT) -> Path:
    """The newest run's log (``.slotwork/run/latest/run.log``)."""
    path = run_root / "latest" / "run.log"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: start the stack with `make run` first")
    return path


def _emulator_command(args: argparse.Namespace) -> int:
    state_dir: Path = args.state_dir
    if args.action == "start":
        state = start_background(
            args.port, args.project or DEFAULT_PROJECT, args.data_dir, state_dir
        )
        print(f"emulator running at {state.host} (pid {state.pid}, log {state.log})")
        print(f"export FIRESTORE_EMULATOR_HOST={state.host}")
    elif args.action == "stop":
        print("emulator stopped" if stop_background(state_dir) else "no emulator was running")
    elif args.action in ("status", "env"):
        found = read_state(state_dir)
        if found is None:
            print("no emulator running", file=sys.stderr)
            return 1
        if args.action == "env":
            print(f"export FIRESTORE_EMULATOR_HOST={found.host}")
        else:
            print(f"emulator running at {found.host} (pid {found.pid}, project {found.project})")
    elif args.action == "export":
        host, project = _target(state_dir, args.project)
        print(f"exported to {emulator.export_data(host, project, Path(args.path))}")
    elif args.action == "import":
        host, project = _target(state_dir, args.project)
        print(f"imported {emulator.import_data(host, project, Path(args.path))}")
    return 0


def _tail_command(args: argparse.Namespace) -> int:
    path = Path(args.run_dir) / "run.log" if args.run_dir else latest_log(args.run_root)
    print(f"following {path} (Ctrl-C stops)", file=sys.stderr)
    with contextlib.suppress(KeyboardInterrupt):
        for line in follow(path, from_start=args.from_start):
            print(line if args.json else pretty(line), flush=True)
    return 0


def parser() -> argparse.ArgumentParser:
    """The operator CLI's argument parser."""
    top = argparse.ArgumentParser(
        prog="slotwork-ops",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = top.add_subparsers(dest="command", required=True)
    emu = commands.add_parser("emulator", help="start, stop, export or import the emulator")
    emu.add_argument("action", choices=["start", "stop", "status", "env", "export", "import"])
    emu.add_argument("path", nargs="?", help="export: target folder; import: export to load")
    emu.add_argument("--port", type=int, default=None)
    emu.add_argument("--project", default=None)
    emu.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="start: import from here at start, export here at stop",
    )
    emu.add_argument("--state-dir", type=Path, default=STATE_DIR, help=argparse.SUPPRESS)
    tail = commands.add_parser("tail-log", help="follow the local run log")
    tail.add_argument("run_dir", nargs="?", help="a run's folder (default: the latest run)")
    tail.add_argument("--from-start", action="store_true", help="print the whole log first")
    tail.add_argument("--json", action="store_true", help="raw JSON lines")
    tail.add_argument("--run-root", type=Path, default=RUN_ROOT, help=argparse.SUPPRESS)
    return top


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m slotwork_local.ops``."""
    args = parser().parse_args(argv)
    if args.command == "emulator" and args.action in ("export", "import") and not args.path:
        parser().error(f"emulator {args.action} needs a PATH")
    try:
        if args.command == "emulator":
            return _emulator_command(args)
        return _tail_command(args)
    except (emulator.EmulatorError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
