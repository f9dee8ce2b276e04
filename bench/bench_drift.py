"""Drift benchmark: duckwatch vs Evidently vs a bare DuckDB scan, as whole processes.

Usage: python bench/bench_drift.py [--sizes 1M,5M] [--runs 3] [--evidently-runs 1] [--history]
Writes bench/results_drift.md (and a JSON twin under bench/.work/).
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from proc import timed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work"
PY = (
    str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
)
DW = [str(ROOT / ".venv" / "bin" / "duckwatch")]
EV_PY = WORK / "evidently-venv" / "bin" / "python"
OUT_MD = HERE / "results_drift.md"

REF_ROWS = 200_000
N_NUM, N_CAT = 20, 5
CATS = ["a", "b", "c", "d", "e"]
CAT_P = [0.4, 0.25, 0.15, 0.12, 0.08]
CAT_P_DRIFT = [0.2, 0.25, 0.15, 0.12, 0.28]
DRIFTED = {
    "num_03": "unit change x1000",
    "num_07": "+0.3 sd mean shift",
    "cat_2": "category share change",
    "num_11": "null rate 0 -> 20%",
}
# Columns whose change sits near the KS floor (0.05), in sd units: the slow path (the binned bounds
# straddle the bar, so raw rows decide) and the case where tests on big samples flag everything.
# A normal mean shift of d sd moves KS by 2*Phi(d/2) - 1: 0.044 and 0.056 here.
BOUNDARY = {
    "num_15": 0.11,  # KS ~ 0.044: just under the floor
    "num_16": 0.14,  # KS ~ 0.056: just over it
}
DAY = datetime(2026, 1, 5, tzinfo=UTC)


def parse_size(text: str) -> int:
    """Parse '100k', '1M', '5M' or a plain integer."""
    t = text.strip().lower()
    mult = {"k": 1_000, "m": 1_000_000}.get(t[-1:], 1)
    return int(float(t.rstrip("km")) * mult)


def label(n: int) -> str:
    """Human size label: 100k, 1M."""
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n // 1_000}k"


def make_chunk(rng: np.random.Generator, n: int, drift: bool, ts_day: datetime | None) -> pa.Table:
    """One chunk of synthetic rows; ``drift`` injects the 4 drifts."""
    cols: dict[str, Any] = {}
    for i in range(N_NUM):
        x = rng.normal(10.0 + i, 1.0 + i / 10, n)
        name = f"num_{i:02d}"
        if drift and name == "num_03":
            x = x * 1000.0
        if drift and name == "num_07":
            x = x + 0.3 * (1.0 + 7 / 10)
        if drift and name in BOUNDARY:
            x = x + BOUNDARY[name] * (1.0 + i / 10)
        arr = pa.array(x)
        if drift and name == "num_11":
            arr = pa.array(x, mask=rng.random(n) < 0.2)
        cols[name] = arr
    for j in range(N_CAT):
        p = CAT_P_DRIFT if drift and j == 2 else CAT_P
        cols[f"cat_{j}"] = pa.array(np.array(CATS)[rng.choice(5, n, p=p)])
    score = 1 / (1 + np.exp(-(cols["num_00"].to_numpy(zero_copy_only=False) - 10.0)))
    cols["prediction"] = pa.array(score)
    cols["target"] = pa.array((rng.random(n) < score).astype(np.int64))
    if ts_day is not None:
        secs = np.sort(rng.integers(0, 86_400, n))
        base = np.datetime64(ts_day.replace(tzinfo=None), "s")
        cols["ts"] = pa.array(base + secs.astype("timedelta64[s]"), type=pa.timestamp("s", tz="UTC"))
    return pa.table(cols)


def write_parquet(path: Path, n: int, seed: int, drift: bool, ts_day: datetime | None) -> None:
    """Write ``n`` rows to ``path`` in 1M-row chunks (skipped when it already exists)."""
    if path.exists():
        return
    rng = np.random.default_rng(seed)
    tmp = path.with_suffix(".tmp")
    writer: pq.ParquetWriter | None = None
    done = 0
    while done < n:
        k = min(1_000_000, n - done)
        t = make_chunk(rng, k, drift, ts_day)
        writer = writer or pq.ParquetWriter(tmp, t.schema)
        writer.write_table(t)
        done += k
    assert writer is not None
    writer.close()
    tmp.rename(path)


def run_duckwatch(ref: Path, cur: Path, tag: str) -> dict[str, Any]:
    """init + reference + ingest + one tick in a fresh data dir; times and flags."""
    d = WORK / f"dw-{tag}"
    shutil.rmtree(d, ignore_errors=True)
    env = {"DUCKWATCH_DATA_DIR": str(d)}
    steps = {
        "init": [*DW, "init"],
        "reference": [
            *DW,
            "reference",
            str(ref),
            "--model",
            "bench",
            "--score-col",
            "prediction",
            "--label-col",
            "target",
        ],
        # The job profiles a new reference (and fits its calibrator) in the first tick after it arrives,
        # as a running `duckwatch run` would long before production data comes: timed on its own.
        "reference_tick": [*DW, "run", "--no-notify", "--quiet"],
        "ingest": [
            *DW,
            "ingest",
            "predictions",
            str(cur),
            "--model",
            "bench",
            "--time-col",
            "ts",
            "--score-col",
            "prediction",
            "--label-col",
            "target",
        ],
        "tick": [*DW, "run", "--no-notify", "--quiet"],
    }
    res = {k: timed(v, env) for k, v in steps.items()}
    out = {k: v["wall"] for k, v in res.items()}
    out["rss"] = max(v["rss"] for v in res.values())
    out["tick_rss"] = res["tick"]["rss"]
    out["total"] = sum(out[k] for k in steps)
    out["measured"] = out["ingest"] + out["tick"]  # what issue 3 times: ingest of the file + the tick
    out["measured_rss"] = max(res["ingest"]["rss"], res["tick"]["rss"])
    exp = subprocess.run(
        [*DW, "export", "metrics", "--model", "bench", "--format", "csv"],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        check=True,
    )
    rows = list(csv.DictReader(io.StringIO(exp.stdout)))
    flagged = {
        r["column"]
        for r in rows
        if r["family"] in ("drift", "quality") and r["column"] and r["status"] in ("warning", "critical")
    }
    out["found"] = sorted(flagged & set(DRIFTED))
    out["false_pos"] = sorted(flagged - set(DRIFTED) - set(BOUNDARY))
    out["boundary"] = sorted(flagged & set(BOUNDARY))
    out["metrics_rows"] = len(rows)
    shutil.rmtree(d, ignore_errors=True)
    return out


def run_evidently(ref: Path, cur: Path) -> dict[str, Any]:
    """Evidently DataDriftPreset in its own venv; time, RSS and drifted columns."""
    r = timed([str(EV_PY), str(HERE / "peers" / "evidently_drift.py"), str(ref), str(cur)])
    found = json.loads(r["stdout"].strip().splitlines()[-1])["drifted"]
    return {
        "total": r["wall"],
        "rss": r["rss"],
        "found": sorted(set(found) & set(DRIFTED)),
        "false_pos": sorted(set(found) - set(DRIFTED) - set(BOUNDARY)),
        "boundary": sorted(set(found) & set(BOUNDARY)),
    }


def run_scan(cur: Path) -> dict[str, Any]:
    """Bare DuckDB count + sum of every column of the current file."""
    r = timed([PY, str(HERE / "peers" / "duckdb_scan.py"), str(cur)])
    return {"total": r["wall"], "rss": r["rss"]}


def med(runs: list[dict[str, Any]], key: str) -> float:
    """Median of ``key`` over runs."""
    return float(statistics.median(r[key] for r in runs))


def history_bench(batches: int = 100, batch_rows: int = 100_000) -> dict[str, float]:
    """Build ``batches`` daily batches through the SDK + tick, then time one more batch + tick in-process."""
    sys.path.insert(0, str(ROOT / "src"))
    from duckwatch.collector.sdk import Collector
    from duckwatch.config import resolve_data_dir
    from duckwatch.jobs.tick import run_tick

    d = WORK / "dw-history"
    shutil.rmtree(d, ignore_errors=True)
    rng = np.random.default_rng(7)
    t0 = time.perf_counter()
    with Collector(d) as c:
        c.log_reference("hist", make_chunk(rng, REF_ROWS, False, None), scores="prediction", label="target")
        for b in range(batches):
            c.log_predictions(
                "hist",
                make_chunk(rng, batch_rows, b >= batches // 2, DAY + timedelta(days=b)),
                timestamp="ts",
                scores="prediction",
                label="target",
            )
    data = resolve_data_dir(d)
    now = DAY + timedelta(days=batches + 1, hours=1)
    run_tick(data, now=now, notify=False)
    build = time.perf_counter() - t0
    new = make_chunk(rng, batch_rows, True, DAY + timedelta(days=batches))
    t1 = time.perf_counter()
    with Collector(d) as c:
        c.log_predictions("hist", new, timestamp="ts", scores="prediction", label="target")
    t2 = time.perf_counter()
    rep = run_tick(data, now=now + timedelta(days=1), notify=False)
    t3 = time.perf_counter()
    shutil.rmtree(d, ignore_errors=True)
    return {
        "build": build,
        "log": t2 - t1,
        "tick": t3 - t2,
        "total": t3 - t1,
        "windows": float(rep.windows_computed),
        "errors": float(len(rep.errors)),
    }


def _step(runs: list[dict[str, Any]], key: str) -> str:
    """Median seconds of one step, or '-' for runs recorded before the step existed."""
    return f"{med(runs, key):.2f}" if all(key in r for r in runs) else "-"


def _near(run: dict[str, Any]) -> str:
    """Which boundary columns a run flagged ('-' for runs recorded before they existed)."""
    if "boundary" not in run:
        return "-"
    return ", ".join(run["boundary"]) or "none"


def fmt_found(found: list[str]) -> str:
    """'3 of 4 (misses x)'."""
    miss = sorted(set(DRIFTED) - set(found))
    return f"{len(found)} of 4" + (f" (misses {', '.join(miss)})" if miss else "")


def main() -> None:
    """Generate data, run every method per size, write the Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", "1M,5M"))
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument(
        "--evidently-runs",
        type=int,
        default=int(os.environ.get("BENCH_EVIDENTLY_RUNS", "3")),
        help="runs at sizes < 5M (5M: always 1)",
    )
    ap.add_argument("--no-evidently", action="store_true")
    ap.add_argument("--evidently-only", action="store_true", help="keep earlier duckwatch/scan runs per size")
    ap.add_argument("--fresh", action="store_true", help="forget sizes measured by earlier runs")
    ap.add_argument(
        "--history",
        action="store_true",
        default=os.environ.get("BENCH_HISTORY", "1") == "1",
        help="also the 10M-history incremental tick (default; BENCH_HISTORY=0 skips it)",
    )
    args = ap.parse_args()
    WORK.mkdir(exist_ok=True)
    ref = WORK / "ref_200k.parquet"
    write_parquet(ref, REF_ROWS, 1, False, None)
    ev_ok = EV_PY.exists() and not args.no_evidently
    store = WORK / "results_drift.json"
    old = json.loads(store.read_text()) if store.exists() and not args.fresh else {}
    results: dict[str, Any] = old.get("sizes", {})
    for n in [parse_size(s) for s in args.sizes.split(",")]:
        cur = WORK / f"cur_{label(n)}_boundary.parquet"
        write_parquet(cur, n, 2, True, DAY)
        prior = results.get(label(n), {})
        if args.evidently_only and prior:
            dw, sc = prior["duckwatch"], prior["scan"]
        else:
            print(f"[{label(n)}] duckwatch x{args.runs}", flush=True)
            dw = [run_duckwatch(ref, cur, f"{label(n)}-{i}") for i in range(args.runs)]
            print(f"[{label(n)}] scan x{args.runs}", flush=True)
            sc = [run_scan(cur) for _ in range(args.runs)]
        ev: list[dict[str, Any]] = []
        if ev_ok:
            k = 1 if n >= 5_000_000 else args.evidently_runs
            print(f"[{label(n)}] evidently x{k}", flush=True)
            ev = [run_evidently(ref, cur) for _ in range(k)]
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        stamp = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, load {load}"
        if args.evidently_only and prior.get("measured"):
            stamp = f"duckwatch {prior['measured']}; Evidently {stamp}"
        results[label(n)] = {"duckwatch": dw, "scan": sc, "evidently": ev, "measured": stamp}
        print(json.dumps(results[label(n)], default=str)[:2000], flush=True)
    hist = history_bench() if args.history else old.get("history")
    results = dict(sorted(results.items(), key=lambda kv: parse_size(kv[0])))
    store.write_text(json.dumps({"sizes": results, "history": hist}, indent=1))
    OUT_MD.write_text(render(results, hist, ev_ok, args.runs))
    print(OUT_MD.read_text())


