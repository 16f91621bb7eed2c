"""The retry policy for Firestore calls: transient errors only, with backoff,
jitter and a bounded total, so an outage ends a tick with a 5xx instead of a hang.
"""

from __future__ import annotations

import random

from google.api_core import exceptions as gexc
from google.api_core import retry as gretry

# Errors Firestore documents as retryable; anything else (bad request,
# failed precondition, permission) is permanent and surfaces at once.
TRANSIENT = (
    gexc.Aborted,
    gexc.DeadlineExceeded,
    gexc.InternalServerError,
    gexc.ResourceExhausted,
    gexc.ServiceUnavailable,
    gexc.Unknown,
)

# Backoff 0.1 s doubling to 2 s, each sleep jittered by google.api_core; the
# whole call gives up after 20 s, well inside a tick's deadline.
CALL_TIMEOUT_SECONDS = 20.0
INITIAL_BACKOFF_SECONDS = 0.1
MAX_BACKOFF_SECONDS = 2.0
BACKOFF_MULTIPLIER = 2.0
RETRY = gretry.Retry(
    predicate=gretry.if_exception_type(*TRANSIENT),
    initial=INITIAL_BACKOFF_SECONDS,
    maximum=MAX_BACKOFF_SECONDS,
    multiplier=BACKOFF_MULTIPLIER,
    timeout=CALL_TIMEOUT_SECONDS,
)

# For streams the caller resumes itself. Not ``retry=None``: Query.stream then
# fails with AttributeError on a mid-stream error (google-cloud-firestore 2.34
# asks the retry's predicate whether to resume, and None has none).
NO_RETRY = gretry.Retry(predicate=lambda _err: False)


def is_transient(err: BaseException) -> bool:
    """Whether a Google API error is worth retrying later."""
    return isinstance(err, TRANSIENT)


def backoff(attempt: int, rng: random.Random) -> float:
    """Seconds to wait before retry number ``attempt`` (1, 2, ...): full jitter
    over RETRY's doubling schedule, so retrying instances spread out.
    """
    ceiling = min(
        MAX_BACKOFF_SECONDS, INITIAL_BACKOFF_SECONDS * BACKOFF_MULTIPLIER ** (attempt - 1)
    )
    return rng.uniform(0, ceiling)
