"""The pytest plugin of ``slotwork.testing`` (registered as the ``pytest11`` entry
point ``slotwork``): the fixture ``slotwork_harness`` builds a ``Harness``.

    def test_my_worker(slotwork_harness):
        h = slotwork_harness(Process("sync", SyncWorker(), timedelta(hours=1)))
        h.register("sync", "customer-1")
        assert h.run_slot("sync").items["customer-1"].state == "completed"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from slotwork.process import Process
from slotwork.testing.harness import Harness


@pytest.fixture
def slotwork_harness() -> Callable[..., Harness]:
    """A factory: ``slotwork_harness(*processes, **options)`` is ``Harness(...)``."""

    def make(*processes: Process, **options: Any) -> Harness:
        return Harness(*processes, **options)

    return make
