"""Property-based fuzzing of the real ``api`` server, driven by its /openapi.json.

schemathesis generates requests from the document (valid ones, and invalid
ones that break it) and checks every answer: no 5xx, only documented
statuses, the documented content type and body schema, and every error in
the ``{"error": {"code", "status", "message"}}`` shape.

CI runs a bounded number of examples per operation; a longer run:

    SLOTWORK_FUZZ_EXAMPLES=1000 .venv/bin/python -m pytest tests/test_fuzz_api.py -q
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis.internal.conjecture import utils as conjecture_utils
from schemathesis import DataGenerationMethod
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from slotwork_local.emulator import Emulator

from test_api_server import api_server, server_env

# Per operation and generation method: 13 operations x 2 x 12 ~ 300 requests in CI.
EXAMPLES = int(os.environ.get("SLOTWORK_FUZZ_EXAMPLES", "12"))
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
)


@pytest.fixture(scope="module")
def api_url(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not hasattr(conjecture_utils.many, "more"):
        # hypothesis-jsonschema 0.23 (schemathesis 3.x) calls many.more(), gone in 6.170.10.
        pytest.fail("hypothesis >= 6.170.10 breaks schemathesis 3.x: install hypothesis<6.170.10")
    emulator.reset()
    env = server_env(emulator, "fuzz")
    with api_server(env) as url:
        yield url


@pytest.fixture
def api_schema(api_url: str) -> Any:
    return schemathesis.from_uri(f"{api_url}/openapi.json", base_url=api_url)


schema = schemathesis.from_pytest_fixture(
    "api_schema",
    data_generation_methods=[DataGenerationMethod.positive, DataGenerationMethod.negative],
)


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_api_answers_every_generated_request_as_documented(case: Any) -> None:
    response = case.call(timeout=30)
    case.validate_response(response, checks=CHECKS)
    if response.status_code >= 400:
        error = response.json()["error"]
        assert error["code"] == response.status_code
        assert error["status"] and error["message"]
