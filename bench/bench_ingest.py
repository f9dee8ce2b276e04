"""Ingest throughput, side by side: SDK bulk (Arrow, pandas) vs raw DuckDB, one-row SDK calls, HTTP.

Run: ``.venv/bin/python bench/bench_ingest.py [--rows 1000000] [--profile]``. Prints a Markdown table
and writes it to ``bench/results_ingest.md``. Each figure is the median of 3 runs.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path
from typing import Any

import duckdb
import httpx
import numpy as np
import pyarrow as pa

from duckwatch import Collector

HERE = Path(__file__).resolve().parent
FEATURES = 20
THREADS = int(os.environ.get("DUCKWATCH_DUCKDB_THREADS", "2"))


def make_table(n: int, seed: int = 1, prefix: str = "r") -> pa.Table:
    """n rows: id, ts, 20 float features, score in [0, 1]."""
    rng = np.random.default_rng(seed)
    cols: dict[str, Any] = {
        "id": pa.array([f"{prefix}{i}" for i in range(n)]),
        "ts": pa.array(np.datetime64("2026-01-01T00:00:00") + np.arange(n).astype("timedelta64[ms]")),
    }
    for j in range(FEATURES):
        cols[f"f{j}"] = rng.normal(size=n)
    cols["score"] = rng.random(n)
    return pa.table(cols)


def median_rate(rows: int, run: Callable[[int], None], repeats: int = 3) -> tuple[float, list[float]]:
    """rows/s, median over ``repeats`` (run(i) does the work of repetition i)."""
    times = []
    for i in range(repeats):
        t0 = time.perf_counter()
        run(i)
        times.append(time.perf_counter() - t0)
    return rows / statistics.median(times), times


def bench_sdk_bulk(table: pa.Table, root: Path, as_pandas: bool) -> float:
    data = table.to_pandas() if as_pandas else table
    c = Collector(root / ("pandas" if as_pandas else "arrow"), flush_interval_s=3600)
    c.log_predictions("bench", table.slice(0, 1000), idempotency_key="warmup")  # columns registered once

    def run(i: int) -> None:
        res = c.log_predictions("bench", data, idempotency_key=f"bulk-{i}")
        assert res.landed == table.num_rows, res

    rate, _ = median_rate(table.num_rows, run)
    c.close()
    return rate


def bench_raw_duckdb(table: pa.Table, root: Path) -> float:
    def run(i: int) -> None:
        con = duckdb.connect(str(root / f"raw-{i}.duckdb"))
        con.execute(f"SET threads = {THREADS}")
        con.register("arrow_table", table)
        con.execute("CREATE TABLE t AS SELECT * FROM arrow_table LIMIT 0")
        con.execute("INSERT INTO t SELECT * FROM arrow_table")  # autocommit: WAL written and synced
        con.close()

    rate, _ = median_rate(table.num_rows, run)
    return rate


def bench_one_row(n: int, root: Path) -> float:
    rng = np.random.default_rng(2)
    feats = rng.normal(size=(n, FEATURES))
    scores = rng.random(n)
    rows = [
        {
            "id": f"o{i}",
            "ts": "2026-01-01T00:00:00Z",
            **{f"f{j}": float(feats[i, j]) for j in range(FEATURES)},
        }
        | {"score": float(scores[i])}
        for i in range(n)
    ]
    c = Collector(root / "onerow", flush_interval_s=3600)
    c.log_predictions("bench", rows[0])
    c.flush()

    def run(i: int) -> None:
        for row in rows:
            c.log_predictions("bench", {**row, "id": f"{row['id']}-{i}"})
        c.flush()

    rate, _ = median_rate(n, run)
    c.close()
    return rate


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def bench_http(n_batches: int, batch_rows: int, root: Path, concurrency: int) -> float:
    port = _free_port()
    code = (
        "import sys, uvicorn; from duckwatch.collector.http import create_app; "
        "uvicorn.run(create_app(sys.argv[1]), host='127.0.0.1', port=int(sys.argv[2]), log_level='warning')"
    )
    server = subprocess.Popen([sys.executable, "-c", code, str(root / f"http{concurrency}"), str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        rng = np.random.default_rng(3)
        feats = rng.normal(size=(batch_rows, FEATURES)).round(6).tolist()
        template = [
            {"id": "", "ts": "2026-01-01T00:00:00Z", **{f"f{j}": r[j] for j in range(FEATURES)}, "score": 0.5}
            for r in feats
        ]
        with httpx.Client(base_url=base, timeout=120) as client:
            client.post("/v1/models/bench/predictions", json={"rows": template[:10]})  # warm-up

            def send(rep: int, b: int) -> None:
                rows = [dict(r, id=f"h{rep}-{b}-{k}") for k, r in enumerate(template)]
                r = client.post(
                    "/v1/models/bench/predictions",
                    json={"rows": rows},
                    headers={"Idempotency-Key": f"{rep}-{b}"},
                )
                assert r.status_code == 200 and r.json()["landed"] == batch_rows, r.text

            def run(rep: int) -> None:
                with ThreadPoolExecutor(concurrency) as pool:
                    list(pool.map(lambda b: send(rep, b), range(n_batches)))

            rate, _ = median_rate(n_batches * batch_rows, run)
        return rate
    finally:
        server.terminate()
        server.wait(10)


def profile(label: str, fn: Callable[[], None], top: int = 14) -> str:
    """cProfile ``fn``; return the top functions by cumulative time."""
    prof = cProfile.Profile()
    prof.enable()
    fn()
    prof.disable()
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(top)
    return f"### profile: {label}\n```\n{out.getvalue().strip()}\n```\n"


def machine() -> str:
    mem = (
        Path("/proc/meminfo").read_text().split("\n")[0].split()[1] if Path("/proc/meminfo").exists() else "?"
    )
    gib = f"{int(mem) / 1024**2:.1f} GiB" if mem != "?" else "?"
    pkgs = ", ".join(f"{p} {version(p)}" for p in ("duckdb", "pyarrow", "pandas", "starlette", "uvicorn"))
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"machine: nproc {os.cpu_count()}, RAM {gib}, Python {platform.python_version()}, {pkgs}; "
        f"DuckDB threads per connection {THREADS}; load average at start {load:.1f}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows per bulk batch")
    ap.add_argument("--one-row", type=int, default=100_000, help="rows sent as one-row calls")
    ap.add_argument("--http-batches", type=int, default=100, help="1,000-row HTTP batches per run")
    ap.add_argument("--profile", action="store_true", help="append cProfile output for the SDK paths")
    ap.add_argument("--out", default=str(HERE / "results_ingest.md"))
    args = ap.parse_args(argv)
    header = machine()
    print(header, flush=True)
    table = make_table(args.rows)
    results: list[tuple[str, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="dw-bench-") as tmp:
        root = Path(tmp)
        raw = bench_raw_duckdb(table, root)
        results.append(("raw DuckDB `INSERT INTO t SELECT * FROM arrow_table` (file db)", raw, "baseline"))
        print(f"raw duckdb: {raw:,.0f} rows/s", flush=True)
        bulk = bench_sdk_bulk(table, root, as_pandas=False)
        ok = bulk >= 500_000 and bulk >= 0.75 * raw
        target = f"≥ 500k rows/s and ≥ 0.75 × raw: {'met' if ok else 'NOT met'} (ratio {bulk / raw:.2f})"
        results.append(("SDK bulk, Arrow table, 1 batch", bulk, target))
        print(f"sdk arrow: {bulk:,.0f} rows/s", flush=True)
        pdr = bench_sdk_bulk(table, root, as_pandas=True)
        results.append(("SDK bulk, pandas DataFrame, 1 batch", pdr, f"ratio to raw {pdr / raw:.2f}"))
        print(f"sdk pandas: {pdr:,.0f} rows/s", flush=True)
        one = bench_one_row(args.one_row, root)
        ok1 = "met" if one >= 20_000 else "NOT met"
        results.append(
            (f"SDK one-row calls ({args.one_row:,} rows, then flush)", one, f"≥ 20k rows/s: {ok1}")
        )
        print(f"sdk one-row: {one:,.0f} rows/s", flush=True)
        for conc in (1, 4):
            rate = bench_http(args.http_batches, 1000, root, conc)
            results.append((f"HTTP, 1,000-row JSON batches, {conc} client thread(s)", rate, ""))
            print(f"http x{conc}: {rate:,.0f} rows/s", flush=True)
        extra = ""
        if args.profile:
            c = Collector(root / "prof", flush_interval_s=3600)
            c.log_predictions("bench", table.slice(0, 1000), idempotency_key="w")
            extra += profile(
                "SDK bulk (Arrow)", lambda: c.log_predictions("bench", table, idempotency_key="p")
            )
            row = {
                "id": "x",
                "ts": "2026-01-01T00:00:00Z",
                "score": 0.5,
                **{f"f{j}": 1.0 for j in range(FEATURES)},
            }

            def one_rows() -> None:
                for i in range(20_000):
                    c.log_predictions("bench", {**row, "id": f"p{i}"})
                c.flush()

            extra += profile("SDK one-row (20k rows)", one_rows)
            extra += profile(
                "one landed 1,000-row batch (the HTTP path)",
                lambda: c.log_predictions("bench", table.slice(0, 1000).to_pylist(), idempotency_key="h"),
            )
            c.close()
    lines = [
        "# Ingest throughput",
        "",
        header,
        "",
        f"Bulk batches: {args.rows:,} rows × ({FEATURES} float features + id, ts, score); median of 3.",
        "",
        "| path | rows/s | target |",
        "|---|---:|---|",
        *[f"| {name} | {rate:,.0f} | {note} |" for name, rate, note in results],
        "",
    ]
    text = "\n".join(lines) + ("\n" + extra if extra else "")
    print(text)
    Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
