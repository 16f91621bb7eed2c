"""The deployed source directory stays in step with the package definition."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from slotwork.config import ENV_VARS, Config
from slotwork.deployment import build_app
from slotwork.engine import EngineConfig
from slotwork.errors import InvalidArgument
from slotwork_local.emulator import Emulator

from conftest import PROJECT

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
        "SLOTWORK_CHECKPOINT_ITEMS": "7",
        "SLOTWORK_CHECKPOINT_SECONDS": "2.5",
        "SLOTWORK_SCHEDULER_PARENT": "projects/p/locations/l",
        "SLOTWORK_SCHEDULER_ENDPOINT": "http://127.0.0.1:1",
        "SLOTWORK_SHARDS": '{"mod-a": 4}',
        "GOOGLE_CLOUD_PROJECT": "p",
        "SLOTWORK_API_AUTH": "verified",
        "SLOTWORK_API_WRITERS": "Ops@Example.com, ci@p.iam.gserviceaccount.com",
        "SLOTWORK_TRUST_IAP": "true",
        "SLOTWORK_DATABASE": "slotwork",
        "SLOTWORK_TTL_SWEEPER_COLLECTIONS": "sessions, events",
    }
    assert set(env) == set(ENV_VARS)
    config = Config.from_env(env)
    assert config == Config(
        processes_module="mod",
        collection="col",
        deadline_seconds=100.0,
        lease_seconds=50.0,
        min_frequency_seconds=60.0,
        checkpoint_items=7,
        checkpoint_seconds=2.5,
        project="p",
        scheduler_parent="projects/p/locations/l",
        scheduler_endpoint="http://127.0.0.1:1",
        shards={"mod-a": 4},
        api_auth="verified",
        api_writers=frozenset({"ops@example.com", "ci@p.iam.gserviceaccount.com"}),
        trust_iap=True,
        database="slotwork",
        ttl_sweeper_collections=("sessions", "events"),
    )
    assert Config.from_env({}) == Config()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("SLOTWORK_CHECKPOINT_ITEMS", "1.5"),
        ("SLOTWORK_CHECKPOINT_ITEMS", "0"),
        ("SLOTWORK_CHECKPOINT_SECONDS", "inf"),
        ("SLOTWORK_DEADLINE_SECONDS", "nan"),
        ("SLOTWORK_LEASE_SECONDS", "-1"),
        ("SLOTWORK_MIN_FREQUENCY_SECONDS", "15m"),
    ],
)
def test_a_bad_number_is_refused_by_name(name: str, raw: str) -> None:
    with pytest.raises(InvalidArgument, match=name):
        Config.from_env({name: raw})


def test_build_app_applies_the_checkpoint_knobs(emulator: Emulator) -> None:
    env = {"SLOTWORK_PROCESSES": "sample_processes", "GOOGLE_CLOUD_PROJECT": PROJECT}
    defaults = build_app(env).config
    assert (defaults.checkpoint_items, defaults.checkpoint_seconds) == (
        EngineConfig.checkpoint_items,
        EngineConfig.checkpoint_seconds,
    )
    tuned = build_app(
        {**env, "SLOTWORK_CHECKPOINT_ITEMS": "3", "SLOTWORK_CHECKPOINT_SECONDS": "1.5"}
    ).config
    assert (tuned.checkpoint_items, tuned.checkpoint_seconds) == (3, 1.5)
    # More than one commit holds, or a checkpoint interval as long as the lease.
    with pytest.raises(ValueError, match="checkpoint_items"):
        build_app({**env, "SLOTWORK_CHECKPOINT_ITEMS": "401"})
    with pytest.raises(ValueError, match="lease_ttl"):
        build_app({**env, "SLOTWORK_CHECKPOINT_SECONDS": "120"})
