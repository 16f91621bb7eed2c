"""What each ``slotwork`` command does: one function per command, given its parsed
arguments, the API client (not for ``init``, which writes files) and where to
print. Each answers its exit status."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console, RenderableType

from slotwork_cli import files, release, scaffold, views, work_views
from slotwork_cli.batches import BatchError, Counts
from slotwork_cli.client import ApiError, Client
from slotwork_cli.output import Output
from slotwork_cli.settings import Change, SettingsError, merge_params
from slotwork_cli.watch import watch

Command = Callable[[argparse.Namespace, Client, Output], int]
# A command that needs no API (``init``).
LocalCommand = Callable[[argparse.Namespace, Output], int]


class UsageError(Exception):
    """The arguments cannot work together; nothing was sent (exit status 2)."""


def params_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """Params from ``--params JSON``, ``--int K=V`` and ``--string K=V``; None if none given."""
    given = _params_json(args)
    if given is None and not args.int and not args.string:
        return None
    return merge_params(given or {}, dict(args.int or []), dict(args.string or []))


def _params_json(args: argparse.Namespace) -> dict[str, Any] | None:
    if not args.params:
        return None
    try:
        given = json.loads(args.params)
    except ValueError as err:
        raise UsageError(f"--params is not valid JSON: {err}") from None
    if not isinstance(given, dict):
        raise UsageError('--params must be a JSON object {"intParams": ...}')
    return given


# -- a project of your own ----------------------------------------------------------------
def init(args: argparse.Namespace, out: Output) -> int:
    """``slotwork init DIR``: write a new project; a DIR in use is a usage error."""
    target = Path(args.directory)
    try:
        written = scaffold.init(target, wheel=args.wheel)
    except scaffold.InitError as err:
        raise UsageError(str(err)) from None
    out.note(f"wrote {len(written)} files into {target}")
    out.note(
        f"next:\n  cd {target}\n"
        "  python3 -m venv .venv && . .venv/bin/activate && pip install 'slotwork[local]' pytest\n"
        "  make test    # the example worker's tests, in memory\n"
        "  make run     # your processes on the local stack (Ctrl-C stops it)\n"
        "README.md says more; functions/requirements.txt says how the deployment gets slotwork."
    )
    return 0


# -- processes -----------------------------------------------------------------------------
def status(args: argparse.Namespace, client: Client, out: Output) -> int:
    if args.process:
        out.show(client.get_process(args.process), views.process_view)
    else:
        answer = {"processes": client.list_processes()}
        out.show(answer, lambda d, width, now: views.processes_view(d["processes"], width, now))
    return 0


def pause(args: argparse.Namespace, client: Client, out: Output) -> int:
    out.show(client.pause(args.process, args.reason), views.process_view)
    return 0


def resume(args: argparse.Namespace, client: Client, out: Output) -> int:
    out.show(client.resume(args.process), views.process_view)
    return 0


def run(args: argparse.Namespace, client: Client, out: Output) -> int:
    answer = client.run(args.process)
    if args.json:
        out.json(answer)
    else:
        out.note(f"a tick of {args.process} was requested")
    return 0


def settings(args: argparse.Namespace, client: Client, out: Output) -> int:
    change = Change(
        frequency=args.frequency,
        params=_params_json(args),
        ints=dict(args.int or []),
        strings=dict(args.string or []),
        catch_up=args.catch_up,
        run_late_within=args.run_late_within,
        pause_after_aborts=args.pause_after_aborts,
        rate_limit=args.rate_limit,
        per_item=args.error_budget_per_item,
        per_run=args.error_budget_per_run,
    )
    impossible = change.impossible()
    if impossible:
        raise UsageError(impossible)
    if change.empty:
        out.show(client.get_process(args.process), views.process_view)
        return 0
    stored = client.get_process(args.process) if change.needs_stored() else None
    try:
        body = change.body(args.process, stored)
    except SettingsError as err:
        out.error(str(err))
        return 1
    state = client.update_process(args.process, body)
    out.note(f"changed {', '.join(_paths(body))}")
    out.show(state, views.process_view)
    return 0


def _paths(body: dict[str, Any], prefix: str = "") -> list[str]:
    """The fields a PATCH body sets, one level deep (``catchUp.runLateWithin``)."""
    paths = []
    for key, value in body.items():
        if isinstance(value, dict) and key != "settings":
            paths += [f"{prefix}{key}.{sub}" for sub in value]
        else:
            paths.append(f"{prefix}{key}")
    return paths


def runs(args: argparse.Namespace, client: Client, out: Output) -> int:
    page = client.list_runs(args.process, args.page_size, args.page_token or "")
    out.show(page, lambda d, width, now: work_views.runs_table(d["runs"], width))
    if page["nextPageToken"]:
        out.note(f"older runs: --page-token {page['nextPageToken']!r}")
    return 0


def watch_command(args: argparse.Namespace, client: Client, out: Output) -> int:
    if args.interval <= 0:
        raise UsageError("--interval must be a positive number of seconds")
    count = 1 if args.once else args.count
    if count is not None and count < 1:
        raise UsageError("--count must be 1 or more")
    process = args.process

    def fetch() -> dict[str, Any]:
        if process:
            return client.get_process(process)
        return {"processes": client.list_processes()}

    source = client.base_url + (f"  {process}" if process else "")
    return watch(fetch, out, source, args.interval, count)


# -- one work item -----------------------------------------------------------------------------
def _work_view(process: str) -> Callable[[dict[str, Any], int, datetime], RenderableType]:
    return lambda data, width, now: work_views.work_report(data, now, process)


def work_register(args: argparse.Namespace, client: Client, out: Output) -> int:
    out.show(client.register(args.process, args.item, params_of(args)), _work_view(args.process))
    return 0


def work_unregister(args: argparse.Namespace, client: Client, out: Output) -> int:
    out.show(client.unregister(args.process, args.item), _work_view(args.process))
    return 0


def work_get(args: argparse.Namespace, client: Client, out: Output) -> int:
    out.show(client.get_work(args.process, args.item), _work_view(args.process))
    return 0


def work_list(args: argparse.Namespace, client: Client, out: Output) -> int:
    page = client.list_work(args.process, args.page_size, args.page_token or "", args.state or "")
    items = list(page["items"])
    while args.all and page["nextPageToken"]:
        page = client.list_work(
            args.process, args.page_size, page["nextPageToken"], args.state or ""
        )
        items += page["items"]
    token = "" if args.all else page["nextPageToken"]
    out.show(
        {"items": items, "nextPageToken": token},
        lambda d, width, now: work_views.work_table(items, width),
    )
    if token:
        out.note(f"more items: --page-token {token!r} (or --all)")
    return 0


def work_release(args: argparse.Namespace, client: Client, out: Output) -> int:
    if args.item and args.all:
        raise UsageError("give an ITEM or --all, not both")
    if args.state and not args.all:
        raise UsageError("--state quarantined goes with --all (every quarantined item)")
    if args.all:
        return _release_all(args, client, out)
    if not args.item:
        raise UsageError("give the ITEM to release, or --all for every quarantined item")
    before = client.get_work(args.process, args.item)
    after = client.release(args.process, args.item)
    if args.json:
        out.json(after)
        return 0
    if before.get("state") == release.QUARANTINED:
        out.note(f"released {args.item}: it is {after.get('state')} again")
    else:
        out.note(f"{args.item} is not quarantined ({before.get('state')}): left as it is")
    out.print(work_views.work_report(after, out.clock(), args.process))
    return 0


# -- many work items ------------------------------------------------------------------------
def _progress_console(args: argparse.Namespace) -> Console | None:
    show = args.progress if args.progress is not None else sys.stderr.isatty()
    return Console(stderr=True) if show and not args.json else None


def _bulk(
    args: argparse.Namespace,
    out: Output,
    counts: Counts,
    work: Callable[[Console | None], None],
    what: str,
) -> int:
    started = time.monotonic()
    try:
        work(_progress_console(args))
    except (BatchError, ApiError) as err:
        out.error(str(err))
        out.error(f"done before stopping: {counts.summary()}")
        if args.json:
            out.json({**counts.as_dict(), "error": str(err)})
        return 1
    seconds = time.monotonic() - started
    if args.json:
        out.json({**counts.as_dict(), "seconds": round(seconds, 3)})
    else:
        out.note(f"{counts.total} {what} in {seconds:.1f} s: {counts.summary()}")
    return 0


def register_file(args: argparse.Namespace, client: Client, out: Output) -> int:
    counts = Counts(files.REGISTER_WORDS)
    return _bulk(
        args,
        out,
        counts,
        lambda console: files.register_file(
            client, args.process, args.file, counts, args.batch_size, console
        ),
        f"items from {args.file}",
    )


def unregister_file(args: argparse.Namespace, client: Client, out: Output) -> int:
    counts = Counts(files.CHANGE_WORDS)
    return _bulk(
        args,
        out,
        counts,
        lambda console: files.unregister_file(
            client, args.process, args.file, counts, args.batch_size, console
        ),
        f"items from {args.file}",
    )


def _release_all(args: argparse.Namespace, client: Client, out: Output) -> int:
    counts = Counts(release.RELEASE_WORDS)
    return _bulk(
        args,
        out,
        counts,
        lambda console: release.release_all(client, args.process, counts, args.batch_size, console),
        "quarantined items",
    )
