"""slotwork: scheduled, resumable background work on Google Cloud.

Cloud Scheduler ticks a stateless function; the function claims the current
slot of a process in Firestore (a lease with a fencing epoch), processes the
registered work items until it nears its deadline, checkpoints, and the next
invocation resumes.
"""

from slotwork.app import App, WorkPage
from slotwork.engine import TickResult
from slotwork.errors import (
    Conflict,
    Gone,
    InvalidArgument,
    NotFound,
    SlotworkError,
    StoreUnavailable,
)
from slotwork.process import ABORT, CONTINUE, Context, ErrorAction, Item, Process, Worker
from slotwork.registry import Registration
from slotwork.schema import Params

__all__ = [
    "ABORT",
    "CONTINUE",
    "App",
    "Conflict",
    "Context",
    "ErrorAction",
    "Gone",
    "InvalidArgument",
    "Item",
    "NotFound",
    "Params",
    "Process",
    "Registration",
    "SlotworkError",
    "StoreUnavailable",
    "TickResult",
    "WorkPage",
    "Worker",
]
