"""The part of the Cloud Logging query language slotwork's log-based metrics use,
evaluated offline against log entries shaped as Cloud Logging stores them.

The metrics (``terraform/modules/slotwork/metrics.json``) are Cloud Logging
filters and extractors; Cloud Logging itself cannot run here, so the tests
evaluate them with this module against entries built from the engine's real
log lines. Supported, with Cloud Logging's meaning:

- comparisons ``FIELD OP VALUE`` with ``=``, ``>``, ``>=``, ``<``, ``<=`` and
  ``:`` (has: a case-insensitive substring of a string, ``:*`` = the field is
  present); VALUE is a quoted string or a bare word (a number, ``true``,
  ``false``, a severity name);
- ``AND`` (also implied between adjacent terms), ``OR``, ``NOT`` and
  parentheses, with Cloud Logging's precedence: NOT binds tightest, then OR,
  then AND, so ``a AND b OR c`` is ``a AND (b OR c)``;
- ``severity`` compared by level (``severity>=WARNING``), not alphabetically;
- ``EXTRACT(FIELD)`` and ``REGEXP_EXTRACT(FIELD, "re")``, the extractors of
  labels and of a distribution's value.

Assumptions where the documentation leaves room (each errs on the strict
side, so a filter that passes here does not rely on leniency): a missing
field or a JSON null makes every comparison false (so ``NOT f=x`` holds);
``=`` on strings is exact and case-sensitive; a number compares numerically
only with a numeric literal; a boolean equals only ``true`` or ``false``; an
array matches when any element does. Anything else (``!=``, regular
expression operators, functions such as ``log_id()``, free-text terms) is
refused rather than guessed.

``stdout_entry`` wraps one line the way Cloud Run's logging agent stores a
structured line written to stdout; ``request_entry`` builds the request log
entry Cloud Run writes itself for every HTTP request.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

# LogSeverity levels (google.logging.type.LogSeverity).
SEVERITIES = {
    "DEFAULT": 0,
    "DEBUG": 100,
    "INFO": 200,
    "NOTICE": 300,
    "WARNING": 400,
    "ERROR": 500,
    "CRITICAL": 600,
    "ALERT": 700,
    "EMERGENCY": 800,
}

# Fields of a structured line that the logging agent moves out of jsonPayload
# (Cloud Logging "structured logging: special JSON fields"): the ones mapped to
# a LogEntry field, and the rest, which it drops. ``message`` is not one of
# them: it stays in jsonPayload (and is the entry's summary line).
_MAPPED_FIELDS = {
    "severity": "severity",
    "httpRequest": "httpRequest",
    "logging.googleapis.com/labels": "labels",
    "logging.googleapis.com/operation": "operation",
    "logging.googleapis.com/sourceLocation": "sourceLocation",
    "logging.googleapis.com/insertId": "insertId",
    "logging.googleapis.com/spanId": "spanId",
    "logging.googleapis.com/trace": "trace",
    "logging.googleapis.com/trace_sampled": "traceSampled",
}
_TIME_FIELDS = ("time", "timestamp", "timestampSeconds", "timestampNanos")

STDOUT_LOG = "run.googleapis.com%2Fstdout"
REQUESTS_LOG = "run.googleapis.com%2Frequests"


class QueryError(ValueError):
    """The text is not a query (or uses a part of the language not supported here)."""


# ---------------------------------------------------------------------------
# Entries
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Resource:
    """The monitored resource of a Cloud Run revision (2nd-gen functions run on one)."""

    project: str
    service: str
    revision: str = ""
    location: str = "europe-west1"

    def as_dict(self) -> dict[str, Any]:
        return {
            "type": "cloud_run_revision",
            "labels": {
                "project_id": self.project,
                "service_name": self.service,
                "revision_name": self.revision or f"{self.service}-00001-abc",
                "configuration_name": self.service,
                "location": self.location,
            },
        }


def stdout_entry(line: str, resource: Resource) -> dict[str, Any]:
    """The LogEntry Cloud Logging stores for one JSON line written to stdout."""
    payload = json.loads(line)
    entry: dict[str, Any] = {
        "logName": f"projects/{resource.project}/logs/{STDOUT_LOG}",
        "resource": resource.as_dict(),
        "severity": "DEFAULT",
    }
    if not isinstance(payload, dict):
        entry["textPayload"] = line
        return entry
    for field, target in _MAPPED_FIELDS.items():
        if field in payload:
            entry[target] = payload.pop(field)
    for field in _TIME_FIELDS:
        if field in payload:
            entry["timestamp"] = payload.pop(field)
    entry["severity"] = str(entry["severity"]).upper()
    entry["jsonPayload"] = payload
    return entry


def request_entry(status: int, resource: Resource, path: str = "/") -> dict[str, Any]:
    """The request log entry Cloud Run writes for one HTTP request to ``resource``."""
    severity = "ERROR" if status >= 500 else "WARNING" if status >= 400 else "INFO"
    return {
        "logName": f"projects/{resource.project}/logs/{REQUESTS_LOG}",
        "resource": resource.as_dict(),
        "severity": severity,
        "httpRequest": {
            "requestMethod": "POST",
            "requestUrl": f"https://{resource.service}-123456789.{resource.location}.run.app{path}",
            "status": status,
            "userAgent": "Google-Cloud-Scheduler",
            "latency": "0.250s",
            "protocol": "HTTP/1.1",
        },
        "trace": f"projects/{resource.project}/traces/0123456789abcdef",
    }


_MISSING = object()


def _values(entry: Mapping[str, Any], path: tuple[str, ...]) -> list[Any]:
    """The values at ``path`` (every element when it crosses an array); none if absent or null."""
    found: list[Any] = [entry]
    for name in path:
        step: list[Any] = []
        for value in found:
            if isinstance(value, list):
                value_items: list[Any] = value
            else:
                value_items = [value]
            for item in value_items:
                if isinstance(item, Mapping) and item.get(name, _MISSING) is not _MISSING:
                    step.append(item[name])
        found = step
    flat: list[Any] = []
    for value in found:
        flat.extend(value if isinstance(value, list) else [value])
    return [v for v in flat if v is not None]


def _text(value: Any) -> str:
    """A value as Cloud Logging shows it: integral numbers without a fraction."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and math.isfinite(value):
        return str(int(value))
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True)


