"""The log-based metrics count exactly the engine's log lines they are meant to.

The metrics are defined once, in terraform/modules/slotwork/metrics.json;
monitoring.tf makes each a ``google_logging_metric`` whose filter is the
source's filter (with the run function's name and the project filled in) AND
the metric's own. Here the same filters and extractors are evaluated
(slotwork_local.logquery) against log entries built from real lines: real
ticks of ``slotwork.App`` on the Firestore emulator, one process per
situation an operator must see (a completed run, an aborted one, a slot left
unfinished, missed slots, a quarantined item, a retried one), captured with
the engine's own JsonFormatter and wrapped as Cloud Logging stores a
structured stdout line (``severity`` and ``time`` move to the entry,
``message`` and every other field stay in jsonPayload), on the
``cloud_run_revision`` resource of the ``slotwork-run`` service.

What each metric must count is stated here from the log contract (the
``COUNTS`` predicates on the raw lines), and the totals are checked against
what the ticks returned and what the store recorded, which do not come from
the logs at all.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import Any

import pytest

import slotwork
from slotwork.deployment import run_tick
from slotwork.engine.state import TickResult
from slotwork.logs import LOGGER, JsonFormatter
from slotwork.model import FAILED_TICK, Outcome
from slotwork.schema import RunRecord, Status
from slotwork.schema.documents import ts_to_datetime
from slotwork_local.emulator import Emulator
from slotwork_local.logquery import Extractor, Query, Resource, request_entry, stdout_entry

from conftest import new_client
from helpers import HOUR, FakeClock, RecordingWorker, counter_ids

REPO = Path(__file__).resolve().parents[1]
CATALOG_FILE = REPO / "terraform" / "modules" / "slotwork" / "metrics.json"
PROJECT = "my-project"
RUN_SERVICE = "slotwork-run"  # local.run_function_name
RUN = Resource(PROJECT, RUN_SERVICE)
API = Resource(PROJECT, "slotwork-api")
RUN_STATES = {"COMPLETED", "INCOMPLETE", "ABORTED"}
# Fields whose values are unbounded: never a label (cardinality, and item names
# may be personal data).
UNBOUNDED_FIELDS = {"item", "run_id", "instance", "slot", "reason", "detail", "last_missed"}
UNFINISHED_REASON = "the slot ended before the run finished"  # slotwork.engine.runs


# ---------------------------------------------------------------------------
# The catalog, rendered as monitoring.tf renders it
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    kind: str
    source: str
    filter: str
    labels: dict[str, Extractor]
    value: Extractor | None
    bounds: tuple[float, ...]

    @property
    def query(self) -> Query:
        return Query(self.filter)


@cache
def catalog() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(CATALOG_FILE.read_text(encoding="utf-8"))
    return loaded


def source_filter(source: str, service: str = RUN_SERVICE, project: str = PROJECT) -> str:
    """local.log_sources[source] of monitoring.tf."""
    text: str = catalog()["sources"][source]
    return text.replace("{run_service}", service).replace("{project}", project)


@cache
def metrics() -> dict[str, Metric]:
    found = {}
    for key, spec in catalog()["metrics"].items():
        found[key] = Metric(
            key=key,
            name=catalog()["prefix"] + key,
            kind=spec["kind"],
            source=spec["source"],
            filter=f"{source_filter(spec['source'])} AND ({spec['filter']})",
            labels={
                name: Extractor.parse(catalog()["labels"][name]["extractor"])
                for name in spec["labels"]
            },
            value=Extractor.parse(spec["value"]) if "value" in spec else None,
            bounds=tuple(spec.get("bounds", ())),
        )
    return found


# ---------------------------------------------------------------------------
# Real log lines of real ticks
# ---------------------------------------------------------------------------


class LineCapture(logging.Handler):
    """The engine's log lines, exactly as the deployed function writes them to stdout."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@dataclass
class Observed:
    lines: list[str] = field(default_factory=list)
    ticks: list[TickResult] = field(default_factory=list)
    runs: dict[str, list[RunRecord]] = field(default_factory=dict)
    failed_requests: list[int] = field(default_factory=list)
    quarantined: dict[str, int] = field(default_factory=dict)

    def entries(self, resource: Resource = RUN) -> list[dict[str, Any]]:
        return [stdout_entry(line, resource) for line in self.lines]

    def closed_runs(self) -> list[RunRecord]:
        return [
            record
            for records in self.runs.values()
            for record in records
            if record.run.status.state in (Status.COMPLETED, Status.INCOMPLETE, Status.ABORTED)
        ]


