"""The state schema (``slotwork.proto``) and its mapping onto Firestore documents."""

from slotwork.schema.slotwork_pb2 import (
    CatchUp,
    Error,
    Lease,
    Params,
    Process,
    Run,
    RunRecord,
    Status,
    Work,
    WorkResponse,
)

SCHEMA_VERSION = 1
"""Written into every stored document; a reader refuses a newer one."""

__all__ = [
    "SCHEMA_VERSION",
    "CatchUp",
    "Error",
    "Lease",
    "Params",
    "Process",
    "Run",
    "RunRecord",
    "Status",
    "Work",
    "WorkResponse",
]
