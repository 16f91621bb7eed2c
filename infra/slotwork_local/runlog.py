"""The local run log: one JSON object per line from every part of the stack.

The functions' servers, the scheduler and the stack itself all write here,
each line tagged with its ``source``; lines that are not JSON (gunicorn's own
start-up lines) are wrapped so every line parses. ``event`` is the structured
logger of the local stand-ins.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Generator
from pathlib import Path
from typing import IO, Any

from slotwork.logs import JsonFormatter

LOGGER = logging.getLogger("slotwork_local")
# gunicorn's plain lines carry their level in brackets: "[2024-...] [12] [INFO] Booting worker".
_BRACKETED_LEVEL = re.compile(r"\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\]")


def event(level: int, message: str, **fields: Any) -> None:
    """Log ``message`` with structured ``fields`` (job, process, status, ...)."""
    if LOGGER.isEnabledFor(level):
        LOGGER.log(level, message, extra={"slotwork": fields})


def as_json_line(source: str, line: str) -> str:
    """``line`` as a JSON object line with ``source`` (wrapped when it is not JSON)."""
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict):
        level = _BRACKETED_LEVEL.search(line)
        entry = {"severity": level.group(1) if level else "INFO", "message": line}
    entry.setdefault("source", source)
    return json.dumps(entry, default=str)


class RunLog:
    """An append-only JSON-lines file shared by threads (one lock, one flush per line)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._lock = threading.Lock()
        self._file = path.open("a", encoding="utf-8")

    def write(self, source: str, line: str) -> None:
        """Append one line from ``source``."""
        text = as_json_line(source, line.rstrip("\r\n"))
        with self._lock:
            if not self._file.closed:
                self._file.write(text + "\n")
                self._file.flush()

    def pump(self, stream: IO[bytes], source: str) -> threading.Thread:
        """Copy a child's output into the log on a daemon thread until the pipe closes."""

        def copy() -> None:
            with stream:
                for raw in iter(stream.readline, b""):
                    self.write(source, raw.decode("utf-8", errors="replace"))

        thread = threading.Thread(target=copy, name=f"runlog-{source}", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        with self._lock:
            self._file.close()


class RunLogHandler(logging.Handler):
    """A logging handler writing JSON lines (slotwork's format) into a RunLog."""

    def __init__(self, runlog: RunLog, source: str) -> None:
        super().__init__()
        self.runlog = runlog
        self.source = source
        self.setFormatter(JsonFormatter())

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.runlog.write(self.source, self.format(record))
        except Exception:  # a logging handler must never raise into the caller
            self.handleError(record)


def attach(runlog: RunLog, source: str, level: int = logging.INFO) -> RunLogHandler:
    """Send the local stand-ins' logs to ``runlog``; returns the handler to detach later."""
    handler = RunLogHandler(runlog, source)
    LOGGER.addHandler(handler)
    LOGGER.setLevel(level)
    LOGGER.propagate = False
    return handler


def follow(
    path: Path, from_start: bool = False, poll_seconds: float = 0.25
) -> Generator[str, None, None]:
    """Lines appended to ``path`` as they come (``tail -f``); forever, until interrupted."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        if not from_start:
            handle.seek(0, 2)
        pending = ""
        while True:
            chunk = handle.readline()
            if not chunk:
                time.sleep(poll_seconds)  # a file has no readiness signal: poll it
                continue
            pending += chunk
            if pending.endswith("\n"):
                yield pending.rstrip("\n")
                pending = ""


def pretty(line: str) -> str:
    """A one-line human rendering of a JSON log line (the line itself if not JSON)."""
    try:
        entry = json.loads(line)
    except ValueError:
        return line
    if not isinstance(entry, dict):
        return line
    skip = {"severity", "message", "time", "source", "logger"}
    extra = " ".join(f"{k}={v}" for k, v in entry.items() if k not in skip)
    when = str(entry.get("time", ""))[11:19]
    return (
        f"{when:8} {entry.get('source', ''):9} {entry.get('severity', ''):7} "
        f"{entry.get('message', '')} {extra}"
    ).rstrip()