def _app(
    client: Any, name: str, worker: RecordingWorker, clock: FakeClock, **options: Any
) -> slotwork.App:
    engine = {k: options.pop(k) for k in ("deadline", "lease_ttl") if k in options}
    definition = slotwork.Process(name, worker, frequency=HOUR, **options)
    return slotwork.App(
        [definition], client=client, clock=clock, min_frequency=60, ids=counter_ids(name), **engine
    )


def _completes(client: Any, seen: Observed) -> slotwork.App:
    """A run that completes; then a tick of the same slot (done) and one while paused."""
    app = _app(client, "completes", RecordingWorker(), FakeClock())
    app.register_many("completes", [(n, None) for n in ("a", "b", "c")])
    seen.ticks += [app.tick("completes"), app.tick("completes")]
    app.pause("completes")
    seen.ticks.append(app.tick("completes"))
    app.resume("completes")
    return app


def _aborts(client: Any, seen: Observed) -> slotwork.App:
    """No error allowed in a run: the first failing item aborts it."""
    budget = slotwork.ErrorBudget(per_item=10, per_run=0)
    worker = RecordingWorker(fail={"b": 1000})
    app = _app(client, "aborts", worker, FakeClock(), error_budget=budget)
    app.register_many("aborts", [(n, None) for n in ("a", "b", "c")])
    seen.ticks.append(app.tick("aborts"))
    return app


def _overruns(client: Any, seen: Observed) -> slotwork.App:
    """A one-second deadline leaves the slot unfinished; the next slot's run closes it."""
    clock = FakeClock(step=timedelta(milliseconds=50))
    app = _app(client, "overruns", RecordingWorker(), clock, deadline=1, lease_ttl=30)
    app.register_many("overruns", [(f"i{n:03d}", None) for n in range(40)])
    seen.ticks.append(app.tick("overruns"))
    clock.advance(HOUR)
    seen.ticks.append(app.tick("overruns"))
    return app


def _misses(client: Any, seen: Observed) -> slotwork.App:
    """Six hours without a tick: the next run records the five slots it missed."""
    clock = FakeClock()
    app = _app(client, "misses", RecordingWorker(), clock)
    app.register("misses", "a")
    seen.ticks.append(app.tick("misses"))
    clock.advance(6 * HOUR)
    seen.ticks.append(app.tick("misses"))
    return app


def _quarantines(client: Any, seen: Observed) -> slotwork.App:
    """An item that always fails is set aside after one failed slot."""
    worker = RecordingWorker(fail={"bad": 1000})
    app = _app(client, "quarantines", worker, FakeClock(), quarantine_after=1)
    app.register_many("quarantines", [("bad", None), ("good", None)])
    seen.ticks.append(app.tick("quarantines"))
    seen.quarantined["quarantines"] = len(app.list_work("quarantines", state="quarantined").items)
    return app


def _retries(client: Any, seen: Observed) -> slotwork.App:
    """An item that fails once is retried within the slot and succeeds."""
    retry = slotwork.Retry(attempts=2, initial=timedelta(seconds=1))
    worker = RecordingWorker(fail={"flaky": 1})
    app = _app(client, "retries", worker, FakeClock(step=timedelta(milliseconds=200)), retry=retry)
    app.register_many("retries", [("flaky", None), ("steady", None)])
    seen.ticks.append(app.tick("retries"))
    assert seen.ticks[-1].left == 0, "the retry ran within the tick"
    return app


SCENARIOS: tuple[Callable[[Any, Observed], slotwork.App], ...] = (
    _completes,
    _aborts,
    _overruns,
    _misses,
    _quarantines,
    _retries,
)


@pytest.fixture(scope="module")
def observed(emulator: Emulator) -> Iterator[Observed]:
    """Every scenario's log lines, ticks and stored runs, gathered once."""
    emulator.reset()
    client = new_client(emulator)
    seen = Observed()
    capture = LineCapture()
    level = LOGGER.level
    LOGGER.addHandler(capture)
    LOGGER.setLevel(logging.INFO)
    try:
        for scenario in SCENARIOS:
            app = scenario(client, seen)
            (name,) = app.processes
            seen.runs[name] = app.list_runs(name, page_size=100)[0]
        # A tick request for a process that does not exist: the run function's
        # "tick failed" line (a 404, so no tick and no 5xx).
        status, _ = run_tick(app, b'{"process": "nobody"}')
        seen.failed_requests.append(status)
    finally:
        LOGGER.removeHandler(capture)
        LOGGER.setLevel(level)
    seen.lines = capture.lines
    yield seen


