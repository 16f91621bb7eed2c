"""Building the ``App`` of a deployment from its environment, and the ``run`` request."""

from __future__ import annotations

import importlib
import json
import logging
from collections.abc import Mapping
from typing import Any

from google.cloud import firestore

from slotwork.app import App
from slotwork.clock import ServerAnchoredClock
from slotwork.config import Config
from slotwork.errors import InvalidArgument, SlotworkError
from slotwork.logs import event
from slotwork.process import Process
from slotwork.triggers import CloudSchedulerTrigger, NoTrigger, Trigger

MAX_LOG_DETAIL = 2000  # characters: a log entry stays far below Cloud Logging's 256 KiB


def load_processes(module_name: str) -> list[Process]:
    """``PROCESSES`` of the module named by SLOTWORK_PROCESSES."""
    module = importlib.import_module(module_name)
    processes = getattr(module, "PROCESSES", None)
    if not isinstance(processes, list) or not all(isinstance(p, Process) for p in processes):
        raise TypeError(f"{module_name}.PROCESSES must be a list of slotwork.Process")
    return processes


def build_app(env: Mapping[str, str]) -> App:
    """The App a deployed function serves, configured from ``env``."""
    config = Config.from_env(env)
    trigger: Trigger = (
        CloudSchedulerTrigger(config.scheduler_parent, config.scheduler_endpoint)
        if config.scheduler_parent
        else NoTrigger()
    )
    return App(
        load_processes(config.processes_module),
        client=firestore.Client(project=config.project),
        collection=config.collection,
        clock=ServerAnchoredClock(),
        deadline=config.deadline_seconds,
        lease_ttl=config.lease_seconds,
        min_frequency=config.min_frequency_seconds,
        checkpoint_items=config.checkpoint_items,
        checkpoint_seconds=config.checkpoint_seconds,
        trigger=trigger,
        deployed_shards=config.shards,
    )


def parse_run_body(raw: bytes) -> tuple[str, int | None]:
    """The process name and shard of a ``run`` request body
    ``{"process": NAME, "shard": K}`` (the shard is optional)."""
    if not raw:
        raise InvalidArgument('the body must be JSON {"process": NAME}')
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise InvalidArgument("the body is not valid JSON (or nested too deeply)") from None
    if not isinstance(body, dict):
        raise InvalidArgument('the body must be a JSON object {"process": NAME}')
    unknown = set(body) - {"process", "shard"}
    if unknown:
        raise InvalidArgument(f"unknown fields: {', '.join(sorted(unknown))[:200]}")
    process = body.get("process")
    if not isinstance(process, str) or not process:
        raise InvalidArgument('"process" must be a non-empty string')
    shard = body.get("shard")
    if shard is not None and (isinstance(shard, bool) or not isinstance(shard, int) or shard < 0):
        raise InvalidArgument('"shard" must be a shard number (0, 1, ...)')
    return process, shard


def run_tick(app: App, raw: bytes) -> tuple[int, dict[str, Any]]:
    """Answer a Scheduler tick: (HTTP status, JSON body)."""
    try:
        process, shard = parse_run_body(raw)
        result = app.tick(process, shard)
    except SlotworkError as err:
        # 5xx only for a fault worth a Scheduler retry (the store was unreachable).
        level = logging.ERROR if err.http_status >= 500 else logging.WARNING
        event(level, "tick failed", status=err.http_status, detail=str(err)[:MAX_LOG_DETAIL])
        return err.http_status, err.body()
    return 200, result.to_json()
