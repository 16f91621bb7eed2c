"""The deployed source directory stays in step with the package definition."""

from __future__ import annotations

import tomllib
from pathlib import Path

from slotwork.config import ENV_VARS, Config

ROOT = Path(__file__).resolve().parents[1]


def test_function_requirements_match_pyproject_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lines = (ROOT / "functions" / "requirements.txt").read_text().splitlines()
    requirements = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert sorted(requirements) == sorted(project["dependencies"])


def test_every_env_var_is_read_by_config() -> None:
    env = {
        "SLOTWORK_PROCESSES": "mod",
        "SLOTWORK_COLLECTION": "col",
        "SLOTWORK_DEADLINE_SECONDS": "100",
        "SLOTWORK_LEASE_SECONDS": "50",
        "SLOTWORK_MIN_FREQUENCY_SECONDS": "60",
        "SLOTWORK_SCHEDULER_PARENT": "projects/p/locations/l",
        "SLOTWORK_SCHEDULER_ENDPOINT": "http://127.0.0.1:1",
        "GOOGLE_CLOUD_PROJECT": "p",
    }
    assert set(env) == set(ENV_VARS)
    config = Config.from_env(env)
    assert config == Config(
        processes_module="mod",
        collection="col",
        deadline_seconds=100.0,
        lease_seconds=50.0,
        min_frequency_seconds=60.0,
        project="p",
        scheduler_parent="projects/p/locations/l",
        scheduler_endpoint="http://127.0.0.1:1",
    )
    assert Config.from_env({}) == Config()