def render(results: dict[str, Any], hist: dict[str, float] | None, ev_ok: bool, runs: int) -> str:
    """Markdown for the drift benchmark."""
    lines = [
        "## Drift: duckwatch vs Evidently vs bare DuckDB scan",
        "",
        f"Reference {REF_ROWS:,} rows; current N rows x 27 columns (20 numeric, 5 categorical, prediction, "
        "target) + ts (one closed day). Injected drifts: "
        + "; ".join(f"{k} {v}" for k, v in DRIFTED.items())
        + ". Near the KS floor (0.05): "
        + "; ".join(f"{k} +{v} sd" for k, v in BOUNDARY.items())
        + " (KS ~ 0.044 and ~ 0.056: the bounds from bins cannot decide, raw rows do)."
        + " Whole processes, wall seconds / peak RSS MB; median of the runs shown in brackets.",
        "",
        "| N | duckwatch reference tick | duckwatch ingest | duckwatch tick | duckwatch ingest + tick "
        "| duckwatch total (init + reference + reference tick + ingest + tick) "
        "| duckwatch found | duckwatch false pos. | duckwatch flags near the floor "
        "| Evidently DataDriftPreset | Evidently found | Evidently flags near the floor | bare DuckDB scan "
        "| Evidently / duckwatch (ingest + tick) | Evidently / duckwatch (total) "
        "| duckwatch / Evidently peak memory | measured (load 1/5/15 min) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for lab, r in results.items():
        dw, sc, ev = r["duckwatch"], r["scan"], r["evidently"]
        dwt, dwm = med(dw, "total"), med(dw, "rss")
        evs = f"{med(ev, 'total'):.1f} / {med(ev, 'rss'):,.0f} [{len(ev)}]" if ev else "not run"
        ratio = f"{med(ev, 'total') / dwt:.1f}x" if ev else "-"
        meas = med(dw, "measured") if "measured" in dw[0] else dwt
        ratio_m = f"**{med(ev, 'total') / meas:.1f}x**" if ev else "-"
        mem = f"{dwm / med(ev, 'rss'):.2f}" if ev else "-"
        lines.append(
            f"| {lab} | {_step(dw, 'reference_tick')} | {med(dw, 'ingest'):.2f} | {med(dw, 'tick'):.2f} / {med(dw, 'tick_rss'):,.0f} | {meas:.2f} "
            f"| {dwt:.2f} / {dwm:,.0f} [{len(dw)}] "
            f"| {fmt_found(dw[0]['found'])} | {len(dw[0]['false_pos'])} {', '.join(dw[0]['false_pos'])} "
            f"| {_near(dw[0])} "
            f"| {evs} | {fmt_found(ev[0]['found']) + (' +' + str(len(ev[0]['false_pos'])) + ' fp' if ev[0]['false_pos'] else '') if ev else '-'} "
            f"| {_near(ev[0]) if ev else '-'} "
            f"| {med(sc, 'total'):.2f} / {med(sc, 'rss'):,.0f} | {ratio_m} | {ratio} | {mem} | {r.get('measured', '?')} |"
        )
    lines += [
        "",
        "Targets: >= 30x faster than Evidently at 1M, >= 75x at 5M (issue 3 times `duckwatch ingest` of the file",
        "+ the `duckwatch run` tick; the total adds `init`, the one-time `reference` command and the tick that",
        "profiles the reference once, before production data arrives), <= 0.25 of its",
        "peak memory (duckwatch: the largest peak RSS of its processes). Parquet input is sealed as a byte copy",
        "and read by the tick in place (a raw part), so no command re-encodes or copies the rows.",
        "Evidently at 5M is run once (about 8 minutes on an idle machine). Both sides ran on the same machine in",
        "the same session; when the load average is well above the CPU count, every wall time is inflated (user",
        "CPU stays put), so compare ratios from the same row. Idle-machine peer figures for reference",
        "(/work/shared/BENCHMARKS.md): Evidently 64.4 s / 2,172 MB at 1M, 485 s / 8,918 MB at 5M.",
        "Found = injected columns with status warning/critical (drift or quality family); false pos. = other",
        "columns flagged, the two near the floor aside (their column says which were flagged: a shift of",
        "0.11 sd is real but below the 0.05 minimum effect, 0.14 sd above it). Evidently: per-column ValueDrift",
        "past its threshold.",
    ]
    if not ev_ok:
        lines.append("Evidently was not run (no venv at bench/.work/evidently-venv; see bench/README.md).")
    if hist:
        lines += [
            "",
            "### Incremental: one new 100k-row batch on top of 10M rows of history (in-process)",
            "",
            "| history build (100 x 100k via SDK + tick) | log 100k batch | tick | batch + tick (target < 1 s) "
            "| windows computed |",
            "|---|---|---|---|---|",
            f"| {hist['build']:.1f} s | {hist['log']:.2f} s | {hist['tick']:.2f} s | {hist['total']:.2f} s "
            f"| {hist['windows']:.0f} |",
        ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
