"""Every exception slotwork raises, in one place.

The API maps these to HTTP status codes in exactly one place
(``slotwork.api.errors``); Google client exceptions are translated at the
store boundary and never reach a worker or the API layer.
"""

from __future__ import annotations


class SlotworkError(Exception):
    """Base class of slotwork's own errors."""


class InvalidArgument(SlotworkError):
    """A caller passed something slotwork cannot accept (HTTP 400)."""


class NotFound(SlotworkError):
    """An unknown process or work item (HTTP 404)."""


class Conflict(SlotworkError):
    """A concurrent writer changed the state first (HTTP 409)."""


class StoreUnavailable(SlotworkError):
    """Firestore could not be reached or kept failing (HTTP 503, retried by Scheduler)."""


class SchemaTooNew(SlotworkError):
    """A stored document was written by a newer slotwork than this one."""


class LeaseLost(SlotworkError):
    """Another instance took the lease over: the holder must stop writing."""


class Gone(Exception):  # noqa: N818 (the name is part of the public contract)
    """Raised by a worker's ``cleanup`` when the thing to clean is already gone.

    It counts as cleaned, as the seed library's ignored 403/404 errors did.
    """