def _number(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# ---------------------------------------------------------------------------
# Queries
# ---------------------------------------------------------------------------

_OPERATORS = (">=", "<=", "!=", "=~", "!~", "=", ">", "<", ":")
_SUPPORTED = frozenset({"=", ">", ">=", "<", "<=", ":"})
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<paren>[()])
      | (?P<op>>=|<=|!=|=~|!~|=|>|<|:)
      | "(?P<string>(?:[^"\\]|\\.)*)"
      | (?P<word>[^\s()=<>!:"]+)
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"AND", "OR", "NOT"})


@dataclass(frozen=True)
class _Token:
    kind: str  # paren, op, string, word, keyword
    text: str


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        m = _TOKEN.match(text, position)
        if m is None or m.end() == position:
            raise QueryError(f"cannot read the query at {text[position : position + 20]!r}")
        position = m.end()
        kind = m.lastgroup or ""
        value = m.group(kind)
        if kind == "string":
            value = re.sub(r"\\(.)", r"\1", value)
        elif kind == "word" and value in _KEYWORDS:
            kind = "keyword"
        tokens.append(_Token(kind, value))
    return tokens


class Query:
    """A parsed filter: ``Query(text).matches(entry)``."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._tokens = _tokens(text)
        self._at = 0
        if not self._tokens:
            raise QueryError("an empty query matches everything: not a metric's filter")
        self._root = self._conjunction()
        if self._at != len(self._tokens):
            raise QueryError(f"unexpected {self._tokens[self._at].text!r} in {text!r}")

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """Whether Cloud Logging would select ``entry`` with this filter."""
        return self._root.matches(entry)

    def comparisons(self) -> Iterator[Comparison]:
        """Every comparison of the query, in order (to check which fields it reads)."""
        yield from self._root.comparisons()

    # The grammar, loosest first: AND, then OR, then NOT.

    def _peek(self) -> _Token | None:
        return self._tokens[self._at] if self._at < len(self._tokens) else None

    def _next(self) -> _Token:
        token = self._peek()
        if token is None:
            raise QueryError(f"the query ends too early: {self.text!r}")
        self._at += 1
        return token

    def _starts_term(self, token: _Token | None) -> bool:
        return token is not None and (
            (token.kind == "paren" and token.text == "(")
            or token.kind == "word"
            or (token.kind == "keyword" and token.text == "NOT")
        )

    def _conjunction(self) -> _Node:
        terms = [self._disjunction()]
        while True:
            token = self._peek()
            if token is not None and token.kind == "keyword" and token.text == "AND":
                self._at += 1
            elif not self._starts_term(token):
                break
            terms.append(self._disjunction())
        return terms[0] if len(terms) == 1 else _All(tuple(terms))

    def _disjunction(self) -> _Node:
        terms = [self._negation()]
        while (
            (token := self._peek()) is not None and token.kind == "keyword" and token.text == "OR"
        ):
            self._at += 1
            terms.append(self._negation())
        return terms[0] if len(terms) == 1 else _Any(tuple(terms))

    def _negation(self) -> _Node:
        token = self._peek()
        if token is not None and token.kind == "keyword" and token.text == "NOT":
            self._at += 1
            return _Not(self._negation())
        return self._atom()

    def _atom(self) -> _Node:
        token = self._next()
        if token.kind == "paren" and token.text == "(":
            inner = self._conjunction()
            closing = self._next()
            if closing.text != ")":
                raise QueryError(f"expected ')' in {self.text!r}")
            return inner
        if token.kind != "word":
            raise QueryError(f"expected a field name, found {token.text!r} in {self.text!r}")
        operator = self._peek()
        if operator is None or operator.kind != "op":
            raise QueryError(f"free-text search term {token.text!r}: not supported here")
        self._at += 1
        if operator.text not in _SUPPORTED:
            raise QueryError(f"operator {operator.text!r}: not supported here")
        value = self._next()
        if value.kind not in ("string", "word"):
            raise QueryError(f"expected a value after {token.text}{operator.text}")
        return Comparison(_path(token.text), operator.text, value.text, value.kind == "string")


def _path(text: str) -> tuple[str, ...]:
    parts = tuple(text.split("."))
    if not all(parts):
        raise QueryError(f"bad field name {text!r}")
    return parts


class _Node:
    def matches(self, entry: Mapping[str, Any]) -> bool:
        raise NotImplementedError

    def comparisons(self) -> Iterator[Comparison]:
        raise NotImplementedError


@dataclass(frozen=True)
class _All(_Node):
    terms: tuple[_Node, ...]

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return all(t.matches(entry) for t in self.terms)

    def comparisons(self) -> Iterator[Comparison]:
        for term in self.terms:
            yield from term.comparisons()


@dataclass(frozen=True)
class _Any(_Node):
    terms: tuple[_Node, ...]

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return any(t.matches(entry) for t in self.terms)

    def comparisons(self) -> Iterator[Comparison]:
        for term in self.terms:
            yield from term.comparisons()


@dataclass(frozen=True)
class _Not(_Node):
    term: _Node

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return not self.term.matches(entry)

    def comparisons(self) -> Iterator[Comparison]:
        yield from self.term.comparisons()


@dataclass(frozen=True)
class Comparison(_Node):
    """``path operator literal``; ``quoted`` when the literal was a quoted string."""

    path: tuple[str, ...]
    operator: str
    literal: str
    quoted: bool

    @property
    def field(self) -> str:
        return ".".join(self.path)

    def matches(self, entry: Mapping[str, Any]) -> bool:
        return any(self._holds(value) for value in _values(entry, self.path))

    def comparisons(self) -> Iterator[Comparison]:
        yield self

    def _holds(self, value: Any) -> bool:
        op, literal = self.operator, self.literal
        if op == ":":
            return (literal == "*" and not self.quoted) or literal.lower() in _text(value).lower()
        if self.path == ("severity",):
            left, right = SEVERITIES.get(_text(value).upper()), SEVERITIES.get(literal.upper())
            if left is None or right is None:
                raise QueryError(f"severity compared with {literal!r}, which is no severity")
            return _ordered(op, left, right)
        if isinstance(value, bool):
            return op == "=" and literal in ("true", "false") and value == (literal == "true")
        if isinstance(value, int | float):
            number = _number(literal)
            return number is not None and _ordered(op, float(value), number)
        if isinstance(value, str):
            return _ordered(op, value, literal)
        return False  # an object: Cloud Logging compares leaves, not structures


def _ordered(op: str, left: Any, right: Any) -> bool:
    if op == "=":
        return bool(left == right)
    if op == ">":
        return bool(left > right)
    if op == ">=":
        return bool(left >= right)
    if op == "<":
        return bool(left < right)
    return bool(left <= right)


# ---------------------------------------------------------------------------
# Extractors
# ---------------------------------------------------------------------------

_EXTRACTOR = re.compile(
    r'^\s*(?:EXTRACT\((?P<field>[^\s(),"]+)\)'
    r'|REGEXP_EXTRACT\((?P<rfield>[^\s(),"]+),\s*"(?P<regex>(?:[^"\\]|\\.)*)"\))\s*$'
)


@dataclass(frozen=True)
class Extractor:
    """``EXTRACT(field)`` or ``REGEXP_EXTRACT(field, "re")`` of a log-based metric."""

    path: tuple[str, ...]
    regex: re.Pattern[str] | None = None

    @classmethod
    def parse(cls, text: str) -> Extractor:
        m = _EXTRACTOR.match(text)
        if m is None:
            raise QueryError(f"not an extractor: {text!r} (EXTRACT(field) or REGEXP_EXTRACT)")
        if m.group("field"):
            return cls(_path(m.group("field")))
        regex = re.compile(re.sub(r"\\(.)", r"\1", m.group("regex")))
        if regex.groups != 1:
            raise QueryError(f"{text!r}: the regular expression needs exactly one group")
        return cls(_path(m.group("rfield")), regex)

    @property
    def field(self) -> str:
        return ".".join(self.path)

    def label(self, entry: Mapping[str, Any]) -> str | None:
        """The extracted text (a STRING label's value); None when nothing is found,
        where Cloud Logging records the label's default, the empty string."""
        values = _values(entry, self.path)
        if not values:
            return None
        text = _text(values[0])
        if self.regex is None:
            return text
        m = self.regex.search(text)
        return m.group(1) if m else None

    def number(self, entry: Mapping[str, Any]) -> float | None:
        """The extracted value of a distribution; None when Cloud Logging would not
        record one (nothing extracted, or not a number)."""
        text = self.label(entry)
        return None if text is None else _number(text)
