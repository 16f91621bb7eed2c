"""The API's own limits (the per-value and per-item limits of params live in
``slotwork.params``)."""

from __future__ import annotations

from datetime import timedelta

# Per request: a batch of 500 items at about 2 KiB each fits; everything else is small.
MAX_BATCH_BODY_BYTES = 1024 * 1024
MAX_BODY_BYTES = 256 * 1024
# Items per batchRegister call: Firestore's historical batch-write limit.
MAX_BATCH_ITEMS = 500
# Page sizes: one page stays a few MB at most.
MAX_PAGE_SIZE = 1000
DEFAULT_WORK_PAGE_SIZE = 100
DEFAULT_RUNS_PAGE_SIZE = 20
MAX_REASON_BYTES = 1024
MAX_PAUSE_AFTER_ABORTS = 1000  # as App.update_settings checks
# A slot longer than a year is a mistake, not a schedule.
MAX_FREQUENCY = timedelta(days=366)
