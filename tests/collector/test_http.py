"""HTTP collector: a real uvicorn server on 127.0.0.1, real requests, then a real job tick."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from duckwatch.collector.http import create_app
from duckwatch.config import DataDir
from duckwatch.jobs.tick import TickReport, run_tick
from duckwatch.readmodels.views import models_overview, quarantine_rows

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@contextlib.contextmanager
def serve(
    data: DataDir, token: str | None = TOKEN, max_body_bytes: int = 10_000_000, **options: Any
) -> Iterator[str]:
    """Run the collector in a uvicorn server on a free 127.0.0.1 port; yield its base URL.

    Requests need ``AUTH`` (token None: the data dir's token file, generated at the first start).
    """
    app = create_app(data.root, token=token, max_body_bytes=max_body_bytes, **options)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, ws="none", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@pytest.fixture
def url(data_dir: DataDir) -> Iterator[str]:
    with serve(data_dir) as base:
        yield base


@pytest.fixture
def client(url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=30, headers=AUTH) as c:
        yield c


def _tick(data: DataDir) -> TickReport:
    """Ingest and publish; metric computation is another module's concern (tested there)."""
    report = run_tick(data, notify=False, compute=lambda *_args: 0)
    assert report.errors == []
    return report


def _overview(data: DataDir) -> dict[str, dict[str, Any]]:
    return {r["model"]: r for r in models_overview(data)}


def _rows(n: int, prefix: str = "r") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{prefix}{i}",
            "ts": f"2026-01-01T{i % 24:02d}:00:00Z",
            "income": 1000.0 + i,
            "region": ["n", "s"][i % 2],
            "score": (i % 10) / 10,
        }
        for i in range(n)
    ]


def test_single_and_batch_round_trip(client: httpx.Client, data_dir: DataDir) -> None:
    one = client.post("/v1/models/credit/predictions", json=_rows(1, "single")[0])
    assert one.status_code == 200, one.text
    assert one.json() | {"idempotency_key": None} == {
        "accepted": 1,
        "landed": 1,
        "quarantined": 0,
        "reasons": [],
        "idempotency_key": None,
        "replayed": False,
    }
    batch = client.post(
        "/v1/models/credit/predictions",
        json={"rows": _rows(200), "version": "v2", "experiment": "champion", "roles": {"id": "id"}},
    )
    assert batch.status_code == 200, batch.text
    assert batch.json()["landed"] == 200
    labels = [{"id": f"r{i}", "label": i % 2} for i in range(50)]
    out = client.post("/v1/models/credit/outcomes", json={"rows": labels})
    assert out.status_code == 200 and out.json()["landed"] == 50
    # Answered 2xx means durable: the rows are in sealed files before the job even runs.
    assert list((data_dir.landing / "predictions" / "credit").glob("*.parquet"))
    _tick(data_dir)
    row = _overview(data_dir)["credit"]
    assert (row["predictions"], row["outcomes"], row["pending"]) == (201, 50, 0)
    assert "v2" in row["versions"]


def test_idempotency_key_stores_a_retried_request_once(client: httpx.Client, data_dir: DataDir) -> None:
    body = {"rows": _rows(30)}
    for _ in range(2):
        r = client.post("/v1/models/m/predictions", json=body, headers={"Idempotency-Key": "batch-0001"})
        assert r.status_code == 200 and r.json()["landed"] == 30
    _tick(data_dir)
    # The same key again after the job ingested the first copy: still counted once.
    r = client.post("/v1/models/m/predictions", json=body, headers={"Idempotency-Key": "batch-0001"})
    assert r.status_code == 200
    single = {"id": "x1", "score": 0.5}
    for _ in range(3):
        assert client.post(
            "/v1/models/m/predictions", json=single, headers={"Idempotency-Key": "one"}
        ).is_success
    _tick(data_dir)
    assert _overview(data_dir)["m"]["predictions"] == 31


def test_token_is_required_when_configured(data_dir: DataDir) -> None:
    with serve(data_dir, token=TOKEN) as base, httpx.Client(base_url=base) as c:
        path = "/v1/models/m/predictions"
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}):
            r = c.post(path, json={"id": "a", "score": 0.1}, headers=headers)
            assert r.status_code == 401
            assert "Authorization: Bearer" in r.json()["detail"]
            assert r.headers["www-authenticate"].startswith("Bearer")
        ok = c.post(path, json={"id": "a", "score": 0.1}, headers={"Authorization": f"Bearer {TOKEN}"})
        assert ok.status_code == 200 and ok.json()["landed"] == 1
        assert c.get("/healthz").json()["status"] == "ok"


