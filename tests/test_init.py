"""``slotwork init``: a project of your own, outside this repository, that tests and runs.

The project is written once into a temporary directory by the installed
``slotwork`` command; then its own two commands run there with this venv's
Python: ``make test`` (its worker's tests pass) and ``make run`` (the local
stack ticks its process, on the session's emulator, and shows nothing of this
repository's demo). Its Terraform is formatted and matches the provider schema.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

import slotwork
from slotwork_cli.scaffold import wheel_name
from slotwork_local import tfschema
from slotwork_local.jobs import load_jobs
from slotwork_local.tfcheck import check_blocks, check_references

from conftest import PROJECT, REPO, new_client
from helpers import wait_for

SLOTWORK = Path(sys.executable).parent / "slotwork"
VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
FILES = {
    ".gitignore",
    "Makefile",
    "README.md",
    "pyproject.toml",
    "functions/main.py",
    "functions/processes.py",
    "functions/requirements.txt",
    "tests/test_processes.py",
    "terraform/main.tf",
    "terraform/outputs.tf",
    "terraform/processes.auto.tfvars.json",
    "terraform/variables.tf",
    "terraform/versions.tf",
}
MODULE = REPO / "terraform" / "modules" / "slotwork"
COMMAND_TIMEOUT = 60.0
START_TIMEOUT = 45.0
PROGRESS_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0
SAFETY_DURATION = "90"  # the stack stops by itself if this test dies before its SIGINT


def init(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SLOTWORK), "init", *args], capture_output=True, text=True, timeout=COMMAND_TIMEOUT
    )


def unwrapped(text: str) -> str:
    """``text`` on one line (errors are wrapped at the terminal's width)."""
    return " ".join(text.split())


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A project written by ``slotwork init`` (into a directory that does not exist yet)."""
    target = tmp_path_factory.mktemp("init") / "hello-slotwork"
    done = init(str(target))
    assert done.returncode == 0, done.stderr
    assert "make run" in done.stdout
    return target


def test_init_writes_the_project_and_the_module(project: Path) -> None:
    written = {str(p.relative_to(project)) for p in project.rglob("*") if p.is_file()}
    module = {f"terraform/modules/slotwork/{p.name}" for p in MODULE.iterdir()}
    assert written == FILES | module
    # This repository's functions/main.py has the same shape as a project's.
    assert (project / "functions" / "main.py").read_text() == (
        REPO / "functions" / "main.py"
    ).read_text()
    readme = (project / "README.md").read_text()
    assert readme.startswith("# hello-slotwork\n") and "{{" not in readme


def test_the_requirements_name_a_vendored_wheel_or_an_index(project: Path) -> None:
    lines = (project / "functions" / "requirements.txt").read_text().splitlines()
    assert [line for line in lines if line and not line.startswith("#")] == [
        f"./vendor/{wheel_name(VERSION)}"
    ]
    assert f"# slotwork=={VERSION}" in lines


def test_make_test_runs_the_projects_worker_tests(project: Path) -> None:
    done = subprocess.run(
        ["make", "test", f"PYTHON={sys.executable}"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "3 passed" in done.stdout


def test_init_refuses_a_directory_that_is_not_empty(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    done = init(str(tmp_path))
    assert done.returncode == 2
    assert "is not empty" in unwrapped(done.stderr)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    done = init(str(tmp_path / "notes.txt"))
    assert done.returncode == 2 and "is not a directory" in unwrapped(done.stderr)


def test_init_vendors_a_given_wheel(tmp_path: Path) -> None:
    wheel = tmp_path / "slotwork-9.9.9-py3-none-any.whl"
    wheel.write_bytes(b"a wheel")
    done = init(str(tmp_path / "p"), "--wheel", str(wheel))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "p" / "functions" / "vendor" / wheel.name).read_bytes() == b"a wheel"
    requirements = (tmp_path / "p" / "functions" / "requirements.txt").read_text()
    assert f"\n./vendor/{wheel.name}\n" in requirements
    assert init(str(tmp_path / "q"), "--wheel", str(tmp_path / "missing.whl")).returncode == 2


# ---------------------------------------------------------------------------
# Terraform and the jobs file
# ---------------------------------------------------------------------------


def configurations(root: Path) -> dict[str, dict[str, dict[str, Any]]]:
    grouped: dict[str, dict[str, dict[str, Any]]] = {}
    for path in tfschema.tf_files(root):
        directory = str(path.parent.relative_to(root)) or "."
        grouped.setdefault(directory, {})[str(path.relative_to(root))] = tfschema.read_tf(path)
    return grouped


def test_the_terraform_is_formatted(project: Path) -> None:
    done = subprocess.run(
        ["terraform", "fmt", "-check", "-recursive", "-diff", str(project / "terraform")],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_terraform_matches_the_provider_schema(project: Path) -> None:
    schema = json.loads(tfschema.SCHEMA_FILE.read_text(encoding="utf-8"))
    found = configurations(project / "terraform")
    assert set(found) == {".", "modules/slotwork"}
    for docs in found.values():
        problems = [p for where, doc in docs.items() for p in check_blocks(doc, schema, where)]
        problems += check_references(docs, schema)
        assert not problems, "\n".join(map(str, problems))


def _compact(value: Any) -> str:
    return "".join(str(value).split())


def test_the_root_calls_the_module_with_the_projects_source_and_processes(project: Path) -> None:
    root = project / "terraform"
    call = tfschema.read_tf(root / "main.tf")["module"][0]['"slotwork"']
    unquote = tfschema.unquote
    assert unquote(call["source"]) == "./modules/slotwork"
    assert unquote(call["source_dir"]) == "${path.module}/../functions"
    assert unquote(call["processes_module"]) == "processes"
    assert call["processes"] == "${var.processes}"

    def variable(path: Path, name: str) -> dict[str, Any]:
        found: dict[str, Any] = next(
            v[f'"{name}"'] for v in tfschema.read_tf(path)["variable"] if f'"{name}"' in v
        )
        return found

    module_type = variable(root / "modules" / "slotwork" / "variables.tf", "processes")["type"]
    assert _compact(variable(root / "variables.tf", "processes")["type"]) == _compact(module_type)

    def providers(path: Path) -> dict[str, Any]:
        block = tfschema.read_tf(path)["terraform"][0]["required_providers"][0]
        return {k: v for k, v in block.items() if not k.startswith("__")}

    assert providers(root / "versions.tf") == providers(
        root / "modules" / "slotwork" / "versions.tf"
    )


def test_the_jobs_file_schedules_exactly_the_projects_processes(project: Path) -> None:
    jobs = load_jobs(project / "terraform" / "processes.auto.tfvars.json")
    spec = importlib.util.spec_from_file_location(
        "generated_processes", project / "functions" / "processes.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert {job.process for job in jobs.values()} == {p.name for p in module.PROCESSES}


# ---------------------------------------------------------------------------
# make run
# ---------------------------------------------------------------------------


class _Stand:
    """Stands in for the greeter where the test registers its item (no worker runs here)."""

    def process(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise AssertionError("not called")

    def cleanup(self, ctx: slotwork.Context, item: slotwork.Item) -> None:
        raise AssertionError("not called")


@pytest.fixture
def running(project: Path, emulator: Any) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """``make run`` in the project, on the session's emulator, with "ada" registered."""
    emulator.reset()
    greeter = slotwork.Process("greeter", _Stand(), frequency=timedelta(seconds=30))
    slotwork.App([greeter], client=new_client(emulator)).register("greeter", "ada")
    output = project.parent / "make-run.out"
    env = {
        **os.environ,
        "FIRESTORE_EMULATOR_HOST": emulator.host,
        "GOOGLE_CLOUD_PROJECT": PROJECT,
        "PYTHONUNBUFFERED": "1",
    }
    args = (
        "--plain --tick-seconds 1 --min-frequency-seconds 5 --deadline-seconds 10 "
        f"--lease-seconds 20 --duration {SAFETY_DURATION}"
    )
    with output.open("wb") as sink:
        process = subprocess.Popen(
            ["make", "run", f"PYTHON={sys.executable}", f"ARGS={args}"],
            cwd=project,
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: the cleanup below reaches every child
        )
    try:
        yield process, output
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_TIMEOUT)


