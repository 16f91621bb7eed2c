"""Testing workers without a database: ``MemoryStore`` (the ``StateStore`` in memory,
contract-tested beside the Firestore store), ``FakeClock``, and the ``Harness``
that runs real ticks of your processes over both, with faults where you want them.

The pytest plugin (entry point ``slotwork``, in ``slotwork.testing.plugin``)
gives the fixture ``slotwork_harness``.
"""

from slotwork.testing.clock import FakeClock
from slotwork.testing.harness import Harness, HarnessCrash, ItemReport, SlotReport
from slotwork.testing.memory import MemoryStore

__all__ = ["FakeClock", "Harness", "HarnessCrash", "ItemReport", "MemoryStore", "SlotReport"]
