"""One function per operation: parse what the route received, call ``App``, answer.

Every handler validates its whole input before the one ``App`` call that
writes, so a refused request has written nothing. Item names are taken in
their normalised form (``validate_name``) before they reach ``App``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from slotwork.api import limits
from slotwork.api.codec import duration, fields_of, integer, to_json
from slotwork.api.errors import FailedPrecondition, FieldViolation
from slotwork.app import App
from slotwork.errors import InvalidArgument
from slotwork.params import to_params, validate_name
from slotwork.policies import MAX_ERRORS, ONE_SECOND, ErrorBudget, Rate
from slotwork.schema import Params, WorkResponse
from slotwork.triggers import NoTrigger

CATCH_UP_POLICIES = {"SKIP": "skip", "RUN_LATE": "run_late"}


@dataclass(frozen=True)
class Call:
    """What a handler gets: the app, decoded path variables, query values, the JSON body."""

    app: App
    path: Mapping[str, str]
    query: Mapping[str, str]
    body: Mapping[str, Any]
    # The OpenAPI document, built lazily by the caller (only /openapi.json needs it).
    document: Callable[[], dict[str, Any]] = field(default=lambda: {})
    # Where the API is mounted ("" at the root), for the links GET / answers.
    base: str = ""

    @property
    def process(self) -> str:
        return self.path["process"]

    @property
    def item(self) -> str:
        """The item name of the path, normalised as stored (InvalidArgument if it cannot be)."""
        return validate_name(self.path["item"], "item name")


@dataclass(frozen=True)
class Reply:
    """A handler's answer: status and JSON body."""

    status: int
    body: dict[str, Any]


Handler = Callable[[Call], Reply]


def _page_size(call: Call, default: int) -> int:
    raw = call.query.get("pageSize")
    if raw is None or raw == "":
        return default
    return integer(raw, "pageSize", 1, limits.MAX_PAGE_SIZE)


def _work(call: Call, work: WorkResponse) -> dict[str, Any]:
    return to_json(work)


def _optional_params(value: object, where: str) -> Params:
    try:
        return to_params(value)  # type: ignore[arg-type]  # to_params checks the type itself
    except InvalidArgument as err:
        raise FieldViolation(where, str(err)) from None


# -- processes --------------------------------------------------------------------
def list_processes(call: Call) -> Reply:
    """GET /processes"""
    return Reply(200, {"processes": [to_json(p) for p in call.app.list_processes()]})


def get_process(call: Call) -> Reply:
    """GET /processes/{process}"""
    return Reply(200, to_json(call.app.get_process(call.process)))


def update_process(call: Call) -> Reply:
    """PATCH /processes/{process}"""
    call.app.definition(call.process)
    body = fields_of(
        call.body,
        (
            "scheduleFrequency",
            "settings",
            "catchUp",
            "pauseAfterAborts",
            "rateLimit",
            "errorBudget",
        ),
    )
    frequency = None
    if body.get("scheduleFrequency") is not None:
        frequency = duration(body["scheduleFrequency"], "scheduleFrequency", limits.MAX_FREQUENCY)
    settings = None
    if body.get("settings") is not None:
        settings = _optional_params(body["settings"], "settings")
    policy, run_late_within = _catch_up(body.get("catchUp"))
    pause_after = None
    if body.get("pauseAfterAborts") is not None:
        pause_after = integer(
            body["pauseAfterAborts"], "pauseAfterAborts", 0, limits.MAX_PAUSE_AFTER_ABORTS
        )
    state = call.app.update_settings(
        call.process,
        frequency,
        settings,
        catch_up=policy,
        run_late_within=run_late_within,
        pause_after_aborts=pause_after,
        rate_limit=_rate(body.get("rateLimit")),
        error_budget=_error_budget(call, body.get("errorBudget")),
    )
    return Reply(200, to_json(state))


def _rate(value: object) -> Rate | float | None:
    """The rate limit asked for; ``{"count": 0}`` removes it (0)."""
    if value is None:
        return None
    fields = fields_of(value, ("count", "per"), "rateLimit", required=("count",))
    count = fields["count"]
    if isinstance(count, bool) or not isinstance(count, int | float):
        raise FieldViolation("rateLimit.count", "must be a number of items")
    if count == 0:
        return 0.0
    per = ONE_SECOND
    if fields.get("per") is not None:
        per = duration(fields["per"], "rateLimit.per", limits.MAX_FREQUENCY)
    try:
        return Rate(float(count), per)
    except ValueError as err:
        raise FieldViolation("rateLimit", str(err)) from None


