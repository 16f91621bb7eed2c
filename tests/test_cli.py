"""The ``slotwork`` console script end to end, against the real api server and emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import slotwork as engine_package
from slotwork.model import FILTERABLE_STATES
from slotwork_cli.auth import IdTokens, needs_id_token
from slotwork_cli.client import Client
from slotwork_cli.main import STATES
from slotwork_local.emulator import Emulator

from conftest import new_client
from sample_processes import LATER, PROCESSES
from test_api_server import api_server, server_env

CLI = str(Path(sys.executable).parent / "slotwork")
COLLECTION = "cli"
TEN_THOUSAND_SECONDS = 60.0  # the bound for 10,000 items from a file, locally
WIDTH = 80  # what a piped console is, and the narrowest terminal people keep


@pytest.fixture(scope="module")
def served(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_server(server_env(emulator, COLLECTION)) as url:
        yield url


@pytest.fixture
def url(served: str, emulator: Emulator) -> str:
    emulator.reset()
    return served


@pytest.fixture
def engine(url: str, emulator: Emulator) -> engine_package.App:
    """The engine on the served collection: its ticks make the state the CLI shows."""
    return engine_package.App(
        PROCESSES, client=new_client(emulator), collection=COLLECTION, min_frequency=60
    )


def slotwork(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """The console script on a pipe, as a script would run it (80 columns)."""
    env = {k: v for k, v in os.environ.items() if k != "SLOTWORK_API_URL"}
    env["COLUMNS"] = str(WIDTH)
    return subprocess.run(
        [CLI, "--url", url, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
        check=False,
    )


def answer(result: subprocess.CompletedProcess[str]) -> Any:
    """The JSON a ``--json`` command printed (it must have succeeded)."""
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def words(output: str) -> str:
    """``output`` with every run of spaces and line breaks as one space (lines wrap at 80)."""
    return " ".join(output.split())


def line_with(text: str, output: str) -> str:
    """The one line of ``output`` that holds ``text``."""
    found = [line for line in output.splitlines() if text in line]
    assert len(found) == 1, f"{text!r} in {len(found)} lines of:\n{output}"
    return found[0]


def write_lines(path: Path, count: int, bad: dict[int, str] | None = None) -> Path:
    lines = [
        json.dumps({"name": f"item-{n:05d}", "params": {"intParams": {"n": n}}})
        for n in range(1, count + 1)
    ]
    for line_no, text in (bad or {}).items():
        lines[line_no - 1] = text
    path.write_text("\n".join(lines) + "\n")
    return path


def work_count(url: str) -> int:
    count, token = 0, ""
    while True:
        page = requests.get(
            f"{url}/processes/noop/work", params={"pageSize": 1000, "pageToken": token}, timeout=30
        ).json()
        count += len(page["items"])
        token = page["nextPageToken"]
        if not token:
            return count


# -- register-file -----------------------------------------------------------------------------
def test_register_file_sends_batches_and_reports_counts(url: str, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "items.jsonl", 1200)
    first = slotwork(url, "--json", "register-file", "noop", str(source))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["created"] == 1200
    assert work_count(url) == 1200
    again = slotwork(url, "register-file", "noop", str(source))
    assert again.returncode == 0
    assert "0 created, 0 changed, 1200 unchanged" in again.stdout


def test_register_file_stops_at_a_refused_batch_naming_the_line(url: str, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "items.jsonl", 1200, bad={700: '{"name": "a/b"}'})
    result = slotwork(url, "register-file", "noop", str(source))
    assert result.returncode == 1
    assert "line 700 (batch of lines 501-1000" in result.stderr
    assert "'/'" in result.stderr
    assert "500 created" in result.stderr
    assert work_count(url) == 500  # the first batch; nothing of the refused one


def test_register_file_refuses_a_line_that_is_not_json(url: str, tmp_path: Path) -> None:
    source = write_lines(tmp_path / "items.jsonl", 10, bad={3: "{oops"})
    result = slotwork(url, "register-file", "noop", str(source))
    assert result.returncode == 1 and "line 3: not valid JSON" in result.stderr
    assert work_count(url) == 0


def test_register_file_reads_stdin_and_skips_blank_lines(url: str) -> None:
    result = slotwork(url, "register-file", "noop", "-", stdin='{"name": "a"}\n\n{"name": "b"}\n')
    assert result.returncode == 0, result.stderr
    assert "2 created" in result.stdout


@pytest.mark.slow
def test_ten_thousand_items_from_a_file_with_a_progress_bar_in_under_a_minute(
    url: str, tmp_path: Path
) -> None:
    source = write_lines(tmp_path / "items.jsonl", 10_000)
    started = time.monotonic()
    result = slotwork(url, "register-file", "noop", str(source), "--progress")
    seconds = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert "10000/10000" in result.stderr  # the progress bar's last state
    assert "10000 created" in result.stdout
    # The first and the last line are there (counting all 10,000 would double the test).
    for name in ("item-00001", "item-10000"):
        assert requests.get(f"{url}/processes/noop/work/{name}", timeout=30).status_code == 200
    print(f"10,000 items registered with the CLI in {seconds:.1f} s")
    assert seconds < TEN_THOUSAND_SECONDS


# -- one item, processes ---------------------------------------------------------------------
def test_work_register_get_list_unregister(url: str) -> None:
    registered = slotwork(url, "--json", "work", "register", "noop", "a b/c%", "--int", "n=5",
                          "--string", "zone=eu")  # fmt: skip
    assert registered.returncode == 1 and "'/'" in registered.stderr
    ok = slotwork(url, "--json", "work", "register", "noop", "café 100%", "--int", "n=5")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["details"]["params"]["intParams"] == {"n": "5"}
    got = slotwork(url, "work", "get", "noop", "café 100%")
    assert got.returncode == 0 and "café 100%" in got.stdout
    assert line_with("state", got.stdout).split() == ["state", "queued"]
    listed = json.loads(slotwork(url, "--json", "work", "list", "noop", "--all").stdout)
    assert [w["id"] for w in listed["items"]] == ["café 100%"]
    gone = slotwork(url, "--json", "work", "unregister", "noop", "café 100%")
    assert json.loads(gone.stdout)["state"] == "cleanup"
    cleanup = slotwork(url, "--json", "work", "list", "noop", "--state", "cleanup")
    assert len(json.loads(cleanup.stdout)["items"]) == 1


def test_status_pause_resume_run_and_settings(url: str) -> None:
    table = slotwork(url, "status")
    assert table.returncode == 0 and "noop" in table.stdout
    paused = json.loads(slotwork(url, "--json", "pause", "noop", "--reason", "audit").stdout)
    assert paused["paused"] is True and paused["pauseReason"] == "audit"
    assert "yes: audit" in slotwork(url, "status", "noop").stdout
    assert json.loads(slotwork(url, "--json", "resume", "noop").stdout)["paused"] is False
    # This server has no scheduler to ask: the CLI says so and exits 1.
    unscheduled = slotwork(url, "run", "noop")
    assert unscheduled.returncode == 1 and "FAILED_PRECONDITION" in unscheduled.stderr
    changed = slotwork(url, "--json", "settings", "noop", "--frequency", "2h", "--string", "m=x",
                       "--catch-up", "run_late", "--run-late-within", "30m")  # fmt: skip
    state = answer(changed)
    assert state["scheduleFrequency"] == "7200s"
    assert state["settings"]["stringParams"] == {"m": "x"}
    assert state["catchUp"] == {"policy": "RUN_LATE", "runLateWithin": "1800s"}
    runs = slotwork(url, "--json", "runs", "noop")
    assert runs.returncode == 0 and json.loads(runs.stdout)["runs"] == []


def test_api_errors_exit_1_with_the_message(url: str) -> None:
    result = slotwork(url, "status", "nope")
    assert result.returncode == 1
    assert "404 NOT_FOUND" in result.stderr and "nope" in result.stderr


def test_no_url_is_a_usage_error() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SLOTWORK_API_URL"}
    result = subprocess.run([CLI, "status"], capture_output=True, text=True, env=env, check=False)
    assert result.returncode == 2 and "SLOTWORK_API_URL" in result.stderr


def test_url_comes_from_the_environment(url: str) -> None:
    env = {**os.environ, "SLOTWORK_API_URL": url}
    result = subprocess.run(
        [CLI, "--json", "status"], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode == 0
    names = [p["processName"] for p in json.loads(result.stdout)["processes"]]
    assert names == sorted(p.name for p in PROCESSES)


# -- unregister-file and release ---------------------------------------------------------------
def work_states(url: str, process: str = "noop") -> dict[str, str]:
    """Every item of ``process`` and its state word, through the API."""
    states: dict[str, str] = {}
    token = ""
    while True:
        page = requests.get(
            f"{url}/processes/{process}/work",
            params={"pageSize": 1000, "pageToken": token},
            timeout=30,
        ).json()
        states.update({w["id"]: w["state"] for w in page["items"]})
        token = page["nextPageToken"]
        if not token:
            return states


def test_unregister_file_takes_names_or_json_lines_and_counts_what_changed(
    url: str, tmp_path: Path
) -> None:
    assert answer(slotwork(url, "--json", "register-file", "noop", str(write_lines(
        tmp_path / "items.jsonl", 1200))))["created"] == 1200  # fmt: skip
    # 1,000 plain names (spaces around one), the register-file lines of 150 more, blank
    # lines, a name twice in different batches, and an unknown name.
    lines = [f"item-{n:05d}" for n in range(1, 1001)]
    lines[10] = "  item-00011  "
    lines += [json.dumps({"name": f"item-{n:05d}", "params": {}}) for n in range(1001, 1151)]
    lines += ["", "item-00001", "never-registered", ""]
    source = tmp_path / "gone.txt"
    source.write_text("\n".join(lines) + "\n")
    result = slotwork(url, "--json", "work", "unregister-file", "noop", str(source))
    assert answer(result) | {"seconds": 0} == {"changed": 1150, "unchanged": 2, "seconds": 0}
    states = work_states(url)
    assert sum(1 for s in states.values() if s == "cleanup") == 1150
    assert {states["item-01151"], states["item-01200"]} == {"queued"}
    again = slotwork(url, "work", "unregister-file", "noop", str(source), "--progress")
    assert again.returncode == 0, again.stderr
    assert "0 changed, 1152 unchanged" in again.stdout
    assert "1152/1152" in again.stderr  # the progress bar's last state


def test_unregister_file_stops_at_the_first_refused_batch_naming_it(
    url: str, tmp_path: Path
) -> None:
    names = [f"item-{n:05d}" for n in range(1, 1201)]
    assert answer(slotwork(url, "--json", "register-file", "noop", str(write_lines(
        tmp_path / "items.jsonl", 1200))))["created"] == 1200  # fmt: skip
    names[799] = "a/b"
    source = tmp_path / "gone.txt"
    source.write_text("\n".join(names) + "\n")
    result = slotwork(url, "work", "unregister-file", "noop", str(source))
    assert result.returncode == 1
    assert "line 800 (batch of lines 501-1000, nothing of it written)" in result.stderr
    assert "'/'" in result.stderr and "500 changed" in result.stderr
    states = work_states(url)
    assert sum(1 for s in states.values() if s == "cleanup") == 500  # the first batch only
    assert states["item-00501"] == "queued"


def test_quarantined_items_are_released_one_then_all(url: str, engine: Any) -> None:
    engine.register_many("failing", [(f"f{n}", None) for n in range(5)])
    assert engine.tick("failing").processed == 5  # every item fails once: quarantined
    listed = answer(slotwork(url, "--json", "work", "list", "failing", "--state", "quarantined"))
    assert sorted(w["id"] for w in listed["items"]) == [f"f{n}" for n in range(5)]
    got = slotwork(url, "work", "get", "failing", "f0")
    assert line_with("state", got.stdout).split() == ["state", "quarantined"]
    assert line_with("reason", got.stdout).split()[:2] == ["reason", "failed"]
    assert "last error: RuntimeError: always fails: f0" in words(got.stdout)
    assert "skipped until released: slotwork work release failing f0" in words(got.stdout)

    one = slotwork(url, "work", "release", "failing", "f0")
    assert one.returncode == 0, one.stderr
    assert "released f0: it is queued again" in one.stdout
    twice = slotwork(url, "work", "release", "failing", "f0")
    assert "f0 is not quarantined (queued): left as it is" in twice.stdout

    # Pages and batches of 2: the listing goes on while the items leave the quarantine.
    every = slotwork(url, "--json", "work", "release", "failing", "--state", "quarantined",
                     "--all", "--batch-size", "2")  # fmt: skip
    assert answer(every) | {"seconds": 0} == {"released": 4, "unchanged": 0, "seconds": 0}
    left = answer(slotwork(url, "--json", "work", "list", "failing", "--state", "quarantined"))
    assert left["items"] == []
    assert answer(slotwork(url, "--json", "status", "failing"))["quarantinedItems"] == "0"
    assert set(work_states(url, "failing").values()) == {"queued"}


def test_release_needs_an_item_or_all_but_not_both(url: str) -> None:
    for args in ([], ["f0", "--all"], ["--state", "quarantined"]):
        result = slotwork(url, "work", "release", "failing", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert "--all" in result.stderr


# -- one item as a report -----------------------------------------------------------------------
def test_work_get_of_a_never_processed_item_says_never(url: str) -> None:
    assert slotwork(url, "work", "register", "noop", "fresh", "--int", "n=3").returncode == 0
    got = slotwork(url, "work", "get", "noop", "fresh")
    assert got.returncode == 0, got.stderr
    assert line_with("done in slot", got.stdout).split() == ["done", "in", "slot", "never"]
    assert line_with("last processed", got.stdout).split() == ["last", "processed", "never"]
    assert line_with("params", got.stdout).split() == ["params", "n=3"]
    assert "1970" not in got.stdout
    # A report of labelled lines, not a one-row table under a URI.
    assert "/processes/noop/work/fresh" in line_with("uri", got.stdout)
    assert not any(set(line.strip()) == {"─"} for line in got.stdout.splitlines())


def test_work_get_of_a_retrying_item_shows_its_attempts_and_next_attempt(
    url: str, engine: Any
) -> None:
    engine.register_many("sharded", [("done-1", None), (LATER, None)])
    for shard in (0, 1):
        engine.tick("sharded", shard)
    item = answer(slotwork(url, "--json", "work", "get", "sharded", LATER))
    assert item["state"] == "retrying"  # the precondition: its retry is due in an hour
    got = slotwork(url, "work", "get", "sharded", LATER)
    assert line_with("attempts", got.stdout).split() == ["attempts", "1", "failed", "in", "this",
                                                         "slot"]  # fmt: skip
    next_attempt = item["details"]["nextAttemptTime"][:19] + "Z"
    assert next_attempt in line_with("next attempt", got.stdout)
    assert "RetryAfter" in got.stdout and "never" in line_with("done in slot", got.stdout)
    done = slotwork(url, "work", "get", "sharded", "done-1")
    slot = engine.get_process("sharded").run.slot.ToDatetime().strftime("%Y-%m-%dT%H:%M:%SZ")
    assert line_with("done in slot", done.stdout).split() == ["done", "in", "slot", slot]
    assert "seen=1" in line_with("stats", done.stdout)


# -- settings ---------------------------------------------------------------------------------
def catch_up(url: str, process: str = "noop") -> Any:
    return requests.get(f"{url}/processes/{process}", timeout=30).json()["catchUp"]


def test_run_late_within_alone_never_switches_the_policy(url: str) -> None:
    refused = slotwork(url, "settings", "noop", "--run-late-within", "10m")
    assert refused.returncode == 1
    assert "policy of noop is skip" in refused.stderr and "--catch-up run_late" in refused.stderr
    assert catch_up(url) == {"policy": "SKIP"}
    assert slotwork(url, "settings", "noop", "--catch-up", "run_late", "--run-late-within",
                    "30m").returncode == 0  # fmt: skip
    changed = slotwork(url, "settings", "noop", "--run-late-within", "10m")
    assert "changed catchUp.runLateWithin" in changed.stdout
    assert catch_up(url) == {"policy": "RUN_LATE", "runLateWithin": "600s"}
    # run_late alone keeps the stored window (the API alone would refuse it).
    assert slotwork(url, "settings", "noop", "--catch-up", "run_late").returncode == 0
    assert catch_up(url) == {"policy": "RUN_LATE", "runLateWithin": "600s"}
    assert slotwork(url, "settings", "noop", "--catch-up", "skip").returncode == 0
    assert catch_up(url) == {"policy": "SKIP"}
    without = slotwork(url, "settings", "noop", "--catch-up", "run_late")
    assert without.returncode == 1 and "needs --run-late-within" in without.stderr
    assert catch_up(url) == {"policy": "SKIP"}


def test_skip_with_a_run_late_window_is_refused_before_any_request() -> None:
    # Nothing listens on port 1: an attempted request would fail with 1, not 2.
    result = slotwork("http://127.0.0.1:1", "settings", "noop", "--catch-up", "skip",
                      "--run-late-within", "10m")  # fmt: skip
    assert result.returncode == 2
    assert "--catch-up skip and --run-late-within cannot go together" in result.stderr


def test_each_settings_flag_changes_only_what_it_names(url: str) -> None:
    first = answer(slotwork(url, "--json", "settings", "noop", "--int", "a=1", "--string", "z=x",
                            "--error-budget-per-run", "0.2", "--rate-limit", "100/1m"))  # fmt: skip
    assert first["settings"] == {"intParams": {"a": "1"}, "stringParams": {"z": "x"}}
    assert first["errorBudget"] == {"perItem": 10, "perRun": 0, "perRunFraction": 0.2}
    assert first["rateLimit"] == {"count": 100, "per": "60s"}
    then = answer(slotwork(url, "--json", "settings", "noop", "--int", "b=2",
                           "--error-budget-per-item", "3", "--rate-limit", "200"))  # fmt: skip
    assert then["settings"] == {"intParams": {"a": "1", "b": "2"}, "stringParams": {"z": "x"}}
    assert then["errorBudget"] == {"perItem": 3, "perRun": 0, "perRunFraction": 0.2}
    assert then["rateLimit"] == {"count": 200, "per": "1s"}
    assert then["scheduleFrequency"] == first["scheduleFrequency"]
    counted = answer(slotwork(url, "--json", "settings", "noop", "--error-budget-per-run", "5",
                              "--pause-after-aborts", "2"))  # fmt: skip
    assert counted["errorBudget"] == {"perItem": 3, "perRun": 5, "perRunFraction": 0}
    assert counted["pauseAfterAborts"] == 2 and counted["rateLimit"] == then["rateLimit"]
    shown = slotwork(url, "status", "noop")
    assert line_with("rate limit", shown.stdout).split() == ["rate", "limit", "200", "items",
                                                             "per", "1s"]  # fmt: skip
    assert "3 errors per item, 5 failed items per run" in line_with("error budget", shown.stdout)
    assert "2 aborted runs in a row" in line_with("pause after", shown.stdout)


@pytest.mark.parametrize(
    ("flag", "value"),
    [("--rate-limit", "0"), ("--rate-limit", "fast"), ("--error-budget-per-run", "1.5"),
     ("--error-budget-per-item", "-1"), ("--run-late-within", "soon")],
)  # fmt: skip
def test_a_bad_flag_value_is_a_usage_error_before_any_request(flag: str, value: str) -> None:
    result = slotwork("http://127.0.0.1:1", "settings", "noop", flag, value)
    assert result.returncode == 2 and flag in result.stderr


def test_the_state_filter_words_are_the_engines() -> None:
    assert tuple(state.value for state in FILTERABLE_STATES) == STATES


# -- ID tokens -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("https://slotwork-api-abc-ew.a.run.app", True),
        ("https://europe-west1-p.cloudfunctions.net/api", True),
        ("http://127.0.0.1:8080", False),
        ("https://localhost:8443", False),
        ("https://127.0.0.1", False),
        ("http://slotwork.example.com", False),
    ],
)
def test_only_a_deployed_https_api_gets_an_id_token(address: str, expected: bool) -> None:
    assert needs_id_token(address) is expected
    audiences: list[str] = []

    def fetch(audience: str) -> str:
        audiences.append(audience)
        return "header.payload.signature"

    client = Client(address, token=IdTokens(address, fetch) if expected else None)
    headers = client.headers()
    assert ("Authorization" in headers) is expected
    assert audiences == ([address] if expected else [])


def test_a_local_client_never_asks_for_a_token() -> None:
    assert "Authorization" not in Client("http://127.0.0.1:1").headers()


def test_id_tokens_are_cached_and_refreshed_before_expiry() -> None:
    import base64

    now = [1000.0]

    def token(exp: float) -> str:
        body = base64.urlsafe_b64encode(json.dumps({"exp": exp}).encode()).decode().rstrip("=")
        return f"h.{body}.s"

    issued: list[str] = []

    def fetch(audience: str) -> str:
        issued.append(token(now[0] + 3600))
        return issued[-1]

    tokens = IdTokens("https://api.example", fetch, clock=lambda: now[0])
    first = tokens()
    now[0] += 3000  # 10 minutes before expiry: still good
    assert tokens() == first and len(issued) == 1
    now[0] += 400  # inside the refresh margin
    assert tokens() != first or len(issued) == 2
    assert len(issued) == 2
