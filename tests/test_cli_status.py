"""``slotwork status`` and ``slotwork watch`` over state the real engine made: an api
server, and ticks of an in-process App on the same emulator and collection."""

from __future__ import annotations

import io
import json
import os
import pty
import queue
import re
import select
import signal
import subprocess
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import requests
from rich.console import Console
from test_cli import CLI, WIDTH, answer, engine, line_with, served, slotwork, url, words

from slotwork_cli import views, watch
from slotwork_cli.values import parse_time

from sample_processes import LATER

__all__ = ["engine", "served", "url"]  # the fixtures of test_cli, used here by name

STATE_WORDS = ("queued", "active", "aborted", "incomplete", "completed")
LONG_NAME = "sync-customer-accounts-europe-west"  # 34 characters, as real ones get
FIRST_FRAME_SECONDS = 30.0


def in_progress(engine: Any, items: int = 20) -> None:
    """``sharded`` mid-run: every item done but ``LATER``, whose retry is due in an
    hour; ``failing`` with its items quarantined; ``noop`` completed."""
    engine.register_many("sharded", [(f"item-{n:02d}", None) for n in range(items)])
    engine.register("sharded", LATER)
    for shard in (0, 1):
        engine.tick("sharded", shard)
    engine.register_many("failing", [("f1", None), ("f2", None)])
    engine.tick("failing")
    engine.register("noop", "n1")
    engine.tick("noop")
    estimate = engine.get_process("sharded").run.estimate
    assert (estimate.total, estimate.left) == (items + 1, 1)  # the precondition


def render(view: Any, width: int = WIDTH) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None)
    console.print(view)
    output = console.file.getvalue()  # type: ignore[attr-defined]
    assert isinstance(output, str)
    return output


def assert_whole(output: str, processes: list[dict[str, Any]], width: int = WIDTH) -> None:
    """No line wider than ``width``; each process's name whole, and its run's state
    word whole in its row (a table's line, or a narrow console's block of lines)."""
    assert "…" not in output
    lines = output.splitlines()
    assert max(len(line.rstrip()) for line in lines) <= width, output
    names = [p["processName"] for p in processes]
    starts = []
    for name in names:
        found = [i for i, line in enumerate(lines) if re.match(rf"{re.escape(name)}(\s|$)", line)]
        assert len(found) == 1, (name, output)
        starts.append(found[0])
    ends = [*sorted(starts)[1:], len(lines)]
    for p, start in zip(processes, starts, strict=True):
        row = "\n".join(lines[start : min(e for e in ends if e > start)])
        state = p.get("run", {}).get("status", {}).get("state")
        if state:
            assert re.search(rf"\b{state}\b", row), (state, row)


def labelled(label: str, output: str) -> list[str]:
    """The words of the one line that begins with ``label`` (a report's row)."""
    found = [line.split() for line in output.splitlines() if line.startswith(label + " ")]
    assert len(found) == 1, f"{label!r} begins {len(found)} lines of:\n{output}"
    return found[0]


# -- status --------------------------------------------------------------------------------
def test_status_fits_80_columns_and_cuts_no_name_or_state(url: str, engine: Any) -> None:
    in_progress(engine)
    engine.pause("failing", "audit")
    processes = answer(slotwork(url, "--json", "status"))["processes"]
    result = slotwork(url, "status")
    assert result.returncode == 0, result.stderr
    assert_whole(result.stdout, processes)
    header = line_with("process", result.stdout).split()
    assert header == ["process", "run", "done", "left", "rate", "eta", "errors", "notes"]
    assert labelled("sharded", result.stdout)[:4] == ["sharded", "active", "20", "1"]
    failing = labelled("failing", result.stdout)
    assert failing[:4] == ["failing", "incomplete", "2", "0"]
    assert " ".join(failing).endswith("paused, 2 quarantined")


@pytest.mark.parametrize("width", [WIDTH, 60, 40])
def test_long_names_and_every_state_word_fit_without_a_cut(
    url: str, engine: Any, width: int
) -> None:
    in_progress(engine)
    real = requests.get(f"{url}/processes", timeout=30).json()["processes"]
    sharded = next(p for p in real if p["processName"] == "sharded")
    variants = []
    for n, state in enumerate(STATE_WORDS):
        p = json.loads(json.dumps(sharded))
        p["processName"] = f"{LONG_NAME}-{n}"
        p["run"]["status"]["state"] = state
        p["run"]["estimate"].update(total="100000", done="99000", left="1000")
        p["quarantinedItems"] = "12345"
        p["paused"] = n % 2 == 0
        variants.append(p)
    assert_whole(render(views.processes_view(variants, width, _now(sharded))), variants, width)


def test_a_run_that_will_not_finish_in_its_slot_is_flagged(url: str, engine: Any) -> None:
    in_progress(engine)
    p = requests.get(f"{url}/processes/sharded", timeout=30).json()
    estimate = p["run"]["estimate"]
    # As the API answers a run that is too slow: its ETA after the slot's end.
    slot_end = parse_time(estimate["slotEnd"])
    assert slot_end is not None
    late = (slot_end + timedelta(hours=2)).isoformat()
    estimate.update(eta=late, finishesInSlot=False, rate=0.5)
    output = render(views.processes_view([p], WIDTH, _now(p)))
    assert labelled("sharded", output)[5].endswith("!")
    assert "! sharded will not finish in this slot: at 30.0/m its 1 item left" in words(output)


def _now(p: dict[str, Any]) -> Any:
    started = parse_time(p["run"]["status"]["startTime"])
    assert started is not None
    return started