def stack_info(project: Path, process: subprocess.Popen[bytes], output: Path) -> dict[str, Any]:
    def info() -> dict[str, Any] | None:
        if process.poll() is not None:
            raise AssertionError(f"make run exited early:\n{output.read_text()}")
        for path in (project / ".slotwork" / "run").glob("*/stack.json"):
            found: dict[str, Any] = json.loads(path.read_text())
            return found
        return None

    found: dict[str, Any] = wait_for(info, START_TIMEOUT, "the stack to start")
    return found


@pytest.mark.slow
def test_make_run_ticks_the_projects_own_process(
    project: Path, running: tuple[subprocess.Popen[bytes], Path]
) -> None:
    process, output = running
    info = stack_info(project, process, output)
    api = info["api_url"]

    def greeted() -> bool:
        answer = requests.get(f"{api}/processes/greeter/work/ada", timeout=10)
        work = answer.json() if answer.status_code == 200 else {}
        stats = work.get("details", {}).get("status", {}).get("stats", {})
        return work.get("state") == "completed" and stats.get("greeted") == 1

    def runs() -> int:
        answer = requests.get(f"{api}/processes/greeter", timeout=10).json()
        return int(answer.get("aggregateStats", {}).get("runs", 0))

    wait_for(greeted, PROGRESS_TIMEOUT, "ada greeted")
    wait_for(lambda: runs() >= 1, PROGRESS_TIMEOUT, "a completed run")
    listed = requests.get(f"{api}/processes", timeout=10).json()["processes"]
    assert [p["processName"] for p in listed] == ["greeter"]
    wait_for(lambda: "greeter: " in output.read_text(), PROGRESS_TIMEOUT, "the progress line")

    os.kill(info["pid"], signal.SIGINT)  # Ctrl-C reaches the stack; make sees it exit 0
    assert process.wait(STOP_TIMEOUT) == 0, output.read_text()
    shown = output.read_text()
    assert "run=completed" in shown
    log = Path(info["log"]).read_text()
    for text in (shown, log):
        assert "ttl-sweeper" not in text and "demo_" not in text