def _error_budget(call: Call, value: object) -> ErrorBudget | None:
    """The error budget asked for: each half given replaces that half of the one in
    force; the other is kept."""
    if value is None:
        return None
    fields = fields_of(value, ("perItem", "perRun"), "errorBudget")
    current = ErrorBudget.from_message(call.app.get_process(call.process).error_budget)
    per_item = current.per_item
    if fields.get("perItem") is not None:
        per_item = integer(fields["perItem"], "errorBudget.perItem", 0, MAX_ERRORS)
    per_run: int | float = current.per_run
    raw = fields.get("perRun")
    if isinstance(raw, float) and not raw.is_integer():
        if not 0 < raw < 1:
            raise FieldViolation("errorBudget.perRun", "a fraction must be between 0 and 1")
        per_run = raw
    elif raw is not None:
        per_run = integer(
            int(raw) if isinstance(raw, float) else raw, "errorBudget.perRun", 0, MAX_ERRORS
        )
    return ErrorBudget(per_item, per_run)


def _catch_up(value: object) -> tuple[str | None, timedelta | None]:
    if value is None:
        return None, None
    catch_up = fields_of(value, ("policy", "runLateWithin"), "catchUp")
    policy = None
    if catch_up.get("policy") is not None:
        raw = catch_up["policy"]
        policy = CATCH_UP_POLICIES.get(raw) if isinstance(raw, str) else None
        if policy is None:
            raise FieldViolation("catchUp.policy", "must be SKIP or RUN_LATE")
    within = None
    if catch_up.get("runLateWithin") is not None:
        within = duration(catch_up["runLateWithin"], "catchUp.runLateWithin", limits.MAX_FREQUENCY)
    if policy is None and within is None:
        raise FieldViolation("catchUp", "give a policy, runLateWithin, or both")
    return policy, within


def pause(call: Call) -> Reply:
    """POST /processes/{process}:pause"""
    call.app.definition(call.process)
    reason = fields_of(call.body, ("reason",)).get("reason")
    if reason is None or reason == "":
        return Reply(200, to_json(call.app.pause(call.process)))
    if not isinstance(reason, str):
        raise FieldViolation("reason", "must be a string")
    if len(reason.encode("utf-8")) > limits.MAX_REASON_BYTES:
        raise FieldViolation("reason", f"must be at most {limits.MAX_REASON_BYTES} bytes")
    return Reply(200, to_json(call.app.pause(call.process, reason)))


def resume(call: Call) -> Reply:
    """POST /processes/{process}:resume"""
    call.app.definition(call.process)
    fields_of(call.body, ())
    return Reply(200, to_json(call.app.resume(call.process)))


def run_now(call: Call) -> Reply:
    """POST /processes/{process}:run"""
    call.app.definition(call.process)
    fields_of(call.body, ())
    if isinstance(call.app.trigger, NoTrigger):
        raise FailedPrecondition(
            "no scheduler is configured for this deployment (SLOTWORK_SCHEDULER_PARENT is "
            "unset), so a tick cannot be asked for now; the process runs at its next "
            "scheduled tick"
        )
    call.app.run_now(call.process)
    return Reply(202, {"process": call.process, "requested": True})


# -- work items -----------------------------------------------------------------------
def list_work(call: Call) -> Reply:
    """GET /processes/{process}/work"""
    page = call.app.list_work(
        call.process,
        page_size=_page_size(call, limits.DEFAULT_WORK_PAGE_SIZE),
        page_token=call.query.get("pageToken", ""),
        state=call.query.get("state") or None,
    )
    return Reply(
        200, {"items": [_work(call, w) for w in page.items], "nextPageToken": page.next_page_token}
    )


def register_work(call: Call) -> Reply:
    """PUT /processes/{process}/work/{item}"""
    call.app.definition(call.process)
    item = call.item
    params = _optional_params(fields_of(call.body, ("params",)).get("params"), "params")
    registration = call.app.register(call.process, item, params)
    work = call.app.get_work(call.process, item)
    return Reply(201 if registration.created else 200, _work(call, work))


