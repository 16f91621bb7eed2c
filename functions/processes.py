"""The processes of this deployment (``SLOTWORK_PROCESSES`` names this module by default).

``ttl-sweeper`` deletes documents older than a maximum age from the
collections registered as its work items (see ``ttl_sweeper.py``). It sweeps
only the collections the deployment lists in ``SLOTWORK_TTL_SWEEPER_COLLECTIONS``,
and never slotwork's own (``SLOTWORK_COLLECTION``). Register one item per
collection, e.g. through the API:

    PUT /processes/ttl-sweeper/work/sessions
    {"params": {"stringParams": {"collection": "sessions"},
                "intParams": {"max_age_seconds": "86400"}}}
"""

from __future__ import annotations

import functools
import os
from datetime import timedelta

from google.cloud import firestore

import slotwork
from slotwork.config import Config
from ttl_sweeper import SweepScope, TtlSweeper

# This module is where the deployment's workers are put together: it reads the
# environment once, and the workers get what they need through their constructors.
CONFIG = Config.from_env(os.environ)


@functools.cache
def firestore_client() -> firestore.Client:
    """The workers' Firestore client: the deployment's project and database, made on
    first use (honours FIRESTORE_EMULATOR_HOST)."""
    return firestore.Client(project=CONFIG.project, database=CONFIG.database)


PROCESSES: list[slotwork.Process] = [
    slotwork.Process(
        "ttl-sweeper",
        TtlSweeper(firestore_client, SweepScope.from_config(CONFIG)),
        frequency=timedelta(hours=1),
    ),
]
