"""Every exception slotwork raises, in one place.

Each class carries its HTTP status and google.rpc code, so the API and the
``run`` function map errors to statuses from here alone. Google client
exceptions are translated at the store boundary and never reach a worker
or the API layer.
"""

from __future__ import annotations


class SlotworkError(Exception):
    """Base class of slotwork's own errors.

    Each class names the HTTP status and google.rpc code it maps to: this is
    the one place errors become statuses (the API and ``run`` both read it).
    """

    http_status = 500
    rpc_status = "INTERNAL"

    def body(self) -> dict[str, object]:
        """The JSON error body, Google API style."""
        return {
            "error": {"code": self.http_status, "status": self.rpc_status, "message": str(self)}
        }


class InvalidArgument(SlotworkError):
    """A caller passed something slotwork cannot accept (HTTP 400)."""

    http_status = 400
    rpc_status = "INVALID_ARGUMENT"


class NotFound(SlotworkError):
    """An unknown process or work item (HTTP 404)."""

    http_status = 404
    rpc_status = "NOT_FOUND"


class Conflict(SlotworkError):
    """A concurrent writer changed the state first (HTTP 409)."""

    http_status = 409
    rpc_status = "ABORTED"


class StoreUnavailable(SlotworkError):
    """Firestore could not be reached or kept failing (HTTP 503, retried by Scheduler)."""

    http_status = 503
    rpc_status = "UNAVAILABLE"


class StoreFailed(SlotworkError):
    """Firestore refused a call for a reason retrying will not fix (HTTP 500)."""

    http_status = 500
    rpc_status = "INTERNAL"


class SchemaTooNew(SlotworkError):
    """A stored document was written by a newer slotwork than this one."""

    http_status = 500
    rpc_status = "FAILED_PRECONDITION"


class LeaseLost(SlotworkError):
    """Another instance took the lease over: the holder must stop writing."""

    http_status = 409
    rpc_status = "ABORTED"


class Gone(Exception):
    """Raised by a worker's ``cleanup`` when the thing to clean is already gone.

    It counts as cleaned, as the seed library's ignored 403/404 errors did.
    """


class Permanent(Exception):
    """Raised by a worker when an item's failure is final: it is not retried in
    this slot (the error is recorded as usual)."""


class RetryAfter(Exception):
    """Raised by a worker to have the item tried again after ``seconds`` (a 429's
    Retry-After), within the slot's retry budget."""

    def __init__(self, seconds: float, message: str = "") -> None:
        super().__init__(message or f"retry after {seconds:g} s")
        self.seconds = max(0.0, float(seconds))
