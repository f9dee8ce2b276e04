"""Schemathesis fuzzes every operation of the real collector's /openapi.json: no answer is a 5xx."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
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
    from schemathesis.checks import negative_data_rejection, not_a_server_error

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
            # Negative cases must also be refused: a 2xx there means the document and the server disagree.
            checks = [not_a_server_error] + ([negative_data_rejection] if mode == "negative" else [])
            case.validate_response(response, checks=checks)

        check()
    assert all(not any(code >= 500 for code in seen) for seen in statuses.values()), statuses
    if mode == "positive":  # valid requests are stored, not only refused
        assert statuses["POST /v1/models/{model}/predictions"][200] > 0, statuses
        assert statuses["POST /v1/models/{model}/outcomes"][200] > 0, statuses


def _nullable_as_json_schema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable: true`` as JSON Schema (``anyOf`` the schema and null)."""
    if isinstance(node, list):
        return [_nullable_as_json_schema(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {k: _nullable_as_json_schema(v) for k, v in node.items() if k != "nullable"}
    return {"anyOf": [out, {"type": "null"}]} if node.get("nullable") else out


def test_the_document_admits_every_batch_the_collector_stores(data_dir: DataDir) -> None:
    import jsonschema

    from duckwatch.collector.http import openapi_schema

    root = _nullable_as_json_schema(openapi_schema())
    validator = jsonschema.Draft202012Validator({**root, "$ref": "#/components/schemas/PredictionBatch"})
    rows = [{"id": "a", "score": 0.5}]
    bodies = [
        {"rows": rows, "roles": None},
        {"rows": rows, "version": None, "experiment": None},
        {"rows": rows, "roles": {"id": "id", "scores": ["score"], "label": None}},
    ]
    with serve(data_dir) as base, httpx.Client(base_url=base, headers=AUTH, timeout=30) as c:
        for body in bodies:
            assert c.post("/v1/models/m/predictions", json=body).status_code == 200
            assert list(validator.iter_errors(body)) == [], body
