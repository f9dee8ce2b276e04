"""Idempotency keys and a fresh server's first requests: real servers, real files, real job ticks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import duckdb
import httpx
import pandas as pd
import pytest

from duckwatch import Collector
from duckwatch.collector._prepare import batch_fingerprint
from duckwatch.collector.http import idempotency_scope
from duckwatch.config import DataDir
from duckwatch.convert import to_arrow
from duckwatch.errors import KeyConflictError
from duckwatch.jobs.tick import run_tick
from duckwatch.store.idempotency import KeyLedger
from duckwatch.store.landing_copy import seal_new
from tests.collector.test_http import AUTH, TOKEN, serve

PATH = "/v1/models/m/predictions"


def _ids(data: DataDir, model: str = "m") -> list[str]:
    """The prediction ids the warehouse holds for ``model`` (after a tick; the job is not running)."""
    con = duckdb.connect(str(data.warehouse), read_only=True)
    try:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT view_name FROM duckdb_views() WHERE view_name LIKE 'raw_%'"
            ).fetchall()
        ]
        key = next(int(t.split("_")[1]) for t in tables if t.endswith("_predictions"))
        return sorted(r[0] for r in con.execute(f"SELECT _id FROM raw_{key}_predictions").fetchall())
    finally:
        con.close()


def _tick(data: DataDir) -> None:
    report = run_tick(data, notify=False, compute=lambda *_args: 0)
    assert report.errors == []


def _row(i: str, x: float) -> dict[str, Any]:
    return {"id": i, "ts": "2026-01-01T00:00:00Z", "x": x}


def test_a_reused_key_with_another_body_is_refused_and_loses_nothing(data_dir: DataDir) -> None:
    first = {"rows": [_row("a1", 1.0), _row("a2", 2.0)]}
    other = {"rows": [_row("b1", 3.0)]}
    key = {"Idempotency-Key": "k1"}
    with serve(data_dir) as base, httpx.Client(base_url=base, timeout=30, headers=AUTH) as c:
        r = c.post(PATH, json=first, headers=key)
        assert r.status_code == 200 and r.json()["landed"] == 2 and r.json()["replayed"] is False
        r = c.post(PATH, json=other, headers=key)
        assert r.status_code == 422, r.text
        assert r.json()["error"] == "idempotency_key_reused" and "new key" in r.json()["detail"]
        # The same body again (columns in another order) answers as the first time, writing nothing.
        again = {"rows": [{"x": 1.0, "id": "a1", "ts": "2026-01-01T00:00:00Z"}, _row("a2", 2.0)]}
        r = c.post(PATH, json=again, headers=key)
        assert r.status_code == 200 and r.json()["replayed"] is True and r.json()["landed"] == 2
        assert len(list((data_dir.landing / "predictions" / "m").glob("*.parquet"))) == 1
        _tick(data_dir)
        # After a tick the key is still remembered: another body is refused, not dropped silently.
        r = c.post(PATH, json={"rows": [_row("c1", 4.0)]}, headers=key)
        assert r.status_code == 422
        r = c.post(PATH, json=first, headers=key)
        assert r.status_code == 200 and r.json()["replayed"] is True
        # A key is scoped to its model and stream: the same key elsewhere is another batch.
        r = c.post("/v1/models/m/outcomes", json={"rows": [{"id": "a1", "label": 1}]}, headers=key)
        assert r.status_code == 200 and r.json()["replayed"] is False
    _tick(data_dir)
    assert _ids(data_dir) == ["a1", "a2"]


def test_keys_are_scoped_by_token(data_dir: DataDir) -> None:
    key = {"Idempotency-Key": "nightly-1"}
    for token, row in (("token-a", _row("a", 1.0)), ("token-b", _row("b", 2.0))):
        auth = {"Authorization": f"Bearer {token}", **key}
        with serve(data_dir, token=token) as base:
            r = httpx.post(base + PATH, json={"rows": [row]}, headers=auth, timeout=30)
            assert r.status_code == 200 and r.json()["replayed"] is False, r.text
    _tick(data_dir)
    assert _ids(data_dir) == ["a", "b"]
    ledger = (data_dir.root / "idempotency.sqlite").read_bytes()
    assert b"token-a" not in ledger and b"token-b" not in ledger


def test_a_key_in_flight_answers_409_and_a_dead_claim_is_taken_over(data_dir: DataDir) -> None:
    rows = [_row("f1", 1.0)]
    fingerprint = batch_fingerprint(to_arrow(rows), "", "", {})
    ledger = KeyLedger(data_dir.root)
    ledger.claim(
        idempotency_scope(TOKEN), "m", "predictions", "busy", fingerprint
    )  # another request is writing it
    ledger.claim(idempotency_scope(TOKEN), "m", "predictions", "dead", fingerprint, now=time.time() - 120)
    with serve(data_dir) as base, httpx.Client(base_url=base, timeout=30, headers=AUTH) as c:
        r = c.post(PATH, json={"rows": rows}, headers={"Idempotency-Key": "busy"})
        assert r.status_code == 409 and r.json()["error"] == "request_in_flight"
        assert r.headers["retry-after"] == "1"
        # Another body under the in-flight key is still a conflict, not a wait.
        r = c.post(PATH, json={"rows": [_row("f2", 2.0)]}, headers={"Idempotency-Key": "busy"})
        assert r.status_code == 422
        # A claim whose lease ran out (its process died) is taken over by the same body.
        r = c.post(PATH, json={"rows": rows}, headers={"Idempotency-Key": "dead"})
        assert r.status_code == 200 and r.json()["landed"] == 1
    _tick(data_dir)
    assert _ids(data_dir) == ["f1"]


def test_an_expired_key_names_a_new_batch_which_lands(data_dir: DataDir) -> None:
    key = {"Idempotency-Key": "k"}
    with serve(data_dir, idempotency_ttl_days=1e-9) as base:  # every key is forgotten at once
        r = httpx.post(base + PATH, json={"rows": [_row("old", 1.0)]}, headers=key | AUTH, timeout=30)
        assert r.status_code == 200
        _tick(data_dir)
        # The forgotten key reused for new rows after the first batch was ingested: they land too,
        # never deduplicated away as the first batch's retry.
        r = httpx.post(base + PATH, json={"rows": [_row("new", 2.0)]}, headers=key | AUTH, timeout=30)
        assert r.status_code == 200 and r.json()["replayed"] is False
    _tick(data_dir)
    assert _ids(data_dir) == ["new", "old"]


def test_sdk_keys_replay_refuse_and_never_overwrite(data_dir: DataDir) -> None:
    df = pd.DataFrame(
        {"id": ["s1", "s2"], "ts": pd.to_datetime(["2026-01-01"] * 2, utc=True), "x": [1.0, 2.0]}
    )
    with Collector(data_dir.root) as c:
        first = c.log_predictions("m", df, idempotency_key="job-7")
        assert (first.landed, first.replayed) == (2, False)
        again = c.log_predictions("m", df.copy(), idempotency_key="job-7")
        assert (again.landed, again.replayed) == (2, True)
        with pytest.raises(KeyConflictError, match="different batch"):
            c.log_predictions("m", df.assign(x=[9.0, 9.0]), idempotency_key="job-7")
        # The same rows under another version are another batch.
        with pytest.raises(KeyConflictError):
            c.log_predictions("m", df, version="v2", idempotency_key="job-7")
    assert c.stats.accepted == 2
    _tick(data_dir)
    assert _ids(data_dir) == ["s1", "s2"]


def test_a_sealed_file_is_never_replaced(tmp_path: Path) -> None:
    final, tmp = tmp_path / "b.parquet", tmp_path / ".tmp-b.parquet"
    final.write_bytes(b"first")
    tmp.write_bytes(b"second")
    assert seal_new(tmp, final) is False
    assert final.read_bytes() == b"first" and not tmp.exists()
    tmp.write_bytes(b"third")
    assert seal_new(tmp, tmp_path / "c.parquet") is True and not tmp.exists()


def test_a_fresh_server_answers_its_first_concurrent_requests(tmp_path: Path) -> None:
    """A new `duckwatch collect` process gets 6 requests at once: no 500 while libraries import."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    data = tmp_path / "data"
    env = {**os.environ, "NO_PROXY": "127.0.0.1"}
    cmd = [sys.executable, "-m", "duckwatch.cli", "collect", "--port", str(port), "--data-dir", str(data)]
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "collector did not start"
                time.sleep(0.05)
        # No token given: the first start generated one into the data dir, for clients to read.
        auth = {"Authorization": f"Bearer {(data / 'collector.token').read_text().strip()}"}
        answers: list[int] = []
        start = threading.Barrier(6)

        def post(i: int) -> None:
            start.wait()
            rows = [{"id": f"{i}-{j}", "x": float(j), "score": 0.3} for j in range(3)]
            answers.append(httpx.post(base + PATH, json={"rows": rows}, headers=auth, timeout=60).status_code)

        threads = [threading.Thread(target=post, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers == [200] * 6
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=30)
    assert "Traceback" not in err, err
