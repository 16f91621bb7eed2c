"""Building the ``App`` of a deployment from its environment, and the ``run`` request.

``start(env)`` is what a function instance does once, when it starts: it
builds the App, or, when the environment cannot make one, logs one
structured line naming the variables at fault and returns a ``StartFailure``
that every request then answers as JSON (never a bare HTML 500).
"""

from __future__ import annotations

import importlib
import json
import logging
import secrets
import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from slotwork.app import App
from slotwork.clock import ServerAnchoredClock
from slotwork.config import ENV_VARS, Config
from slotwork.errors import InvalidArgument, SlotworkError
from slotwork.logs import event
from slotwork.model import FAILED_TICK
from slotwork.process import Process
from slotwork.store.client import Client
from slotwork.triggers import CloudSchedulerTrigger, NoTrigger, Trigger

MAX_LOG_DETAIL = 2000  # characters: a log entry stays far below Cloud Logging's 256 KiB
PROCESSES_VARIABLE = "SLOTWORK_PROCESSES"
# The App's arguments that come from the environment, by the words its refusals use.
_ENGINE_VARIABLES = {
    "deadline": "SLOTWORK_DEADLINE_SECONDS",
    "lease_ttl": "SLOTWORK_LEASE_SECONDS",
    "min_frequency": "SLOTWORK_MIN_FREQUENCY_SECONDS",
    "checkpoint_items": "SLOTWORK_CHECKPOINT_ITEMS",
    "checkpoint_seconds": "SLOTWORK_CHECKPOINT_SECONDS",
    "checkpoint interval": "SLOTWORK_CHECKPOINT_SECONDS",
    "collection": "SLOTWORK_COLLECTION",
    "SLOTWORK_SHARDS": "SLOTWORK_SHARDS",
}


class ConfigurationError(ValueError):
    """The environment cannot make a working App; ``variables`` are the ones at fault."""

    def __init__(self, message: str, variables: tuple[str, ...]) -> None:
        super().__init__(message)
        self.variables = variables


@dataclass(frozen=True)
class Deployment:
    """What a function instance serves: its configuration and the App built from it."""

    config: Config
    app: App


@dataclass(frozen=True)
class StartFailure:
    """Why an instance could not build its App: every request answers this."""

    message: str
    variables: tuple[str, ...]

    status: ClassVar[int] = 500

    def body(self) -> dict[str, Any]:
        """The Google API error body every request gets."""
        return {
            "error": {
                "code": self.status,
                "status": "FAILED_PRECONDITION",
                "message": f"this function is misconfigured: {self.message}",
            }
        }


def load_processes(module_name: str) -> list[Process]:
    """``PROCESSES`` of the module named by SLOTWORK_PROCESSES."""
    module = importlib.import_module(module_name)
    processes = getattr(module, "PROCESSES", None)
    if not isinstance(processes, list) or not all(isinstance(p, Process) for p in processes):
        raise TypeError(f"{module_name}.PROCESSES must be a list of slotwork.Process")
    return processes


def _named(message: str) -> tuple[str, ...]:
    # Config's refusals begin with the variable's name.
    return tuple(name for name in ENV_VARS if message.startswith(name))


def _shown(env: Mapping[str, str], names: tuple[str, ...]) -> str:
    return ", ".join(f"{n}={env[n]!r}" if env.get(n) else f"{n} unset (the default)" for n in names)


def build(env: Mapping[str, str]) -> Deployment:
    """The configuration and App of a deployed function; ConfigurationError names
    the variables when ``env`` cannot make one."""
    try:
        config = Config.from_env(env)
    except InvalidArgument as err:
        raise ConfigurationError(str(err), _named(str(err))) from err
    try:
        processes = load_processes(config.processes_module)
    except ModuleNotFoundError as err:
        module = config.processes_module
        if not err.name or not (module == err.name or module.startswith(f"{err.name}.")):
            raise  # the module is there, and what it imports is not: a bug, not a setting
        message = f"{PROCESSES_VARIABLE}={module!r}: no such module"
        raise ConfigurationError(message, (PROCESSES_VARIABLE,)) from err
    except TypeError as err:
        raise ConfigurationError(f"{PROCESSES_VARIABLE}: {err}", (PROCESSES_VARIABLE,)) from err
    trigger: Trigger = (
        CloudSchedulerTrigger(config.scheduler_parent, config.scheduler_endpoint)
        if config.scheduler_parent
        else NoTrigger()
    )
    try:
        app = App(
            processes,
            client=Client(project=config.project, database=config.database),
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
    except (ValueError, InvalidArgument) as err:
        # The engine checks the values together (a lease longer than the checkpoint
        # interval): name the variables its refusal speaks of, or all it reads.
        text = str(err)
        named = tuple(dict.fromkeys(v for word, v in _ENGINE_VARIABLES.items() if word in text))
        variables = named or tuple(dict.fromkeys(_ENGINE_VARIABLES.values()))
        raise ConfigurationError(f"{_shown(env, variables)}: {text}", variables) from err
    return Deployment(config, app)


def build_app(env: Mapping[str, str]) -> App:
    """The App a deployed function serves, configured from ``env``."""
    return build(env).app


def start(env: Mapping[str, str]) -> Deployment | StartFailure:
    """``build(env)``, or the failure every request will answer, logged once here."""
    try:
        return build(env)
    except ConfigurationError as err:
        failure = StartFailure(str(err)[:MAX_LOG_DETAIL], err.variables)
        event(
            logging.CRITICAL,
            f"configuration error: {failure.message}",
            variables=list(failure.variables),
        )
        return failure
    except Exception as err:  # anything else still gets a JSON answer, and a traceback logged
        reference = secrets.token_hex(8)
        event(
            logging.CRITICAL,
            "the function could not start",
            reference=reference,
            error=repr(err)[:MAX_LOG_DETAIL],
            traceback="".join(traceback.format_exception(err)),
            variables=[],
        )
        return StartFailure(f"it could not start (reference {reference} in its log)", ())


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
    process: str | None = None
    shard: int | None = None
    try:
        process, shard = parse_run_body(raw)
        result = app.tick(process, shard)
    except SlotworkError as err:
        # 5xx only for a fault worth a Scheduler retry (the store was unreachable).
        level = logging.ERROR if err.http_status >= 500 else logging.WARNING
        event(
            level,
            "tick failed",
            event="tick",
            outcome=FAILED_TICK,
            process=process[:200] if process else None,
            shard=shard or 0,
            processed=0,
            cleaned=0,
            errors=0,
            retried=0,
            failed=0,
            left=None,
            status=err.http_status,
            detail=str(err)[:MAX_LOG_DETAIL],
        )
        return err.http_status, err.body()
    return 200, result.to_json()
