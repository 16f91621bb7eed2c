"""The offline evaluator of Cloud Logging filters (slotwork_local.logquery) means
what Cloud Logging means, for the part of the language the metrics use, and
refuses the rest instead of guessing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from slotwork_local.logquery import (
    Extractor,
    Query,
    QueryError,
    Resource,
    request_entry,
    stdout_entry,
)

RUN = Resource("my-project", "slotwork-run")


def entry(**payload: Any) -> dict[str, Any]:
    line = {"severity": "INFO", "message": "m", "time": "2026-01-01T00:00:00+00:00"} | payload
    return stdout_entry(json.dumps(line), RUN)


def matches(text: str, **payload: Any) -> bool:
    return Query(text).matches(entry(**payload))


# ---------------------------------------------------------------------------
# How a structured line is stored
# ---------------------------------------------------------------------------


def test_severity_and_time_move_to_the_entry_and_message_stays_in_the_payload() -> None:
    stored = entry(severity="WARNING", event="run", process="p")
    assert stored["severity"] == "WARNING"
    assert stored["timestamp"] == "2026-01-01T00:00:00+00:00"
    assert stored["jsonPayload"] == {"message": "m", "event": "run", "process": "p"}
    assert stored["resource"]["type"] == "cloud_run_revision"
    assert stored["resource"]["labels"]["service_name"] == "slotwork-run"
    assert stored["logName"] == "projects/my-project/logs/run.googleapis.com%2Fstdout"


def test_special_fields_leave_the_payload() -> None:
    stored = entry(**{"httpRequest": {"status": 500}, "logging.googleapis.com/labels": {"a": "b"}})
    assert stored["httpRequest"] == {"status": 500} and stored["labels"] == {"a": "b"}
    assert "httpRequest" not in stored["jsonPayload"]


def test_a_line_that_is_not_json_object_is_text() -> None:
    stored = stdout_entry('"just text"', RUN)
    assert stored["textPayload"] == '"just text"' and "jsonPayload" not in stored


def test_a_request_entry_carries_the_status_on_http_request() -> None:
    stored = request_entry(503, RUN)
    assert stored["logName"].endswith("/logs/run.googleapis.com%2Frequests")
    assert stored["httpRequest"]["status"] == 503 and stored["severity"] == "ERROR"
    assert "jsonPayload" not in stored


# ---------------------------------------------------------------------------
# Comparisons
# ---------------------------------------------------------------------------


def test_string_equality_is_exact() -> None:
    assert matches('jsonPayload.event="run"', event="run")
    assert not matches('jsonPayload.event="run"', event="Run")
    assert not matches('jsonPayload.event="run"', event="runs")
    assert matches("jsonPayload.event=run", event="run"), "a bare word is a value too"


def test_numbers_compare_numerically() -> None:
    assert matches("jsonPayload.processed>0", processed=3)
    assert not matches("jsonPayload.processed>0", processed=0)
    assert matches("jsonPayload.lag>=-60", lag=-60.0)
    assert matches("jsonPayload.lag<-59", lag=-60)
    assert matches("jsonPayload.n>9", n=10), "10 > 9 as numbers, not as text"
    assert matches("jsonPayload.shard=0", shard=0) and matches('jsonPayload.shard="0"', shard=0)
    assert not matches('jsonPayload.processed>"x"', processed=3)


def test_booleans_equal_only_true_or_false() -> None:
    assert matches("jsonPayload.unfinished=true", unfinished=True)
    assert not matches("jsonPayload.unfinished=true", unfinished=False)
    assert not matches("jsonPayload.unfinished=true", unfinished="yes")
    assert not matches("jsonPayload.unfinished>true", unfinished=True)


def test_a_missing_or_null_field_fails_every_comparison_and_passes_its_negation() -> None:
    assert not matches("jsonPayload.left>=0", left=None)
    assert not matches("jsonPayload.left>=0")
    assert matches("NOT jsonPayload.unfinished=true")
    assert matches("NOT jsonPayload.unfinished=true", unfinished=None)
    assert not matches("NOT jsonPayload.unfinished=true", unfinished=True)


def test_severity_compares_by_level() -> None:
    assert matches("severity>=WARNING", severity="ERROR")
    assert matches("severity>=WARNING", severity="WARNING")
    assert not matches("severity>=WARNING", severity="INFO"), "INFO sorts after ERROR as text"
    assert matches("severity=critical", severity="CRITICAL")
    with pytest.raises(QueryError, match="no severity"):
        matches("severity>=LOUD")


def test_has_is_a_case_insensitive_substring_and_star_is_presence() -> None:
    assert matches(
        'jsonPayload.message:"NOT PROCESSED"', message="slot ended with items not processed"
    )
    assert not matches('jsonPayload.message:"gone"', message="slot ended")
    assert matches("jsonPayload.unfinished:*", unfinished=False)
    assert not matches("jsonPayload.unfinished:*")
    assert not matches('jsonPayload.x:"*"', x="a"), "a quoted star is a star"


def test_nested_fields_and_arrays() -> None:
    assert matches("jsonPayload.stats.errors>0", stats={"errors": 2.0})
    assert matches('jsonPayload.tags="b"', tags=["a", "b"]), "any element"
    assert not matches('jsonPayload.stats="x"', stats={"errors": 2.0}), "an object is no value"
    stored = request_entry(500, RUN)
    assert Query("httpRequest.status>=500").matches(stored)
    assert Query('resource.labels.service_name="slotwork-run"').matches(stored)


# ---------------------------------------------------------------------------
# Boolean structure
# ---------------------------------------------------------------------------


def test_or_binds_tighter_than_and() -> None:
    # Cloud Logging: NOT first, then OR, then AND; a AND b OR c is a AND (b OR c).
    text = "jsonPayload.a=1 AND jsonPayload.b=1 OR jsonPayload.c=1"
    assert matches(text, a=1, c=1)
    assert not matches(text, b=1, c=1), "under AND-before-OR this would match"
    assert matches("(jsonPayload.a=1 AND jsonPayload.b=1) OR jsonPayload.c=1", c=1)


def test_not_binds_tightest_and_adjacent_terms_are_anded() -> None:
    assert not matches("NOT jsonPayload.a=1 OR jsonPayload.b=1", a=1, b=2)
    assert matches("NOT (jsonPayload.a=1 AND jsonPayload.b=1)", a=1, b=2)
    assert matches("jsonPayload.a=1 jsonPayload.b=2", a=1, b=2)
    assert not matches("jsonPayload.a=1 jsonPayload.b=2", a=1, b=3)


def test_comparisons_lists_every_field_read() -> None:
    query = Query('resource.type="x" AND (jsonPayload.a=1 OR NOT jsonPayload.b:*)')
    assert [c.field for c in query.comparisons()] == [
        "resource.type",
        "jsonPayload.a",
        "jsonPayload.b",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ('"unfinished"', "field name"),
        ("unfinished", "free-text"),
        ('jsonPayload.a!="x"', "'!='"),
        ('jsonPayload.a=~"x"', "'=~'"),
        ('log_id("run.googleapis.com/requests")', "."),
        ("jsonPayload.a=1 AND", "ends too early"),
        ("(jsonPayload.a=1", "ends too early"),
        ("jsonPayload.a=1)", "unexpected"),
        ("jsonPayload..a=1", "bad field name"),
    ],
)
def test_what_is_not_supported_is_refused(text: str, message: str) -> None:
    with pytest.raises(QueryError, match=message):
        Query(text)


# ---------------------------------------------------------------------------
# Extractors
# ---------------------------------------------------------------------------


def test_extract_gives_the_value_as_text() -> None:
    stored = entry(process="p", shard=0, lag=-3600.0, ratio=0.5, unfinished=True)
    assert Extractor.parse("EXTRACT(jsonPayload.process)").label(stored) == "p"
    assert Extractor.parse("EXTRACT(jsonPayload.shard)").label(stored) == "0"
    assert Extractor.parse("EXTRACT(jsonPayload.lag)").label(stored) == "-3600"
    assert Extractor.parse("EXTRACT(jsonPayload.ratio)").number(stored) == 0.5
    assert Extractor.parse("EXTRACT(jsonPayload.unfinished)").label(stored) == "true"
    assert Extractor.parse("EXTRACT(jsonPayload.missing)").label(stored) is None
    assert Extractor.parse("EXTRACT(jsonPayload.process)").number(stored) is None
    assert Extractor.parse("EXTRACT(httpRequest.status)").label(request_entry(503, RUN)) == "503"


def test_regexp_extract_takes_its_one_group() -> None:
    stored = entry(reason="failed in 3 slots in a row")
    extractor = Extractor.parse(r'REGEXP_EXTRACT(jsonPayload.reason, "in (\\d+) slots")')
    assert extractor.label(stored) == "3" and extractor.number(stored) == 3.0
    assert extractor.label(entry(reason="other")) is None
    with pytest.raises(QueryError, match="exactly one group"):
        Extractor.parse('REGEXP_EXTRACT(jsonPayload.reason, "in \\\\d+")')
    with pytest.raises(QueryError, match="not an extractor"):
        Extractor.parse("jsonPayload.reason")
