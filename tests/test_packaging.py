"""The deployed source directory stays in step with the package definition, and the
package builds as a wheel and an sdist holding everything a project of its own needs."""

from __future__ import annotations

import configparser
import email
import filecmp
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from email.message import Message
from pathlib import Path, PurePath

import pytest
from packaging.requirements import Requirement

from slotwork.config import ENV_VARS, Config
from slotwork.deployment import build_app
from slotwork.engine import EngineConfig
from slotwork.errors import InvalidArgument
from slotwork_cli import scaffold
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


# ---------------------------------------------------------------------------
# The wheel and the sdist
# ---------------------------------------------------------------------------

PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
VERSION = PYPROJECT["project"]["version"]
MODULE = ROOT / "terraform" / "modules" / "slotwork"
WHEEL_TEMPLATE = PurePath("slotwork_cli", "template")
BUILD_TIMEOUT_SECONDS = 120


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel and sdist, built once; without build isolation: offline, this venv's setuptools."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_SECONDS,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def wheel(dist: Path) -> zipfile.ZipFile:
    return zipfile.ZipFile(dist / f"slotwork-{VERSION}-py3-none-any.whl")


def wheel_text(wheel: zipfile.ZipFile, name: str) -> str:
    return wheel.read(f"slotwork-{VERSION}.dist-info/{name}").decode()


def test_the_build_makes_one_wheel_and_one_sdist(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"slotwork-{VERSION}-py3-none-any.whl", f"slotwork-{VERSION}.tar.gz"]


def test_the_wheel_metadata_is_pyprojects(wheel: zipfile.ZipFile) -> None:
    meta: Message = email.message_from_string(wheel_text(wheel, "METADATA"))
    project = PYPROJECT["project"]
    assert (meta["Name"], meta["Version"]) == ("slotwork", VERSION)
    assert meta["Requires-Python"] == project["requires-python"] == ">=3.11"
    required = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    plain = {str(r) for r in required if r.marker is None}
    assert plain == {str(Requirement(d)) for d in project["dependencies"]}
    local = {r.name for r in required if r.marker and r.marker.evaluate({"extra": "local"})}
    assert {Requirement(d).name for d in project["optional-dependencies"]["local"]} <= local
    assert "local" in (meta.get_all("Provides-Extra") or [])


def test_the_wheel_declares_the_commands_and_the_pytest_plugin(wheel: zipfile.ZipFile) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(wheel_text(wheel, "entry_points.txt"))
    assert dict(entry_points["console_scripts"]) == {
        "slotwork": "slotwork_cli.main:main",
        "slotwork-local": "slotwork_local.stack:main",
    }
    assert dict(entry_points["pytest11"]) == {"slotwork": "slotwork.testing.plugin"}


def test_the_wheel_holds_the_three_packages_and_their_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for required in (
        "slotwork/__init__.py",
        "slotwork/functions.py",
        "slotwork/testing/harness.py",
        "slotwork/py.typed",
        "slotwork/schema/slotwork.proto",
        "slotwork/schema/slotwork_pb2.py",
        "slotwork_local/stack.py",
        "slotwork_local/py.typed",
        "slotwork_cli/main.py",
        "slotwork_cli/scaffold.py",
        "slotwork_cli/py.typed",
    ):
        assert required in names, required
    top_level = {name.split("/")[0] for name in names}
    dist_info = f"slotwork-{VERSION}.dist-info"
    assert top_level == {"slotwork", "slotwork_local", "slotwork_cli", dist_info}
    assert not [n for n in names if n.endswith(".pyc") or "__pycache__" in n]


def test_the_wheel_carries_the_template_and_the_terraform_module(wheel: zipfile.ZipFile) -> None:
    names = {n for n in wheel.namelist() if PurePath(n).is_relative_to(WHEEL_TEMPLATE)}
    expected = {str(WHEEL_TEMPLATE / f) for f in scaffold.template_files()}
    assert names == expected
    module = WHEEL_TEMPLATE / "terraform" / "modules" / "slotwork"
    for path in sorted(MODULE.iterdir()):
        assert wheel.read(str(module / path.name)) == path.read_bytes(), path.name


def test_the_sdist_carries_the_module_as_files_not_a_link(dist: Path) -> None:
    with tarfile.open(dist / f"slotwork-{VERSION}.tar.gz") as sdist:
        members = {m.name: m for m in sdist.getmembers()}
    base = f"slotwork-{VERSION}/cli/slotwork_cli/template/terraform/modules/slotwork"
    for path in MODULE.iterdir():
        assert members[f"{base}/{path.name}"].isfile(), path.name
    assert f"slotwork-{VERSION}/pyproject.toml" in members


def test_init_from_the_wheel_alone_writes_the_module(
    wheel: zipfile.ZipFile, tmp_path: Path
) -> None:
    """The unpacked wheel first on the path, as an installed one would be: ``slotwork
    init`` takes the template and the module from it, not from this checkout."""
    site = tmp_path / "site"
    wheel.extractall(site)
    code = (
        "import sys, slotwork_cli\n"
        f"assert slotwork_cli.__file__.startswith({str(site)!r}), slotwork_cli.__file__\n"
        "from slotwork_cli.main import main\n"
        "sys.exit(main(['init', sys.argv[1]]))"
    )
    project = tmp_path / "project"
    done = subprocess.run(
        [sys.executable, "-c", code, str(project)],
        env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    copied = project / "terraform" / "modules" / "slotwork"
    names = sorted(p.name for p in MODULE.iterdir())
    match, mismatch, errors = filecmp.cmpfiles(MODULE, copied, names, shallow=False)
    assert (mismatch, errors) == ([], []) and match == names