def test_status_of_one_process_shows_run_shards_policies_errors(url: str, engine: Any) -> None:
    in_progress(engine)
    state = answer(slotwork(url, "--json", "status", "sharded"))
    result = slotwork(url, "status", "sharded")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert max(len(line.rstrip()) for line in out.splitlines()) <= WIDTH
    assert labelled("state", out) == ["state", "active"]
    assert labelled("slot", out) == ["slot", state["run"]["slot"]]
    assert "20 of 21 done, 1 left, 0 failed" in out
    assert "finishes in time" in words(out) or "WILL NOT finish" in words(out)
    for shard in state["shards"]:
        holder = shard["lease"]["holder"]
        row = line_with(holder, out).split()
        assert row[0] == str(shard["index"]) and row[1] == holder and row[2] == "1"
        assert row[3] == f"{shard['itemsDone']}/{shard['itemsTotal']}"
        assert "released" in row
    assert labelled("rate limit", out) == ["rate", "limit", "none"]
    assert " ".join(labelled("error budget", out)).endswith(
        "10 errors per item, 25 failed items per run"
    )
    assert labelled("catch-up", out) == ["catch-up", "skip"]
    assert f"item '{LATER}': RetryAfter" in line_with("RetryAfter", out)
    assert labelled("missed slots", out) == ["missed", "slots", "none"]


# -- watch ---------------------------------------------------------------------------------
def test_watch_shows_each_shard_of_a_run_in_progress(url: str, engine: Any) -> None:
    in_progress(engine)
    shards = {s["index"]: s for s in requests.get(f"{url}/processes/sharded", timeout=30).json()[
        "shards"]}  # fmt: skip
    result = slotwork(url, "watch", "sharded", "--count", "2", "--interval", "0.1")
    assert result.returncode == 0, result.stderr
    frames = result.stdout.split("\n\n")
    assert len(frames) == 2
    for frame in frames:
        assert max(len(line.rstrip()) for line in frame.splitlines()) <= WIDTH
        head = labelled("sharded", frame)
        assert head[:3] == ["sharded", "active", "20/21"]
        assert "█" in head[3] and "░" in head[3]  # the bar: done and left cells
        for index, shard in shards.items():
            row = line_with(f"shard {index} ", frame).split()
            assert row[2:4] == [shard["status"]["state"], f"{shard['itemsDone']}/"
                                f"{shard['itemsTotal']}"]  # fmt: skip
            assert "released" in row


def test_watch_json_prints_one_api_answer_per_refresh(url: str, engine: Any) -> None:
    in_progress(engine)
    result = slotwork(url, "--json", "watch", "--count", "3", "--interval", "0.1")
    assert result.returncode == 0, result.stderr
    refreshes = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(refreshes) == 3
    for refresh in refreshes:
        names = [p["processName"] for p in refresh["processes"]]
        assert names == ["failing", "noop", "sharded"]
        assert refresh["processes"][2]["run"]["estimate"]["left"] == "1"


def test_watch_of_an_unknown_process_stops_at_once(url: str) -> None:
    result = slotwork(url, "watch", "nope", "--interval", "0.1")
    assert result.returncode == 1 and "404 NOT_FOUND" in result.stderr


def test_watch_runs_until_ctrl_c_and_exits_0(url: str, engine: Any) -> None:
    in_progress(engine)
    env = {**os.environ, "COLUMNS": str(WIDTH)}
    process = subprocess.Popen(
        [CLI, "--url", url, "watch", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()
    assert process.stdout is not None
    reader = threading.Thread(target=lambda: [lines.put(x) for x in process.stdout or []])
    reader.start()
    try:
        # The first frame's line of the sharded run shows the view is up and refreshing.
        while "sharded" not in lines.get(timeout=FIRST_FRAME_SECONDS):
            pass
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        reader.join(timeout=30)


def test_watch_on_a_terminal_redraws_in_place_until_ctrl_c(url: str, engine: Any) -> None:
    in_progress(engine)
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": str(WIDTH), "LINES": "40", "TERM": "xterm"}
    process = subprocess.Popen(
        [CLI, "--url", url, "watch", "sharded", "--interval", "0.1"],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        env=env,
    )
    os.close(terminal)
    seen = b""
    try:
        deadline = time.monotonic() + FIRST_FRAME_SECONDS
        # Three headings drawn: the view refreshed twice in place.
        while seen.count(b"Ctrl-C stops") < 3:
            assert time.monotonic() < deadline, seen.decode(errors="replace")
            ready, _, _ = select.select([controller], [], [], 1.0)
            if ready:
                seen += os.read(controller, 65536)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", seen.decode(errors="replace"))
    assert b"\x1b[1A" in seen or b"\x1b[2K" in seen  # the cursor went back up: in place
    assert "shard 0" in text and "shard 1" in text and "20/21" in text


def test_a_frame_too_narrow_for_the_table_lists_each_line_by_itself(url: str, engine: Any) -> None:
    in_progress(engine)
    p = requests.get(f"{url}/processes/sharded", timeout=30).json()
    p["processName"] = LONG_NAME
    output = render(watch.frame([p], 40, _now(p), "heading"), 40)
    assert max(len(line.rstrip()) for line in output.splitlines()) <= 40
    assert line_with(LONG_NAME, output).strip() == LONG_NAME
    assert line_with("20/21", output).split() == ["progress", "20/21"]
    assert line_with("shard 1", output).strip() == "shard 1"
