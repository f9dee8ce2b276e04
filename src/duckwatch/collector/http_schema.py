"""The OpenAPI 3.0 document of the HTTP collector, written by hand so it says exactly what is accepted."""

from __future__ import annotations

from typing import Any

from duckwatch.collector.roles import Roles

MODEL_PATTERN = "^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$"
_MULTI = ("scores", "segments", "sensitive", "values", "categorical", "ignore")


def _row() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "One row: column name -> value. Conventional names (id, ts, score, label, ...) "
        "are recognised; any other column is a feature. A one-row body cannot have a column named "
        "'rows' (send it inside a batch).",
        "minProperties": 1,
        "additionalProperties": True,
        "example": {"id": "r1", "ts": "2026-01-31T12:00:00Z", "income": 52000.0, "score": 0.71},
    }


def _roles() -> dict[str, Any]:
    names = [f for f in Roles.__dataclass_fields__]
    props: dict[str, Any] = {}
    for name in names:
        one = {"type": "string", "minLength": 1}
        props[name] = (
            {"oneOf": [one, {"type": "array", "items": one}], "nullable": True}
            if name in _MULTI
            else {**one, "nullable": True}
        )
    return {
        "type": "object",
        "description": "Which column plays which part (remembered per model); null: none given.",
        "nullable": True,
        "properties": props,
        "additionalProperties": False,
        "example": {"id": "request_id", "timestamp": "ts", "scores": ["p_default"]},
    }


def _batch(with_version: bool) -> dict[str, Any]:
    props: dict[str, Any] = {
        "rows": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Row"}},
        "roles": {"$ref": "#/components/schemas/Roles"},
    }
    if with_version:
        label = {"type": "string", "maxLength": 100, "pattern": "^[^\\x00-\\x1f/\\\\]*$", "nullable": True}
        props["version"] = label
        props["experiment"] = label
    return {"type": "object", "required": ["rows"], "properties": props, "additionalProperties": False}


def _body(batch_ref: str) -> dict[str, Any]:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": batch_ref},
                        {"allOf": [{"$ref": "#/components/schemas/Row"}, {"not": {"required": ["rows"]}}]},
                        {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Row"}},
                    ]
                }
            }
        },
    }


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _post(summary: str, batch_ref: str, max_body_bytes: int) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "security": [{"bearer": []}],
        "parameters": [
            {
                "name": "model",
                "in": "path",
                "required": True,
                "schema": {"type": "string", "pattern": MODEL_PATTERN},
            },
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "description": (
                    "One key per batch, reused on its retries: scoped to (token, model, stream) and "
                    "remembered 7 days; the same key and body are stored once and answered again, "
                    "the same key with another body answers 422."
                ),
                "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[!-~]+$"},
            },
        ],
        "requestBody": _body(batch_ref),
        "responses": {
            "200": {
                "description": "Every row is durable: landed, or quarantined with a reason (e.g. a value "
                "or column name holding a lone UTF-16 surrogate escape, which is not valid Unicode).",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Result"}}},
            },
            "400": _error("Malformed request: invalid JSON, model name or Idempotency-Key."),
            "401": _error(
                "Missing or wrong bearer token: send 'Authorization: Bearer <token>' (the token is in "
                "the data dir's collector.token unless the collector was given one)."
            ),
            "403": _error(
                "A write from a web page of another origin (an Origin header the collector does not trust)."
            ),
            "415": _error("The body was not sent with 'Content-Type: application/json'."),
            "421": _error("The Host header names a host this collector does not answer to."),
            "409": _error("A request with the same Idempotency-Key is still being written; retry shortly."),
            "413": _error(f"Body larger than {max_body_bytes} bytes."),
            "422": _error(
                "JSON that is not a row or a batch (e.g. rows that are not objects), a version, "
                "experiment or role that is not valid Unicode (error: invalid_text), or an "
                "Idempotency-Key already used with a different body (error: idempotency_key_reused)."
            ),
            "503": _error("Storage unavailable; retry later with the same Idempotency-Key."),
        },
    }
    return op


def _get(summary: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "summary": summary,
        "security": [],
        "responses": {
            "200": {"description": description, "content": {"application/json": {"schema": schema}}},
            "421": _error("The Host header names a host this collector does not answer to."),
        },
    }


def build_schema(max_body_bytes: int) -> dict[str, Any]:
    """The OpenAPI document: writes need the bearer token, reads do not."""
    count = {"type": "integer", "minimum": 0}
    doc: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {
            "title": "duckwatch collector",
            "version": "1",
            "description": "Append predictions and outcomes. A 2xx answer means the rows are durable.",
        },
        "paths": {
            "/v1/models/{model}/predictions": {
                "post": _post("Log predictions", "#/components/schemas/PredictionBatch", max_body_bytes)
            },
            "/v1/models/{model}/outcomes": {
                "post": _post(
                    "Log outcomes (ground truth, joined on id)",
                    "#/components/schemas/OutcomeBatch",
                    max_body_bytes,
                )
            },
            "/healthz": {
                "get": _get(
                    "Liveness and collector counters", "Alive.", {"$ref": "#/components/schemas/Health"}
                )
            },
            "/openapi.json": {"get": _get("This document", "The OpenAPI document.", {"type": "object"})},
        },
        "components": {
            "schemas": {
                "Row": _row(),
                "Roles": _roles(),
                "PredictionBatch": _batch(with_version=True),
                "OutcomeBatch": _batch(with_version=False),
                "Result": {
                    "type": "object",
                    "required": ["accepted", "landed", "quarantined", "reasons"],
                    "properties": {
                        "accepted": count,
                        "landed": count,
                        "quarantined": count,
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "idempotency_key": {"type": "string", "nullable": True},
                        "replayed": {
                            "type": "boolean",
                            "description": "true: this key and body were answered before; nothing was written again",
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "detail"],
                    "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
                },
                "Health": {
                    "type": "object",
                    "required": ["status"],
                    "properties": {
                        "status": {"type": "string", "enum": ["ok"]},
                        "accepted": count,
                        "landed": count,
                        "quarantined": count,
                        "refused": count,
                        "flush_errors": count,
                    },
                },
            }
        },
    }
    doc["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return doc
