"""``slotwork``: register work and look at state through the slotwork HTTPS API.

    slotwork status [PROCESS]
    slotwork work register|unregister|get|list ...
    slotwork register-file PROCESS FILE
    slotwork pause|resume|run PROCESS
    slotwork settings PROCESS [--frequency 1h] [--int K=V] [--string K=V] ...
    slotwork runs PROCESS

The API's URL comes from ``--url`` or ``SLOTWORK_API_URL``. A deployed (https,
not localhost) API gets a Google ID token with every request; a local one
gets none. ``--json`` prints the API's JSON instead of tables.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console

from slotwork_cli import output
from slotwork_cli.auth import AuthError
from slotwork_cli.client import DEFAULT_TIMEOUT_SECONDS, ApiError, Client
from slotwork_cli.files import BATCH_SIZE, Counts, FileError, register_file

URL_ENV = "SLOTWORK_API_URL"
AUDIENCE_ENV = "SLOTWORK_API_AUDIENCE"
STATES = ("queued", "active", "completed", "incomplete", "aborted", "cleanup", "dropped")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(s|m|h|d)?$")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

Command = Callable[[argparse.Namespace, Client, output.Output], int]


def duration(text: str) -> str:
    """A proto3 JSON Duration from ``90``, ``90s``, ``15m``, ``1h`` or ``2d``."""
    found = _DURATION.match(text.strip())
    if not found:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 900s, 15m, 1h, 2d")
    seconds = float(found.group(1)) * _UNIT_SECONDS[found.group(2) or "s"]
    return f"{seconds:g}s" if seconds != int(seconds) else f"{int(seconds)}s"


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


def params_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """Params from ``--params JSON``, ``--int K=V`` and ``--string K=V``; None if none given."""
    params: dict[str, dict[str, Any]] = {}
    if args.params:
        try:
            given = json.loads(args.params)
        except ValueError as err:
            raise SystemExit(f"error: --params is not valid JSON: {err}") from None
        if not isinstance(given, dict):
            raise SystemExit('error: --params must be a JSON object {"intParams": ...}')
        params = {k: dict(v) if isinstance(v, dict) else v for k, v in given.items()}
    if args.int:
        params.setdefault("intParams", {}).update(dict(args.int))
    if args.string:
        params.setdefault("stringParams", {}).update(dict(args.string))
    return params if (args.params or args.int or args.string) else None


def _add_params_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--int",
        action="append",
        type=int_key_value,
        metavar="KEY=N",
        help="an integer parameter (repeatable)",
    )
    parser.add_argument(
        "--string",
        action="append",
        type=key_value,
        metavar="KEY=TEXT",
        help="a string parameter (repeatable)",
    )
    parser.add_argument(
        "--params",
        metavar="JSON",
        help='all parameters as JSON: {"intParams": {...}, "stringParams": {...}}',
    )


# -- commands ----------------------------------------------------------------------------------
def cmd_status(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    if args.process:
        out.show(client.get_process(args.process), output.process_table)
    else:
        processes = client.list_processes()
        out.show({"processes": processes}, lambda d: output.processes_table(d["processes"]))
    return 0


def cmd_work_register(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    out.show(client.register(args.process, args.item, params_of(args)), output.work_item_table)
    return 0


def cmd_work_unregister(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    out.show(client.unregister(args.process, args.item), output.work_item_table)
    return 0


def cmd_work_get(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    out.show(client.get_work(args.process, args.item), output.work_item_table)
    return 0


def cmd_work_list(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    page = client.list_work(args.process, args.page_size, args.page_token or "", args.state or "")
    items = list(page["items"])
    while args.all and page["nextPageToken"]:
        page = client.list_work(
            args.process, args.page_size, page["nextPageToken"], args.state or ""
        )
        items += page["items"]
    token = "" if args.all else page["nextPageToken"]
    out.show({"items": items, "nextPageToken": token}, lambda d: output.work_table(d["items"]))
    if token:
        out.note(f"more items: --page-token {token!r} (or --all)")
    return 0


def cmd_register_file(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    counts = Counts()
    show_progress = args.progress if args.progress is not None else sys.stderr.isatty()
    console = Console(stderr=True) if show_progress and not args.json else None
    started = time.monotonic()
    try:
        register_file(client, args.process, args.file, counts, args.batch_size, console)
    except (FileError, ApiError) as err:
        out.error(str(err))
        out.error(f"registered before stopping: {_summary(counts)}")
        if args.json:
            out.json({**_counts(counts), "error": str(err)})
        return 1
    seconds = time.monotonic() - started
    if args.json:
        out.json({**_counts(counts), "seconds": round(seconds, 3)})
    else:
        out.note(f"{counts.total} items from {args.file} in {seconds:.1f} s: {_summary(counts)}")
    return 0


def _counts(counts: Counts) -> dict[str, int]:
    return {"created": counts.created, "changed": counts.changed, "unchanged": counts.unchanged}


def _summary(counts: Counts) -> str:
    return ", ".join(f"{n} {word}" for word, n in _counts(counts).items())


def cmd_pause(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    out.show(client.pause(args.process, args.reason), output.process_table)
    return 0


def cmd_resume(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    out.show(client.resume(args.process), output.process_table)
    return 0


def cmd_run(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    answer = client.run(args.process)
    if args.json:
        out.json(answer)
    else:
        out.note(f"a tick of {args.process} was requested")
    return 0


def cmd_settings(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    body: dict[str, Any] = {}
    if args.frequency:
        body["scheduleFrequency"] = args.frequency
    settings = params_of(args)
    if settings is not None:
        body["settings"] = settings
    catch_up: dict[str, Any] = {}
    if args.catch_up:
        catch_up["policy"] = args.catch_up.upper()
    if args.run_late_within:
        catch_up["runLateWithin"] = args.run_late_within
    if catch_up:
        body["catchUp"] = catch_up
    if args.pause_after_aborts is not None:
        body["pauseAfterAborts"] = args.pause_after_aborts
    state = client.update_process(args.process, body) if body else client.get_process(args.process)
    out.show(state, output.process_table)
    return 0


def cmd_runs(args: argparse.Namespace, client: Client, out: output.Output) -> int:
    page = client.list_runs(args.process, args.page_size, args.page_token or "")
    out.show(page, lambda d: output.runs_table(d["runs"]))
    if page["nextPageToken"]:
        out.note(f"older runs: --page-token {page['nextPageToken']!r}")
    return 0


# -- the parser -----------------------------------------------------------------------------
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
    root.add_argument("--json", action="store_true", help="print JSON instead of tables")
    root.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="seconds per request"
    )
    commands = root.add_subparsers(dest="command", required=True, metavar="COMMAND")

    status = commands.add_parser("status", help="every process, or one in detail")
    status.add_argument("process", nargs="?")
    status.set_defaults(run=cmd_status)

    work = commands.add_parser("work", help="one work item, or a list")
    work_commands = work.add_subparsers(dest="work_command", required=True, metavar="ACTION")
    register = work_commands.add_parser("register", help="register (or update) an item")
    register.add_argument("process")
    register.add_argument("item")
    _add_params_options(register)
    register.set_defaults(run=cmd_work_register)
    for name, run, text in (
        ("unregister", cmd_work_unregister, "send an item to cleanup"),
        ("get", cmd_work_get, "show one item"),
    ):
        sub = work_commands.add_parser(name, help=text)
        sub.add_argument("process")
        sub.add_argument("item")
        sub.set_defaults(run=run)
    listing = work_commands.add_parser("list", help="list items, a page at a time")
    listing.add_argument("process")
    listing.add_argument("--state", choices=STATES)
    listing.add_argument("--page-size", type=int)
    listing.add_argument("--page-token")
    listing.add_argument("--all", action="store_true", help="follow every page")
    listing.set_defaults(run=cmd_work_list)

    from_file = commands.add_parser(
        "register-file", help='register JSON lines {"name": ..., "params": {...}} in batches'
    )
    from_file.add_argument("process")
    from_file.add_argument("file", help='a JSON-lines file, or "-" for stdin')
    from_file.add_argument(
        "--batch-size",
        type=int,
        default=BATCH_SIZE,
        choices=range(1, BATCH_SIZE + 1),
        metavar=f"1..{BATCH_SIZE}",
    )
    from_file.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    from_file.set_defaults(run=cmd_register_file)

    pause = commands.add_parser("pause", help="stop ticks from claiming")
    pause.add_argument("process")
    pause.add_argument("--reason")
    pause.set_defaults(run=cmd_pause)
    for name, run, text in (
        ("resume", cmd_resume, "let ticks claim again"),
        ("run", cmd_run, "ask for a tick now"),
    ):
        sub = commands.add_parser(name, help=text)
        sub.add_argument("process")
        sub.set_defaults(run=run)

    settings = commands.add_parser("settings", help="show or change a process's settings")
    settings.add_argument("process")
    settings.add_argument("--frequency", type=duration, help="slot length: 900s, 15m, 1h, 1d")
    _add_params_options(settings)
    settings.add_argument("--catch-up", choices=("skip", "run_late"))
    settings.add_argument("--run-late-within", type=duration)
    settings.add_argument("--pause-after-aborts", type=int)
    settings.set_defaults(run=cmd_settings)

    runs = commands.add_parser("runs", help="run history, newest first")
    runs.add_argument("process")
    runs.add_argument("--page-size", type=int)
    runs.add_argument("--page-token")
    runs.set_defaults(run=cmd_runs)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``slotwork`` console script; returns the exit status."""
    args = parser().parse_args(argv)
    out = output.Output(args.json)
    if not args.url:
        out.error(f"give the API's URL with --url or {URL_ENV}")
        return 2
    client = Client(args.url, audience=args.audience, timeout=args.timeout)
    command: Command = args.run
    try:
        return command(args, client, out)
    except ApiError as err:
        out.error(str(err))
        return 1
    except AuthError as err:
        out.error(str(err))
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
