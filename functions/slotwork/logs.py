"""Structured logs: one JSON object per line on stdout, which Cloud Logging parses
(``severity`` and ``message`` become the entry's; the rest its jsonPayload).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

LOGGER = logging.getLogger("slotwork")


def event(level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields`` (process, item, slot, instance, ...)."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, message, extra={"slotwork": fields})


class JsonFormatter(logging.Formatter):
    """Formats a record as a Cloud Logging structured JSON line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "severity": record.levelname,
            "message": record.getMessage(),
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "logger": record.name,
        }
        fields = getattr(record, "slotwork", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure(level: int = logging.INFO) -> None:
    """Send slotwork's logs to stdout as JSON lines (idempotent)."""
    if any(isinstance(h.formatter, JsonFormatter) for h in LOGGER.handlers):
        return
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False
