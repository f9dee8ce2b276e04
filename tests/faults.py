"""Fault injection: seeded random SIGKILLs of a collector and a job running at the same time.

A day-by-day workload (normal days, a break that opens an incident and heals, a break still open at
the end) is logged by a writer process (the SDK, one idempotency key per batch, ``ACK`` printed once
``flush()`` returned) while a job process runs the tick of the previous day (``now`` = the day's end,
so the day being written is an open window the tick never judges). Kills land in either process at
seeded random delays after it is ready; a killed writer is restarted from its first unacknowledged
batch (resent under the same key, as a client does after a crash), a killed tick is run again. The
end state is compared with an uninterrupted run of the same days: every acknowledged row stored once,
the same metric rows (values within a tolerance, statuses, counts) and the same alerts and incidents.

Used by tests/test_fault_injection.py (~20 kills) and bench/bench_soak.py (100 kills).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick
from duckwatch.store import catalog
from duckwatch.store.incidents import list_alerts, list_incidents
from duckwatch.store.settings import Settings
from duckwatch.store.warehouse import raw_table

MODEL = "m"
DAY0 = datetime(2026, 1, 1, tzinfo=UTC)
ROWS_PER_DAY = 720
BATCHES_PER_DAY = 4
BROKEN = {2, 3, 5, 6}  # upstream unit changes: one incident heals on day 4, one is open at the end (7 days)

WRITER = """
import sys
import pandas as pd
from duckwatch import Collector
root, day, first, batches = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
frame = pd.read_parquet(sys.argv[5])
size = -(-len(frame) // batches)
c = Collector(root, flush_interval_s=3600)
for b in range(first, batches):
    c.log_predictions("m", frame.iloc[b * size:(b + 1) * size], idempotency_key=f"d{day}-b{b}")
    c.flush()
    print(f"ACK {b}", flush=True)
c.close()
print("DONE", flush=True)
"""

JOB = """
import os, pathlib, signal, sys
from datetime import datetime
from duckwatch.config import DataDir
from duckwatch.jobs import tick
from duckwatch.store import alert_handoff, warehouse

def die(*_args, **_kwargs):
    os.kill(os.getpid(), signal.SIGKILL)

hook = os.environ.get("DW_KILL_AT", "")
if hook == "results_commit":  # the warehouse commit of metric rows (alerts not applied yet)
    real_execute = warehouse.Warehouse.execute
    def execute(self, sql, params=None):
        if sql == "COMMIT" and getattr(self, "_results", False):
            die()
        if sql.startswith("INSERT") and any("publish_pending" in str(p) for p in params or []):
            self._results = True
        return real_execute(self, sql, params)
    warehouse.Warehouse.execute = execute
elif hook == "mark_dirty":  # ingest committed, no window marked dirty yet
    tick.mark_windows_dirty = die
elif hook == "alerts_applied":  # alerts committed in the settings store, hand-off not cleared yet
    alert_handoff.clear_pending = die
report = tick.run_tick(DataDir(pathlib.Path(sys.argv[1])), now=datetime.fromisoformat(sys.argv[2]), notify=False)
print("DONE", len(report.errors), flush=True)
"""


def day_frame(day: int, seed: int = 11) -> pd.DataFrame:
    """One day of predictions (2-minute spacing); broken days carry a unit change and shifted scores."""
    rng = np.random.default_rng(seed * 1000 + day)
    n = ROWS_PER_DAY
    x = rng.normal(size=n)
    score = 1 / (1 + np.exp(-x))
    frame = pd.DataFrame(
        {
            "request_id": [f"d{day}-{i}" for i in range(n)],
            "ts": pd.date_range(DAY0 + timedelta(days=day), periods=n, freq="2min"),
            "income": rng.lognormal(10, 0.5, n),
            "age": rng.integers(18, 90, n).astype(float),
            "region": rng.choice(["north", "south", "east", "west"], n),
            "score": score,
        }
    )
    if day in BROKEN:
        frame["income"] *= 1000
        frame["score"] = np.clip(frame["score"] + 0.3, 0, 1)
    frame["prediction"] = (frame["score"] > 0.5).astype(int)
    return frame


def prepare(root: Path, days: int) -> DataDir:
    """A data dir with the model declared and its reference logged; the days' frames as Parquet."""
    data = DataDir(root).ensure()
    rng = np.random.default_rng(3)
    x = rng.normal(size=3000)
    score = 1 / (1 + np.exp(-x))
    reference = pd.DataFrame(
        {
            "income": rng.lognormal(10, 0.5, 3000),
            "age": rng.integers(18, 90, 3000).astype(float),
            "region": rng.choice(["north", "south", "east", "west"], 3000),
            "score": score,
            "prediction": (score > 0.5).astype(int),
        }
    )
    with Collector(data.root) as c:
        c.declare(MODEL, display_name="Loan approvals", owner="ana@example.com")
        c.log_reference(MODEL, reference)
    for day in range(days):
        day_frame(day).to_parquet(root / f"day{day}.parquet")
    return data


def now_after(day: int) -> datetime:
    """The tick time that closes ``day``'s window and no later one."""
    return DAY0 + timedelta(days=day + 1, minutes=1)


def run_clean(root: Path, days: int, ticks: Collection[int] | None = None) -> DataDir:
    """The uninterrupted run: each day logged in the same batches, then the tick that closes it (only
    after the days in ``ticks``, when given, and after the last day)."""
    data = prepare(root, days)
    for day in range(days):
        frame = pd.read_parquet(root / f"day{day}.parquet")
        size = -(-len(frame) // BATCHES_PER_DAY)
        with Collector(data.root) as c:
            for b in range(BATCHES_PER_DAY):
                c.log_predictions(
                    MODEL, frame.iloc[b * size : (b + 1) * size], idempotency_key=f"d{day}-b{b}"
                )
        if ticks is None or day in ticks or day == days - 1:
            assert run_tick(data, now=now_after(day), notify=False).errors == []
    return data


@dataclass
class FaultReport:
    """What a faulty run did."""

    kills: dict[str, int] = field(default_factory=lambda: {"writer": 0, "job": 0})
    missed: int = 0  # a kill drawn for a process that had already finished (not counted)
    writer_runs: int = 0
    job_runs: int = 0
    acked_batches: int = 0
    seconds: float = 0.0


ZYGOTE = """
import json, os, sys, traceback
import pandas, pyarrow  # noqa: F401  imported once here; every child is a fork of this process
import duckwatch.collector.sdk, duckwatch.alerting.alerts, duckwatch.jobs.compute, duckwatch.jobs.tick  # noqa: F401
import duckwatch.store.published  # noqa: F401
print("READY", flush=True)
for line in sys.stdin:
    cmd = json.loads(line)
    if cmd[0] == "wait":
        _pid, status = os.waitpid(cmd[1], 0)
        print(os.waitstatus_to_exitcode(status), flush=True)
        continue
    _cmd, script, out, hook, args = cmd
    pid = os.fork()
    if pid == 0:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        sys.stdin.close()
        if hook:
            os.environ["DW_KILL_AT"] = hook
        sys.argv = ["child", *args]
        code = 0
        try:
            exec(compile(script, "child", "exec"), {"__name__": "__main__"})
        except BaseException:
            traceback.print_exc()
            code = 1
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    print(pid, flush=True)
"""


class _Zygote:
    """A process that imports duckwatch once and forks each writer and job from itself: a fork starts
    in milliseconds where a new interpreter spends a second or more importing."""

    def __init__(self, scratch: Path) -> None:
        env = {k: v for k, v in os.environ.items() if k != "DW_KILL_AT"}
        env.update(DUCKWATCH_DUCKDB_THREADS="1", PYTHONUNBUFFERED="1")
        self.scratch, self.count = scratch, 0
        self.p = subprocess.Popen(
            [sys.executable, "-c", ZYGOTE], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        assert self._line() == "READY"

    def _line(self) -> str:
        assert self.p.stdout is not None
        return self.p.stdout.readline().strip()

    def _send(self, cmd: list[Any]) -> str:
        assert self.p.stdin is not None
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        return self._line()

    def start(self, kind: str, args: list[str], hook: str = "") -> _Proc:
        self.count += 1
        out = self.scratch / f"{kind}-{self.count}.out"
        pid = int(self._send(["run", WRITER if kind == "writer" else JOB, str(out), hook, args]))
        return _Proc(self, kind, pid, out)

    def close(self) -> None:
        assert self.p.stdin is not None
        self.p.stdin.close()
        self.p.wait(timeout=30)


class _Proc:
    """A forked writer or job."""

    def __init__(self, zygote: _Zygote, kind: str, pid: int, out: Path) -> None:
        self.zygote, self.kind, self.pid, self.out = zygote, kind, pid, out

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def finish(self) -> tuple[int, list[str]]:
        code = int(self.zygote._send(["wait", self.pid]))
        if not self.out.exists():  # killed right after the fork, before it opened its output
            return code, []
        return code, self.out.read_text(encoding="utf-8", errors="replace").splitlines()


def run_faulty(
    root: Path,
    days: int,
    kills: int,
    seed: int,
    ticks: Collection[int] | None = None,
    hooks: dict[int, list[str]] | None = None,
) -> FaultReport:
    """The same days under ``kills`` seeded random SIGKILLs of writer and job running side by side.

    ``hooks`` (day -> kill points in the job, see JOB) kill that day's first ticks at named points."""
    data = prepare(root, days)
    rnd = random.Random(seed)
    report = FaultReport()
    t0 = time.perf_counter()
    # Kills are spread over the days: day d gets its share, the last one the rest.
    plan = [kills // days + (1 if d < kills % days else 0) for d in range(days)]
    hooks = {day: list(points) for day, points in (hooks or {}).items()}
    budget = 0
    zygote = _Zygote(root)
    try:
        for day in range(days + 1):
            next_batch = 0 if day < days else BATCHES_PER_DAY  # the writer's first unacknowledged batch
            tick_day = day - 1  # the job closes the previous day while this one is written
            tick_done = tick_day < 0 or not (ticks is None or tick_day in ticks or tick_day == days - 1)
            budget += plan[day] if day < days else 0  # a kill that missed is carried to the next day
            # After the last day, kills still owed hit extra ticks at the same time (nothing left to do).
            while next_batch < BATCHES_PER_DAY or not tick_done or (day == days and budget > 0):
                procs: list[_Proc] = []
                if next_batch < BATCHES_PER_DAY:
                    parquet = str(root / f"day{day}.parquet")
                    args = [str(data.root), str(day), str(next_batch), str(BATCHES_PER_DAY), parquet]
                    procs.append(zygote.start("writer", args))
                    report.writer_runs += 1
                if not tick_done or day == days:
                    points = hooks.get(tick_day, [])
                    hook = points.pop(0) if points else ""
                    procs.append(zygote.start("job", [str(data.root), now_after(tick_day).isoformat()], hook))
                    report.job_runs += 1
                # The job when it runs, two times in three: a writer alone is the commoner target.
                victim = (procs[-1] if rnd.random() < 2 / 3 else procs[0]) if budget > 0 else None
                if victim is not None:
                    time.sleep(rnd.uniform(0.0, 0.3 if victim.kind == "writer" else 0.8))
                    victim.kill()
                for proc in procs:
                    code, lines = proc.finish()
                    if proc is victim and code == -signal.SIGKILL:
                        budget -= 1
                        report.kills[proc.kind] += 1
                    elif proc is victim:
                        report.missed += 1
                    hooked = code == -signal.SIGKILL and proc.kind == "job"  # DW_KILL_AT: run it again
                    assert code == 0 or proc is victim or hooked, (proc.kind, code, lines[-20:])
                    if proc.kind == "writer":
                        acked = [int(ln.split()[1]) for ln in lines if ln.startswith("ACK")]
                        report.acked_batches += len(acked)
                        next_batch = max([next_batch - 1, *acked]) + 1
                    elif code == 0:
                        assert lines[-1] == "DONE 0", lines[-20:]
                        tick_done = True
    finally:
        zygote.close()
    report.seconds = time.perf_counter() - t0
    return report


# ---- the end state --------------------------------------------------------------------------------


def stored_ids(data: DataDir, model: str = MODEL) -> list[str]:
    """Every prediction id of ``model`` in the warehouse, duplicates included."""
    info = catalog.get_model(Settings(data.settings), model)
    assert info is not None
    con = duckdb.connect(str(data.warehouse), read_only=True)
    try:
        return [
            r[0]
            for r in con.execute(f"SELECT _id FROM {raw_table(info.model_key, 'predictions')}").fetchall()
        ]
    finally:
        con.close()


def metric_rows(data: DataDir) -> pd.DataFrame:
    """Every metric row, sorted by its key, without its computation time."""
    con = duckdb.connect(str(data.warehouse), read_only=True)
    try:
        frame = con.execute(
            "SELECT version, experiment, CAST(window_start AS VARCHAR) AS window_start, family, metric, col, "
            "segment, value, status, threshold, n, provisional FROM metric_results"
        ).df()
    finally:
        con.close()
    keys = ["version", "experiment", "window_start", "family", "metric", "col", "segment"]
    return frame.sort_values(keys).reset_index(drop=True)


def incident_rows(data: DataDir) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """Incidents and alerts as comparable tuples (ids replaced by their order)."""
    settings = Settings(data.settings)
    incidents = sorted(list_incidents(settings), key=lambda i: i["id"])
    number = {i["id"]: n for n, i in enumerate(incidents)}
    inc = [
        (i["state"], i["severity"], i["since"], i["span_end"], i["opened_at"], i["resolved_at"], i["title"])
        for i in incidents
    ]
    alerts = sorted(
        (
            a["dedup_key"], a["state"], a["severity"], a["since"], a["window_start"], a["window_end"],
            a["opened_at"], a["resolved_at"], number.get(a["incident_id"], -1),
        )
        for a in list_alerts(settings)
    )  # fmt: skip
    return inc, alerts


def compare(clean: DataDir, faulty: DataDir, days: int) -> dict[str, int]:
    """Assert the faulty run ended as the clean one; return what was compared."""
    ids = stored_ids(faulty)
    want = {f"d{d}-{i}" for d in range(days) for i in range(ROWS_PER_DAY)}
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} rows stored twice"
    assert set(ids) == want, f"{len(want - set(ids))} acknowledged rows lost, {len(set(ids) - want)} unknown"
    m1, m2 = metric_rows(clean), metric_rows(faulty)
    assert len(m1) == len(m2), (len(m1), len(m2))
    pd.testing.assert_frame_equal(
        m1.drop(columns=["value", "threshold"]), m2.drop(columns=["value", "threshold"])
    )
    for col in ("value", "threshold"):
        np.testing.assert_allclose(m1[col].to_numpy(float), m2[col].to_numpy(float), rtol=1e-9, atol=1e-9)
    (inc1, al1), (inc2, al2) = incident_rows(clean), incident_rows(faulty)
    assert inc1 == inc2, (inc1, inc2)
    assert al1 == al2
    return {"rows": len(ids), "metric_rows": len(m2), "incidents": len(inc2), "alerts": len(al2)}