# ---------------------------------------------------------------------------
# What each metric must count, from the log contract
# ---------------------------------------------------------------------------

Line = dict[str, Any]


def _event(line: Line, name: str) -> bool:
    return line.get("logger") == "slotwork" and line.get("event") == name


COUNTS: dict[str, Callable[[Line], bool]] = {
    "ticks": lambda line: _event(line, "tick"),
    "items_processed": lambda line: _event(line, "tick") and line["processed"] > 0,
    "items_retried": lambda line: _event(line, "tick") and line["retried"] > 0,
    "items_failed": lambda line: _event(line, "run") and line.get("items_failed", 0) > 0,
    "items_quarantined": lambda line: _event(line, "quarantined"),
    "items_left": lambda line: _event(line, "run") and line["items_left"] > 0,
    "runs": lambda line: _event(line, "run"),
    "run_duration": lambda line: _event(line, "run") and not line.get("unfinished"),
    "slot_lag": lambda line: _event(line, "run") and not line.get("unfinished"),
    "slots_unfinished": lambda line: _event(line, "run") and line.get("unfinished") is True,
    "slots_missed": lambda line: _event(line, "missed_slots"),
}
ENGINE_METRICS = sorted(COUNTS)


def test_every_metric_of_the_engine_has_a_stated_count_and_the_rest_read_requests() -> None:
    engine = {key for key, m in metrics().items() if m.source == "engine"}
    assert engine == set(COUNTS)
    assert {key for key, m in metrics().items() if m.source == "requests"} == {"tick_failures"}