def test_body_too_large_is_refused_while_reading(data_dir: DataDir) -> None:
    with serve(data_dir, max_body_bytes=2_000) as base, httpx.Client(base_url=base, headers=AUTH) as c:
        big = {"rows": _rows(100)}
        r = c.post("/v1/models/m/predictions", json=big)
        assert r.status_code == 413 and "smaller batches" in r.json()["detail"]

        def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer, the limit still holds
            yield b'{"rows": ['
            for i in range(200):
                yield (b"," if i else b"") + b'{"id": "r%d", "score": 0.5}' % i
            yield b"]}"

        r = c.post("/v1/models/m/predictions", content=chunks(), headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        assert c.post("/v1/models/m/predictions", json={"rows": _rows(5)}).status_code == 200


@pytest.mark.parametrize(
    ("path", "content", "status", "needle"),
    [
        ("/v1/models/m/predictions", b'{"id": "a", ', 400, "not valid JSON"),
        ("/v1/models/m/predictions", b"[" * 100_000, 400, "not valid JSON"),
        ("/v1/models/bad name!/predictions", b'{"id": "a"}', 400, "invalid model name"),
        ("/v1/models/..x/predictions", b'{"id": "a"}', 400, "invalid model name"),
        ("/v1/models/m/predictions", b'"just a string"', 422, "JSON object"),
        ("/v1/models/m/predictions", b'{"rows": [1, 2]}', 422, "not an object"),
        ("/v1/models/m/predictions", b'{"rows": []}', 422, "non-empty list"),
        ("/v1/models/m/predictions", b"{}", 422, "no columns"),
        ("/v1/models/m/predictions", b'{"rows": [{"id": "a"}], "row": 1}', 422, "unknown key"),
        ("/v1/models/m/predictions", b'{"rows": [{"id": "a"}], "version": 2}', 422, "must be a string"),
        ("/v1/models/m/predictions", b'{"rows": [{"id": "a"}], "version": "a/b"}', 422, "invalid version"),
        ("/v1/models/m/predictions", b'{"rows": [{"id": "a"}], "roles": {"idd": "a"}}', 422, "unknown role"),
        ("/v1/models/m/predictions", b'{"rows": [{"id": "a"}], "roles": {"id": 3}}', 422, "column name"),
        ("/v1/models/m/outcomes", b'{"rows": [{"id": "a"}], "version": "v1"}', 422, "no version"),
    ],
)
def test_bad_input_gets_a_clear_4xx(
    client: httpx.Client, path: str, content: bytes, status: int, needle: str
) -> None:
    r = client.post(path, content=content, headers={"Content-Type": "application/json"})
    assert r.status_code == status, r.text
    body = r.json()
    assert needle in body["detail"] and body["error"]


def test_out_of_range_epoch_quarantines_the_row_not_the_batch(client: httpx.Client) -> None:
    body = {"rows": [{"id": "a", "ts": 1e300, "score": 0.5}, {"id": "b", "ts": 1.7e9, "score": 0.5}]}
    r = client.post("/v1/models/m/predictions", json=body)
    assert r.status_code == 200, r.text
    assert (r.json()["landed"], r.json()["quarantined"]) == (1, 1)
    assert any("ISO-8601" in reason for reason in r.json()["reasons"])


def test_idempotency_key_must_be_printable_ascii(client: httpx.Client) -> None:
    for key in (b"a b", b"x" * 201, "\u00d7".encode()):
        r = client.post("/v1/models/m/predictions", json={"id": "a"}, headers={"Idempotency-Key": key})
        assert r.status_code == 400 and "Idempotency-Key" in r.json()["detail"]


def test_quarantined_rows_are_reported(client: httpx.Client, data_dir: DataDir) -> None:
    rows = [
        {"id": "a", "ts": "2026-01-01T00:00:00Z", "score": 0.2},
        {"id": "b", "ts": "yesterday-ish", "score": 0.3},
        {"id": "c", "ts": "2026-01-01T01:00:00Z", "score": 4.0},
        {"id": "a", "ts": "2026-01-01T02:00:00Z", "score": 0.4},
    ]
    r = client.post("/v1/models/q/predictions", json={"rows": rows})
    assert r.status_code == 200
    res = r.json()
    assert (res["accepted"], res["landed"], res["quarantined"]) == (4, 1, 3)
    text = " ".join(res["reasons"])
    assert "not a date-time" in text and "probability in [0, 1]" in text and "duplicate id a" in text
    _tick(data_dir)
    assert _overview(data_dir)["q"]["quarantined"] == 3
    assert len(quarantine_rows(data_dir, "q")) == 3


def test_openapi_and_healthz(client: httpx.Client) -> None:
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.0")
    assert {"/v1/models/{model}/predictions", "/v1/models/{model}/outcomes", "/healthz"} <= set(doc["paths"])
    write = doc["paths"]["/v1/models/{model}/predictions"]["post"]
    assert write["security"] == [{"bearer": []}] and {"401", "403", "415", "421"} <= set(write["responses"])
    assert list(write["requestBody"]["content"]) == ["application/json"]
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/v1/models/m/predictions").status_code == 405
