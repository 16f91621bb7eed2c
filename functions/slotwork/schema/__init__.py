"""The state schema (``slotwork.proto``) and its mapping onto Firestore documents."""

from slotwork.schema.slotwork_pb2 import (
    CatchUp,
    Error,
    ErrorBudget,
    Estimate,
    Lease,
    Params,
    Process,
    Progress,
    Rate,
    Run,
    RunRecord,
    Shard,
    Status,
    Work,
    WorkResponse,
)

# 2: shard documents hold the leases; items carry a bucket and retry state.
SCHEMA_VERSION = 2
"""Written into every stored document; a reader refuses a newer one."""

__all__ = [
    "SCHEMA_VERSION",
    "CatchUp",
    "Error",
    "ErrorBudget",
    "Estimate",
    "Lease",
    "Params",
    "Process",
    "Progress",
    "Rate",
    "Run",
    "RunRecord",
    "Shard",
    "Status",
    "Work",
    "WorkResponse",
]
