"""The ``slotwork`` console script end to end, against the real api server and emulator."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from slotwork_cli.auth import IdTokens, needs_id_token
from slotwork_cli.client import Client
from slotwork_local.emulator import Emulator

from test_api_server import api_server, server_env

CLI = str(Path(sys.executable).parent / "slotwork")
TEN_THOUSAND_SECONDS = 60.0  # the bound for 10,000 items from a file, locally


@pytest.fixture(scope="module")
def served(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with api_server(server_env(emulator, "cli")) as url:
        yield url


@pytest.fixture
def url(served: str, emulator: Emulator) -> str:
    emulator.reset()
    return served


def slotwork(url: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "SLOTWORK_API_URL"}
    return subprocess.run(
        [CLI, "--url", url, *args],
        capture_output=True,
        text=True,
        input=stdin,
        env=env,
        timeout=120,
        check=False,
    )


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
    assert got.returncode == 0 and "café 100%" in got.stdout and "queued" in got.stdout
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
    state = json.loads(changed.stdout)
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
    assert [p["processName"] for p in json.loads(result.stdout)["processes"]] == ["noop"]


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