def _matched(metric: Metric, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    query = metric.query
    return [entry for entry in entries if query.matches(entry)]


@pytest.mark.parametrize("key", ENGINE_METRICS)
def test_the_filter_counts_the_lines_it_must_and_no_other(key: str, observed: Observed) -> None:
    entries = observed.entries()
    expected = [
        e for e, line in zip(entries, observed.lines, strict=True) if COUNTS[key](json.loads(line))
    ]
    found = _matched(metrics()[key], entries)
    assert expected, f"{key}: the scenarios produce no line it must count"
    assert found == expected, f"{key}: counted {len(found)} lines, should count {len(expected)}"


@pytest.mark.parametrize("key", ENGINE_METRICS)
def test_every_label_and_value_is_found_in_every_counted_line(key: str, observed: Observed) -> None:
    metric = metrics()[key]
    for entry in _matched(metric, observed.entries()):
        for label, extractor in metric.labels.items():
            value = extractor.label(entry)
            assert value, f"{key}: label {label} not found in {entry['jsonPayload']}"
            assert value == str(entry["jsonPayload"][extractor.path[-1]])
        if metric.value is not None:
            number = metric.value.number(entry)
            assert number is not None, f"{key}: no value in {entry['jsonPayload']}"


@pytest.mark.parametrize("key", sorted(metrics()))
def test_nothing_is_counted_from_another_service_or_logger(key: str, observed: Observed) -> None:
    query = metrics()[key].query
    assert not any(query.matches(e) for e in observed.entries(API)), "the api's lines"
    foreign = [
        line.replace('"logger": "slotwork"', '"logger": "someapp"', 1) for line in observed.lines
    ]
    assert not any(query.matches(stdout_entry(line, RUN)) for line in foreign), "another logger"
    assert not query.matches(request_entry(500, API)), "the api's 5xx"


def test_the_engine_metrics_never_count_request_log_entries() -> None:
    requests = [request_entry(status, RUN) for status in (200, 404, 500, 503)]
    for key in ENGINE_METRICS:
        assert not any(metrics()[key].query.matches(e) for e in requests), key


# ---------------------------------------------------------------------------
# The totals agree with what the ticks returned and the store recorded
# ---------------------------------------------------------------------------


def _values(key: str, observed: Observed) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of every point the metric records: the value is 1 for a counter."""
    metric = metrics()[key]
    points = []
    for entry in _matched(metric, observed.entries()):
        labels = {name: ex.label(entry) or "" for name, ex in metric.labels.items()}
        value = 1.0 if metric.value is None else metric.value.number(entry)
        assert value is not None
        points.append((labels, value))
    return points


def _sum_by_process(points: list[tuple[dict[str, str], float]]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for labels, value in points:
        totals[labels["process"]] = totals.get(labels["process"], 0.0) + value
    return totals


def test_ticks_are_counted_once_each_by_outcome(observed: Observed) -> None:
    all_points = _values("ticks", observed)
    # A tick that answered an error (the 404 request) is counted as failed.
    failed = [labels for labels, _ in all_points if labels["outcome"] == FAILED_TICK]
    assert len(failed) == len(observed.failed_requests)
    points = [(labels, v) for labels, v in all_points if labels["outcome"] != FAILED_TICK]
    assert [labels["outcome"] for labels, _ in points] == [t.outcome for t in observed.ticks]
    assert {labels["outcome"] for labels, _ in points} >= {"claimed", "done", "paused", "aborted"}
    assert {labels["outcome"] for labels, _ in points} <= {o.value for o in Outcome}
    assert [labels["process"] for labels, _ in points] == [t.process for t in observed.ticks]
    assert {labels["shard"] for labels, _ in all_points} == {"0"}


def test_items_processed_and_retried_sum_to_what_the_ticks_did(observed: Observed) -> None:
    processed: Counter[str] = Counter()
    retried: Counter[str] = Counter()
    for tick in observed.ticks:
        processed[tick.process] += tick.processed
        retried[tick.process] += tick.retried
    assert _sum_by_process(_values("items_processed", observed)) == {
        p: float(n) for p, n in processed.items() if n
    }
    assert _sum_by_process(_values("items_retried", observed)) == {"retries": 1.0}
    assert retried == Counter({"retries": 1})


def test_items_failed_and_left_sum_to_what_the_closed_runs_recorded(observed: Observed) -> None:
    failed: Counter[str] = Counter()
    left: Counter[str] = Counter()
    for process, records in observed.runs.items():
        for record in records:
            if record.run.status.state == Status.ACTIVE:
                continue
            failed[process] += record.run.items_failed
            left[process] += record.run.items_left
    assert _sum_by_process(_values("items_failed", observed)) == {
        p: float(n) for p, n in failed.items() if n
    }
    assert set(_sum_by_process(_values("items_failed", observed))) == {"aborts", "quarantines"}
    assert _sum_by_process(_values("items_left", observed)) == {
        p: float(n) for p, n in left.items() if n
    }
    assert set(_sum_by_process(_values("items_left", observed))) == {"aborts", "overruns"}


def test_items_quarantined_counts_each_item_set_aside(observed: Observed) -> None:
    assert _sum_by_process(_values("items_quarantined", observed)) == {
        p: float(n) for p, n in observed.quarantined.items()
    }
    assert observed.quarantined == {"quarantines": 1}


def test_runs_are_counted_by_the_state_the_store_recorded(observed: Observed) -> None:
    counted = Counter(
        (labels["process"], labels["state"]) for labels, _ in _values("runs", observed)
    )
    stored = Counter(
        (process, Status.State.Name(record.run.status.state))
        for process, records in observed.runs.items()
        for record in records
        if record.run.status.state != Status.ACTIVE
    )
    assert counted == stored
    assert {state for _, state in counted} == RUN_STATES


def test_duration_and_slot_lag_are_the_stored_runs_own(observed: Observed) -> None:
    finished = [
        record.run for record in observed.closed_runs() if record.run.reason != UNFINISHED_REASON
    ]
    durations = sorted(value for _, value in _values("run_duration", observed))
    assert durations == sorted(run.status.stats["duration"] for run in finished)
    lags = sorted(value for _, value in _values("slot_lag", observed))
    assert lags == sorted(
        (ts_to_datetime(run.status.finish_time) - (ts_to_datetime(run.slot) + HOUR)).total_seconds()
        for run in finished
    )
    assert all(lag < 0 for lag in lags), "every run here finished within its slot"
    assert any(duration > 0 for duration in durations), "the retry took time"


def test_a_slot_left_unfinished_is_counted_once(observed: Observed) -> None:
    unfinished = [r for r in observed.closed_runs() if r.run.reason == UNFINISHED_REASON]
    assert [(r.run.id, r.run.status.state) for r in unfinished] == [
        ("2026-11-29T12:00:00Z", Status.INCOMPLETE)
    ]
    assert _values("slots_unfinished", observed) == [({"process": "overruns"}, 1.0)]
    left = [v for labels, v in _values("items_left", observed) if labels["process"] == "overruns"]
    assert left == [float(unfinished[0].run.items_left)] and left[0] > 0


def test_missed_slots_sum_to_the_count_the_run_recorded(observed: Observed) -> None:
    recorded = {
        process: sum(r.run.missed_slot_count for r in records)
        for process, records in observed.runs.items()
    }
    assert _values("slots_missed", observed) == [({"process": "misses"}, 5.0)]
    assert {p: n for p, n in recorded.items() if n} == {"misses": 5}


def test_the_state_label_of_an_aborted_run_is_what_the_abort_alert_selects(
    observed: Observed,
) -> None:
    aborted = [labels for labels, _ in _values("runs", observed) if labels["process"] == "aborts"]
    assert aborted == [{"process": "aborts", "state": "ABORTED"}]
    alert = _alerts()["run_aborted"]
    assert alert["extra_filter"] == 'metric.label.state="ABORTED"'


# ---------------------------------------------------------------------------
# 5xx: Cloud Run's request log of the run service
# ---------------------------------------------------------------------------


def test_tick_failures_count_the_run_services_5xx_answers_only(observed: Observed) -> None:
    metric = metrics()["tick_failures"]
    # Cloud Run writes one request entry per request; the engine writes none of them.
    statuses = [200] * len(observed.ticks) + observed.failed_requests + [500, 503, 504, 429]
    requests = [request_entry(status, RUN) for status in statuses]
    found = _matched(metric, requests)
    assert [e["httpRequest"]["status"] for e in found] == [500, 503, 504]
    assert [metric.labels["status"].label(e) for e in found] == ["500", "503", "504"]
    assert observed.failed_requests == [404]
    assert not _matched(metric, observed.entries()), "the stdout lines are not requests"
    failed_line = [json.loads(line) for line in observed.lines if '"tick failed"' in line]
    assert [(f["status"], f["severity"]) for f in failed_line] == [(404, "WARNING")]
    # Its own line counts it once, among the ticks by outcome ("failed"), and nowhere else.
    entry = stdout_entry(json.dumps(failed_line[0]), RUN)
    assert [k for k, m in sorted(metrics().items()) if m.query.matches(entry)] == ["ticks"]


# ---------------------------------------------------------------------------
# The catalog itself
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(catalog()["metrics"]))
def test_each_metric_is_named_in_the_one_scheme_and_shaped_for_its_kind(key: str) -> None:
    spec, metric = catalog()["metrics"][key], metrics()[key]
    assert re.fullmatch(r"[a-z][a-z0-9_]*", key), "lower-case words joined by _"
    assert catalog()["prefix"] == "slotwork/"
    assert metric.name == f"slotwork/{key}" and len(metric.name) <= 100
    assert spec["description"].strip() and spec["display_name"].startswith("slotwork ")
    assert spec["kind"] in ("counter", "distribution")
    assert spec["source"] in catalog()["sources"]
    if spec["kind"] == "distribution":
        assert metric.value is not None and metric.bounds
        assert list(metric.bounds) == sorted(set(metric.bounds)), "bounds strictly increase"
    else:
        assert "value" not in spec and "bounds" not in spec
    assert len(metric.filter) < 20000, "Cloud Logging's limit on a metric's filter"


@pytest.mark.parametrize("key", sorted(catalog()["metrics"]))
def test_labels_are_few_bounded_and_never_an_item(key: str) -> None:
    spec = catalog()["metrics"][key]
    assert spec["labels"] == sorted(spec["labels"]), "sorted, so plans show no reordering"
    assert 1 <= len(spec["labels"]) <= 10, "Cloud Logging allows 10 labels"
    if spec["source"] == "engine":
        assert "process" in spec["labels"], "every engine metric is per process"
    for name in spec["labels"]:
        extractor = Extractor.parse(catalog()["labels"][name]["extractor"])
        assert extractor.path[-1] not in UNBOUNDED_FIELDS, f"{name} reads {extractor.field}"
        assert catalog()["labels"][name]["description"].strip()
    assert set(catalog()["labels"]) == {
        n for m in catalog()["metrics"].values() for n in m["labels"]
    }


def test_every_filter_reads_only_fields_the_entries_have(observed: Observed) -> None:
    """A misspelt field would make a filter silently match nothing (or everything, under NOT)."""
    engine = {
        f"jsonPayload.{name}" for entry in observed.entries() for name in entry["jsonPayload"]
    }
    entry_fields = {"resource.type", "resource.labels.service_name", "logName"}
    known = {"engine": engine | entry_fields, "requests": entry_fields | {"httpRequest.status"}}
    for key, metric in metrics().items():
        fields = {comparison.field for comparison in metric.query.comparisons()}
        assert fields <= known[metric.source], f"{key}: {sorted(fields - known[metric.source])}"


def _alerts() -> dict[str, dict[str, Any]]:
    import test_terraform  # the HCL reader of the module's own tests

    alerts: dict[str, dict[str, Any]] = test_terraform.locals_()["alerts"]
    return alerts
