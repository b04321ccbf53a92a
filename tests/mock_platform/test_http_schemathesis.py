"""schemathesis against the live /openapi.json: generated (valid and invalid) requests for every operation, sent
with a registered device's credentials to a real uvicorn server. No answer is a 5xx; every answer is one the
document declares, with the declared content type and a body that matches its schema."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from santong.mock_platform import PlatformConfig
from santong.mock_platform._openapi import openapi_document
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from test_http import Api, HttpDevice, start_platform

MAX_EXAMPLES = 20
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


class Live:
    def __init__(self) -> None:
        self.bg = start_platform(PlatformConfig(inspection_token=secrets.token_urlsafe(16)))
        assert self.bg.http_url is not None
        self.url = self.bg.http_url
        self.api = Api(self.url, self.bg.inspection_token)
        self.device: HttpDevice = self.api.new_device()
        self.started = time.monotonic()

    def stop(self) -> None:
        self.api.close()
        self.bg.stop()


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    server = Live()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(live: Live) -> Any:
    return schemathesis.openapi.from_url(f"{live.url}/openapi.json")


def _operations(*, with_input: bool = False) -> list[str]:
    """Labels ("METHOD /path") of the document's operations, known without a server; with_input: only those
    that take parameters or a body (the others have no invalid request to generate)."""
    doc = openapi_document()
    return [
        f"{m.upper()} {path}"
        for path, item in doc["paths"].items()
        for m, op in item.items()
        if not with_input or op.get("parameters") or op.get("requestBody")
    ]


CASES = [(label, GenerationMode.POSITIVE) for label in _operations()] + [
    (label, GenerationMode.NEGATIVE) for label in _operations(with_input=True)
]


def _run(
    api_schema: Any, label: str, mode: GenerationMode, examples: int, test: Callable[[Any], None]
) -> None:
    op = api_schema.find_operation_by_label(label)
    assert op is not None, label

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=examples,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure at once
    )
    def run(case: Any) -> None:
        query = case.query if isinstance(case.query, dict) else None
        if query and "wait" in query:  # a valid long poll just waits (up to 60 s): keep the test short
            try:
                if 0.05 < float(str(query["wait"])) <= 60:  # out-of-range values stay: they must get 400
                    query["wait"] = 0.05
            except ValueError:
                pass
        test(case)

    run()


@pytest.mark.parametrize(("label", "mode"), CASES, ids=[f"{m.value}-{label}" for label, m in CASES])
def test_no_5xx_and_answers_as_documented(
    api_schema: Any, live: Live, label: str, mode: GenerationMode
) -> None:
    """Generated requests with the device's credentials: never a 5xx, always a documented answer."""

    def check(case: Any) -> None:
        response = case.call_and_validate(headers=live.device.headers, checks=CHECKS, timeout=15)
        assert response.status_code < 500

    _run(api_schema, label, mode, MAX_EXAMPLES, check)


@pytest.mark.parametrize("label", _operations())
def test_no_5xx_without_credentials(api_schema: Any, label: str) -> None:
    """Generated requests with whatever credentials schemathesis makes up: 4xx, never 5xx."""

    def check(case: Any) -> None:
        response = case.call(timeout=15)
        assert response.status_code < 500, response.text[:500]

    _run(api_schema, label, GenerationMode.POSITIVE, 5, check)