def batch_register(call: Call) -> Reply:
    """POST /processes/{process}/work:batchRegister"""
    call.app.definition(call.process)
    items = fields_of(call.body, ("items",), required=("items",))["items"]
    if not isinstance(items, list):
        raise FieldViolation("items", "must be a JSON array")
    if len(items) > limits.MAX_BATCH_ITEMS:
        raise FieldViolation(
            "items", f"has {len(items)} entries; send at most {limits.MAX_BATCH_ITEMS} per call"
        )
    checked: list[tuple[str, Params]] = []
    first_index: dict[str, int] = {}
    for index, entry in enumerate(items):
        where = f"items[{index}]"
        fields = fields_of(entry, ("name", "params"), where, required=("name",))
        try:
            name = validate_name(fields["name"], "item name")
        except InvalidArgument as err:
            raise FieldViolation(f"{where}.name", str(err)) from None
        if name in first_index:
            raise FieldViolation(
                f"{where}.name", f"{name[:80]!r} appears twice (also items[{first_index[name]}])"
            )
        first_index[name] = index
        checked.append((name, _optional_params(fields.get("params"), f"{where}.params")))
    registrations = call.app.register_many(call.process, checked)
    return Reply(
        200,
        {
            "results": [
                {"name": r.name, "created": r.created, "changed": r.changed} for r in registrations
            ]
        },
    )


def get_work(call: Call) -> Reply:
    """GET /processes/{process}/work/{item}"""
    call.app.definition(call.process)
    return Reply(200, _work(call, call.app.get_work(call.process, call.item)))


def unregister_work(call: Call) -> Reply:
    """DELETE /processes/{process}/work/{item}"""
    call.app.definition(call.process)
    item = call.item
    call.app.unregister(call.process, item)
    return Reply(202, _work(call, call.app.get_work(call.process, item)))


def release_work(call: Call) -> Reply:
    """POST /processes/{process}/work/{item}:release"""
    call.app.definition(call.process)
    fields_of(call.body, ())
    call.app.release(call.process, call.item)
    return Reply(200, _work(call, call.app.get_work(call.process, call.item)))


def _names(call: Call) -> list[str]:
    """The ``names`` of a batch body, checked as a whole before anything is written."""
    names = fields_of(call.body, ("names",), required=("names",))["names"]
    if not isinstance(names, list):
        raise FieldViolation("names", "must be a JSON array")
    if len(names) > limits.MAX_BATCH_ITEMS:
        raise FieldViolation(
            "names", f"has {len(names)} entries; send at most {limits.MAX_BATCH_ITEMS} per call"
        )
    checked: list[str] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(names):
        try:
            name = validate_name(raw, "item name")
        except InvalidArgument as err:
            raise FieldViolation(f"names[{index}]", str(err)) from None
        if name in first_index:
            raise FieldViolation(
                f"names[{index}]", f"{name[:80]!r} appears twice (also names[{first_index[name]}])"
            )
        first_index[name] = index
        checked.append(name)
    return checked


def _changed(names: list[str], changed: list[bool]) -> Reply:
    results = [{"name": n, "changed": c} for n, c in zip(names, changed, strict=True)]
    return Reply(200, {"results": results})


def batch_unregister(call: Call) -> Reply:
    """POST /processes/{process}/work:batchUnregister"""
    call.app.definition(call.process)
    names = _names(call)
    return _changed(names, call.app.unregister_many(call.process, names))


def batch_release(call: Call) -> Reply:
    """POST /processes/{process}/work:batchRelease"""
    call.app.definition(call.process)
    names = _names(call)
    return _changed(names, call.app.release_many(call.process, names))


# -- runs and the document ----------------------------------------------------------------
def list_runs(call: Call) -> Reply:
    """GET /processes/{process}/runs"""
    records, token = call.app.list_runs(
        call.process,
        page_size=_page_size(call, limits.DEFAULT_RUNS_PAGE_SIZE),
        page_token=call.query.get("pageToken", ""),
    )
    runs = [to_json(record) for record in records]
    return Reply(200, {"runs": runs, "nextPageToken": token})


def openapi(call: Call) -> Reply:
    """GET /openapi.json"""
    return Reply(200, call.document())


def index(call: Call) -> Reply:
    """GET /"""
    return Reply(
        200,
        {
            "title": "slotwork API",
            "openapi": f"{call.base}/openapi.json",
            "processes": f"{call.base}/processes",
        },
    )
