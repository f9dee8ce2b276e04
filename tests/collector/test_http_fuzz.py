"""Schemathesis fuzzes every operation of the real collector's /openapi.json: no answer is a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from duckwatch.config import DataDir
from tests.collector.test_http import AUTH, serve

schemathesis = pytest.importorskip("schemathesis")

EXAMPLES = 40  # per operation and mode: about 20 s in all on this machine
SEED = 20261207


@pytest.fixture
def url(data_dir: DataDir) -> Iterator[str]:
    with serve(data_dir) as base:
        yield base


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_schemathesis_finds_no_server_error_in_any_operation(url: str, mode: str) -> None:
    from hypothesis import HealthCheck, given, seed, settings
    from schemathesis import GenerationMode
    from schemathesis.checks import not_a_server_error

    schema = schemathesis.openapi.from_url(f"{url}/openapi.json")
    ops = [result.ok() for result in schema.get_all_operations()]
    labels = sorted(op.label for op in ops)
    # Every operation the document declares, but the document itself (schemathesis just fetched it).
    declared = {f"{m.upper()} {p}" for p, item in schema.raw_schema["paths"].items() for m in item}
    assert labels == sorted(declared - {"GET /openapi.json"}) and len(labels) == 3
    statuses: dict[str, Counter[int]] = {label: Counter() for label in labels}
    for op in ops:
        takes_input = {"parameters", "requestBody"} & set(schema.raw_schema["paths"][op.path][op.method])
        if mode == "negative" and not takes_input:
            continue  # GET /healthz takes nothing: there is no invalid input to make
        # With the token, so that generated bodies get past the guard to the parser and the store.
        strategy = op.as_strategy(generation_mode=GenerationMode(mode), headers=dict(AUTH))

        @seed(SEED)
        @settings(
            max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck)
        )
        @given(case=strategy)
        def check(case: Any) -> None:
            response = case.call(base_url=url)
            statuses[op.label][response.status_code] += 1  # noqa: B023  (called right here, in this loop turn)
            case.validate_response(response, checks=[not_a_server_error])

        check()
    assert all(not any(code >= 500 for code in seen) for seen in statuses.values()), statuses
    if mode == "positive":  # valid requests are stored, not only refused
        assert statuses["POST /v1/models/{model}/predictions"][200] > 0, statuses
        assert statuses["POST /v1/models/{model}/outcomes"][200] > 0, statuses
