"""``slotwork``: register work and look at state through the slotwork HTTPS API.

    slotwork status [PROCESS]
    slotwork watch [PROCESS] [--interval 2] [--once | --count N]
    slotwork work register|unregister|get|list|release ...
    slotwork work register-file|unregister-file PROCESS FILE
    slotwork pause|resume|run PROCESS
    slotwork settings PROCESS [--frequency 1h] [--rate-limit 100/1m] ...
    slotwork runs PROCESS
    slotwork init DIR [--wheel FILE]

The API's URL comes from ``--url`` or ``SLOTWORK_API_URL``. A deployed (https,
not localhost) API gets a Google ID token with every request; a local one
gets none. ``--json`` prints the API's JSON instead of views.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from slotwork_cli import commands
from slotwork_cli.auth import AuthError
from slotwork_cli.batches import BATCH_SIZE
from slotwork_cli.client import DEFAULT_TIMEOUT_SECONDS, ApiError, Client
from slotwork_cli.commands import Command, LocalCommand, UsageError
from slotwork_cli.output import Output
from slotwork_cli.settings import duration, non_negative, per_run, rate_limit

URL_ENV = "SLOTWORK_API_URL"
AUDIENCE_ENV = "SLOTWORK_API_AUDIENCE"
# The state words of the API's work list filter (slotwork.model.FILTERABLE_STATES;
# tests/test_cli.py checks they agree, so the CLI need not import the engine).
STATES = (
    "queued",
    "active",
    "retrying",
    "completed",
    "incomplete",
    "aborted",
    "quarantined",
    "cleanup",
    "dropped",
)
DEFAULT_WATCH_SECONDS = 2.0


def key_value(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    return key, value


def int_key_value(text: str) -> tuple[str, int]:
    key, value = key_value(text)
    try:
        return key, int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: the value must be an integer") from None


def _add_params_options(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument(
        "--int",
        action="append",
        type=int_key_value,
        metavar="KEY=N",
        help=f"an integer parameter (repeatable){what}",
    )
    parser.add_argument(
        "--string",
        action="append",
        type=key_value,
        metavar="KEY=TEXT",
        help=f"a string parameter (repeatable){what}",
    )
    parser.add_argument(
        "--params",
        metavar="JSON",
        help='all parameters as JSON: {"intParams": {...}, "stringParams": {...}}',
    )


def _add_bulk_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        choices=range(1, BATCH_SIZE + 1),
        metavar=f"1..{BATCH_SIZE}",
    )
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )


def _command(
    commands_: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Command,
    text: str,
    *positional: str,
) -> argparse.ArgumentParser:
    sub = commands_.add_parser(name, help=text, description=text)
    for argument in positional:
        sub.add_argument(argument)
    sub.set_defaults(run=run)
    return sub


def _work_parser(commands_: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    work = commands_.add_parser("work", help="work items: one, a list, or many from a file")
    actions = work.add_subparsers(dest="work_command", required=True, metavar="ACTION")
    register = _command(
        actions, "register", commands.work_register, "register (or update) an item",
        "process", "item",
    )  # fmt: skip
    _add_params_options(register, "")
    _command(
        actions, "unregister", commands.work_unregister, "send an item to cleanup",
        "process", "item",
    )  # fmt: skip
    _command(
        actions, "get", commands.work_get,
        "one item: state, times, stats, recent errors, retry or quarantine", "process", "item",
    )  # fmt: skip
    listing = _command(actions, "list", commands.work_list, "items, a page at a time", "process")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--page-size", type=int)
    listing.add_argument("--page-token")
    listing.add_argument("--all", action="store_true", help="follow every page")
    released = _command(
        actions, "release", commands.work_release,
        "make a quarantined item (or, with --all, every one) active again", "process",
    )  # fmt: skip
    released.add_argument("item", nargs="?")
    released.add_argument(
        "--state", choices=("quarantined",), help="the items to release (with --all)"
    )
    released.add_argument("--all", action="store_true", help="every quarantined item")
    _add_bulk_options(released)
    _file_command(actions, "register-file", commands.register_file, _REGISTER_FILE)
    _file_command(actions, "unregister-file", commands.unregister_file, _UNREGISTER_FILE)


_REGISTER_FILE = 'register JSON lines {"name": ..., "params": {...}} in batches'
_UNREGISTER_FILE = 'unregister the items named in a file (a name, or {"name": ...}, per line)'


def _file_command(
    commands_: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    run: Command,
    text: str,
) -> None:
    sub = _command(commands_, name, run, text, "process")
    sub.add_argument("file", help='the file, or "-" for stdin')
    _add_bulk_options(sub)


def _settings_parser(commands_: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    settings = _command(
        commands_, "settings", commands.settings,
        "show or change a process's settings and policies; each flag changes only what it names",
        "process",
    )  # fmt: skip
    settings.add_argument("--frequency", type=duration, help="slot length: 900s, 15m, 1h, 1d")
    _add_params_options(settings, ", the others kept")
    settings.add_argument("--catch-up", choices=("skip", "run_late"))
    settings.add_argument(
        "--run-late-within",
        type=duration,
        metavar="DURATION",
        help="how long run_late keeps finishing a late run (needs the run_late policy)",
    )
    settings.add_argument("--pause-after-aborts", type=non_negative, metavar="N")
    settings.add_argument(
        "--rate-limit",
        type=rate_limit,
        metavar="N[/PERIOD]",
        help="items per second (200), or per period (100/1m, 5/h), for the whole process",
    )
    settings.add_argument(
        "--error-budget-per-item",
        type=non_negative,
        metavar="N",
        help="errors on one item in a slot before it is aborted for the slot",
    )
    settings.add_argument(
        "--error-budget-per-run",
        type=per_run,
        metavar="N|FRACTION",
        help="failed items before a run is aborted: a count (25) or a part of its items (0.2)",
    )


def parser() -> argparse.ArgumentParser:
    """The argument parser of ``slotwork``."""
    root = argparse.ArgumentParser(
        prog="slotwork", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root.add_argument(
        "--url", default=os.environ.get(URL_ENV), help=f"the API's base URL (default: ${URL_ENV})"
    )
    root.add_argument(
        "--audience",
        default=os.environ.get(AUDIENCE_ENV),
        help="ID token audience (default: the URL's scheme and host)",
    )
    root.add_argument("--json", action="store_true", help="print the API's JSON")
    root.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per request"
    )
    commands_ = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = _command(commands_, "status", commands.status, "every process, or one in detail")
    status.add_argument("process", nargs="?")

    watch = _command(
        commands_, "watch", commands.watch_command,
        "a live view: progress bars per process and shard, until Ctrl-C",
    )  # fmt: skip
    watch.add_argument("process", nargs="?")
    watch.add_argument(
        "--interval", type=float, default=DEFAULT_WATCH_SECONDS, help="seconds between refreshes"
    )
    stop = watch.add_mutually_exclusive_group()
    stop.add_argument("--once", action="store_true", help="one refresh, then exit")
    stop.add_argument("--count", type=int, metavar="N", help="N refreshes, then exit")

    _work_parser(commands_)
    _file_command(commands_, "register-file", commands.register_file, _REGISTER_FILE)

    pause = _command(commands_, "pause", commands.pause, "stop ticks from claiming", "process")
    pause.add_argument("--reason")
    _command(commands_, "resume", commands.resume, "let ticks claim again", "process")
    _command(commands_, "run", commands.run, "ask for a tick now", "process")
    _settings_parser(commands_)
    runs = _command(commands_, "runs", commands.runs, "run history, newest first", "process")
    runs.add_argument("--page-size", type=int)
    runs.add_argument("--page-token")
    _init_parser(commands_)
    return root


def _init_parser(commands_: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    text = "write a new project of your own into DIR (new or empty): functions, tests, terraform"
    init = commands_.add_parser("init", help=text, description=text)
    init.add_argument("directory", metavar="DIR")
    init.add_argument(
        "--wheel",
        type=Path,
        metavar="FILE",
        help="a slotwork wheel to vendor into DIR/functions/vendor for the deployment",
    )
    init.set_defaults(local=commands.init)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slotwork`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    out = Output(args.json)
    local: LocalCommand | None = getattr(args, "local", None)
    if local is not None:
        try:
            return local(args, out)
        except UsageError as err:
            out.error(str(err))
            return 2
    if not args.url:
        out.error(f"give the API's URL with --url or {URL_ENV}")
        return 2
    client = Client(args.url, audience=args.audience, timeout=args.timeout)
    command: Command = args.run
    try:
        return command(args, client, out)
    except UsageError as err:
        out.error(str(err))
        return 2
    except (ApiError, AuthError) as err:
        out.error(str(err))
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
