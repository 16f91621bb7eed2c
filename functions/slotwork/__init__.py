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
    Permanent,
    RetryAfter,
    SlotworkError,
    StoreUnavailable,
)
from slotwork.policies import ErrorBudget, Rate, Retry
from slotwork.process import ABORT, CONTINUE, Context, ErrorAction, Item, Process, Worker
from slotwork.registry import Registration
from slotwork.schema import Params
from slotwork.store import StateStore

__all__ = [
    "ABORT",
    "CONTINUE",
    "App",
    "Conflict",
    "Context",
    "ErrorAction",
    "ErrorBudget",
    "Gone",
    "InvalidArgument",
    "Item",
    "NotFound",
    "Params",
    "Permanent",
    "Process",
    "Rate",
    "Registration",
    "Retry",
    "RetryAfter",
    "SlotworkError",
    "StateStore",
    "StoreUnavailable",
    "TickResult",
    "WorkPage",
    "Worker",
]
