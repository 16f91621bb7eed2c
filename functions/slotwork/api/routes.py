"""The route table: method and path template -> handler, with what the OpenAPI
document says about each route. The router and the document both read it,
so they cannot drift apart.

Templates follow Google's custom-method style: a segment may end in
``:verb`` (``/processes/{process}:pause``, ``/processes/{process}/work:batchRegister``).

``writes`` marks the routes that change state: with ``SLOTWORK_API_AUTH=verified``
only the deployment's writers may call them (``slotwork.api.auth``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slotwork.api import handlers, limits
from slotwork.api.handlers import Handler
from slotwork.api.paths import decode_segment
from slotwork.model import FILTERABLE_STATES


@dataclass(frozen=True)
class Segment:
    """One template segment: a literal or a ``{variable}``, optionally with ``:verb``."""

    literal: str | None
    variable: str | None
    verb: str | None

    @classmethod
    def parse(cls, text: str) -> Segment:
        head, _, verb = text.partition(":")
        if head.startswith("{") and head.endswith("}"):
            return cls(None, head[1:-1], verb or None)
        return cls(head, None, verb or None)

    def match(self, raw: str) -> tuple[bool, str | None]:
        """(matches, the raw value of the variable) for a raw path segment."""
        if self.verb is not None:
            suffix = f":{self.verb}"
            if not raw.endswith(suffix):
                return False, None
            raw = raw[: -len(suffix)]
        if self.variable is not None:
            return True, raw
        return raw == self.literal, None


@dataclass(frozen=True)
class QueryParam:
    """A query parameter (lowerCamelCase; snake_case is accepted too)."""

    name: str
    schema: dict[str, Any]
    description: str


@dataclass(frozen=True)
class Route:
    """One operation of the API."""

    method: str
    template: str
    handler: Handler
    operation_id: str
    summary: str
    success: int
    response: str  # component schema of the success body
    request: str | None = None  # component schema of the request body (None: no body)
    query: tuple[QueryParam, ...] = ()
    body_limit: int = limits.MAX_BODY_BYTES
    errors: tuple[int, ...] = (400, 404, 500, 503)
    also: tuple[int, ...] = ()  # other success statuses, with the same body
    writes: bool = False  # changes state: only writers may call it (slotwork.api.auth)

    @property
    def successes(self) -> tuple[int, ...]:
        return (self.success, *self.also)

    @property
    def error_statuses(self) -> tuple[int, ...]:
        """``errors`` and what the authorization rule may answer: 401, and 403 on writes."""
        return tuple(sorted({*self.errors, 401, *((403,) if self.writes else ())}))

    @property
    def segments(self) -> tuple[Segment, ...]:
        return tuple(Segment.parse(s) for s in self.template[1:].split("/"))

    def match(self, raw_segments: list[str]) -> dict[str, str] | None:
        """The raw path variables when ``raw_segments`` fit this template, else None."""
        template = self.segments
        if len(template) != len(raw_segments):
            return None
        values: dict[str, str] = {}
        for segment, raw in zip(template, raw_segments, strict=True):
            ok, value = segment.match(raw)
            if not ok:
                return None
            if segment.variable is not None and value is not None:
                values[segment.variable] = value
        return values


PAGE_TOKEN = QueryParam(
    "pageToken",
    {"type": "string"},
    "The nextPageToken of the previous page; absent or empty for the first page.",
)


def _page_size(default: int) -> QueryParam:
    return QueryParam(
        "pageSize",
        {"type": "integer", "minimum": 1, "maximum": limits.MAX_PAGE_SIZE, "default": default},
        f"Items per page, 1..{limits.MAX_PAGE_SIZE} (default {default}).",
    )


STATES = [state.value for state in FILTERABLE_STATES]
WRITE_ERRORS = (400, 404, 409, 413, 415, 500, 503)

ROUTES: tuple[Route, ...] = (
    Route(
        "GET",
        "/",
        handlers.index,
        "getIndex",
        "Where this API's document is: {title, openapi, processes}.",
        200,
        "ApiIndex",
        errors=(400, 500),
    ),
    Route(
        "GET",
        "/processes",
        handlers.list_processes,
        "listProcesses",
        "Every process with its current run summary.",
        200,
        "ListProcessesResponse",
        errors=(400, 500, 503),
    ),
    Route(
        "GET",
        "/processes/{process}",
        handlers.get_process,
        "getProcess",
        "Settings, frequency, lease, current run (state, stats, errors, missed slots, "
        "items left), aggregate stats, pause state and catch-up policy.",
        200,
        "Process",
    ),
    Route(
        "PATCH",
        "/processes/{process}",
        handlers.update_process,
        "updateProcess",
        "Change the slot frequency (raised to the deployment's minimum), settings, "
        "catch-up policy, pause-after-aborts, rate limit or error budget; absent fields "
        "are left as they are.",
        200,
        "Process",
        request="UpdateProcessRequest",
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "POST",
        "/processes/{process}:pause",
        handlers.pause,
        "pauseProcess",
        "Stop ticks from claiming; a running tick stops at its next checkpoint.",
        200,
        "Process",
        request="PauseRequest",
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "POST",
        "/processes/{process}:resume",
        handlers.resume,
        "resumeProcess",
        "Let ticks claim again.",
        200,
        "Process",
        request="EmptyRequest",
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "POST",
        "/processes/{process}:run",
        handlers.run_now,
        "runProcess",
        "Ask the scheduler for a tick now.",
        202,
        "RunNowResponse",
        request="EmptyRequest",
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "GET",
        "/processes/{process}/work",
        handlers.list_work,
        "listWork",
        "Work items in name order, optionally of one state, a page at a time.",
        200,
        "ListWorkResponse",
        query=(
            _page_size(limits.DEFAULT_WORK_PAGE_SIZE),
            PAGE_TOKEN,
            QueryParam("state", {"type": "string", "enum": STATES}, "Only items in this state."),
        ),
    ),
    Route(
        "POST",
        "/processes/{process}/work:batchRegister",
        handlers.batch_register,
        "batchRegisterWork",
        f"Register up to {limits.MAX_BATCH_ITEMS} items; all are validated before any is "
        "written. Results come in request order.",
        200,
        "BatchRegisterResponse",
        request="BatchRegisterRequest",
        body_limit=limits.MAX_BATCH_BODY_BYTES,
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "POST",
        "/processes/{process}/work:batchUnregister",
        handlers.batch_unregister,
        "batchUnregisterWork",
        f"Unregister up to {limits.MAX_BATCH_ITEMS} items (idempotent; unknown names are "
        "skipped); all names are validated before any item is written.",
        200,
        "BatchChangeResponse",
        request="BatchNamesRequest",
        body_limit=limits.MAX_BATCH_BODY_BYTES,
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "POST",
        "/processes/{process}/work:batchRelease",
        handlers.batch_release,
        "batchReleaseWork",
        f"Release up to {limits.MAX_BATCH_ITEMS} quarantined items (others are left as "
        "they are); all names are validated before any item is written.",
        200,
        "BatchChangeResponse",
        request="BatchNamesRequest",
        body_limit=limits.MAX_BATCH_BODY_BYTES,
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "POST",
        "/processes/{process}/work/{item}:release",
        handlers.release_work,
        "releaseWork",
        "Release a quarantined item: it is active again, its failure count reset "
        "(an item that is not quarantined is left as it is).",
        200,
        "WorkResponse",
        request="EmptyRequest",
        errors=WRITE_ERRORS,
        writes=True,
    ),
    Route(
        "PUT",
        "/processes/{process}/work/{item}",
        handlers.register_work,
        "registerWork",
        "Register one item (idempotent): 201 when new, 200 when changed or unchanged.",
        201,
        "WorkResponse",
        request="RegisterWorkRequest",
        errors=WRITE_ERRORS,
        also=(200,),
        writes=True,
    ),
    Route(
        "GET",
        "/processes/{process}/work/{item}",
        handlers.get_work,
        "getWork",
        "One item: {id, state, details, uri}.",
        200,
        "WorkResponse",
    ),
    Route(
        "DELETE",
        "/processes/{process}/work/{item}",
        handlers.unregister_work,
        "unregisterWork",
        "Unregister: the item goes to cleanup (idempotent).",
        202,
        "WorkResponse",
        errors=(400, 404, 409, 500, 503),
        writes=True,
    ),
    Route(
        "GET",
        "/processes/{process}/runs",
        handlers.list_runs,
        "listRuns",
        "Run records, newest slot first.",
        200,
        "ListRunsResponse",
        query=(_page_size(limits.DEFAULT_RUNS_PAGE_SIZE), PAGE_TOKEN),
    ),
    Route(
        "GET",
        "/openapi.json",
        handlers.openapi,
        "getOpenApi",
        "This document.",
        200,
        "OpenApiDocument",
        errors=(400, 500),
    ),
)


@dataclass(frozen=True)
class Match:
    """The route a request goes to and its decoded path variables."""

    route: Route
    path: dict[str, str]


def resolve(method: str, raw_segments: list[str]) -> tuple[Match | None, list[str]]:
    """(the match for ``method``, the methods the path allows); no match and an
    empty list for an unknown path."""
    allowed: list[str] = []
    found: Match | None = None
    for route in ROUTES:
        values = route.match(raw_segments)
        if values is None:
            continue
        allowed.append(route.method)
        if found is None and route.method == method:
            found = Match(route, {k: decode_segment(v) for k, v in values.items()})
    return found, sorted(set(allowed))
