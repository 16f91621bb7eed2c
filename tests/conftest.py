"""Shared fixtures: one real Firestore emulator per test session.

A test that needs Firestore and cannot reach the emulator fails: nothing is
skipped and nothing is mocked.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from google.auth.credentials import AnonymousCredentials
from google.cloud import firestore

from slotwork_local import emulator as emulator_mod

PROJECT = "slotwork-test"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[emulator_mod.Emulator]:
    """The session's emulator; its host is exported as FIRESTORE_EMULATOR_HOST."""
    log = tmp_path_factory.mktemp("emulator") / "emulator.log"
    emu = emulator_mod.start(project=PROJECT, log_path=log)
    previous = os.environ.get("FIRESTORE_EMULATOR_HOST")
    os.environ["FIRESTORE_EMULATOR_HOST"] = emu.host
    os.environ["GOOGLE_CLOUD_PROJECT"] = PROJECT
    try:
        yield emu
    finally:
        emu.stop()
        if previous is None:
            os.environ.pop("FIRESTORE_EMULATOR_HOST", None)
        else:
            os.environ["FIRESTORE_EMULATOR_HOST"] = previous


def new_client(emu: emulator_mod.Emulator) -> firestore.Client:
    """A Firestore client bound to the test emulator."""
    os.environ["FIRESTORE_EMULATOR_HOST"] = emu.host
    return firestore.Client(
        project=PROJECT,
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
    )


@pytest.fixture
def client(emulator: emulator_mod.Emulator) -> firestore.Client:
    """A Firestore client on an emptied emulator."""
    emulator.reset()
    return new_client(emulator)
