"""Chunked, labelled workload: duckwatch daily/hourly windows vs NannyML chunk_period "D"/"h", whole processes.

Usage: python bench/bench_chunked.py [--runs 3] [--rows 600000] [--no-nannyml] [--profile]
       env: BENCH_RUNS (default 3), BENCH_CHUNKED_ROWS (default 600000), BENCH_CHUNKED_PROFILE=0 skips the
       cProfile appendix.
Writes bench/results_chunked.md (and a JSON twin under bench/.work/chunked/). Progress goes to stderr.

Scenario (../shared/BENCHMARKS.md "Chunked, labelled workloads"): N labelled predictions (10 normal numeric
features, one 6-level categorical, score = sigmoid of a feature plus noise, prediction = score > 0.5, label
drawn from the score) spread evenly over 30 days, a 100k-row labelled reference. Per run, alternating:
duckwatch daily, NannyML "D", duckwatch hourly, NannyML "h"; then per duckwatch data dir a relabel tick
(2% of the ids get their label flipped through `duckwatch ingest outcomes`, then one `duckwatch run`).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from proc import timed

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / ".work" / "chunked"
PY = (
    str(ROOT / ".venv" / "bin" / "python") if (ROOT / ".venv" / "bin" / "python").exists() else sys.executable
)
DW = [str(ROOT / ".venv" / "bin" / "duckwatch")]
NML_PY = HERE / ".work" / "nannyml-venv" / "bin" / "python"
NML_SCRIPT = HERE / "peers" / "nannyml_chunked.py"
OUT_MD = HERE / "results_chunked.md"

MODEL = "chunked"
REF_ROWS = 100_000
N_NUM = 10
CATS = ["c0", "c1", "c2", "c3", "c4", "c5"]
CAT_P = [0.30, 0.25, 0.18, 0.12, 0.10, 0.05]
CAT_P_LATE = [0.22, 0.25, 0.18, 0.12, 0.10, 0.13]  # mild share change in the last 10 days
DAYS = 30
START = np.datetime64("2026-10-01T00:00:00", "us")  # current: 2026-10-01 .. 2026-10-31 (UTC)
REF_START = np.datetime64("2026-09-01T00:00:00", "us")  # reference: the 30 days before
RELABEL_SHARE = 0.02
CASES = {"daily": ("day", "D"), "hourly": ("hour", "h")}
TARGETS = {
    "daily": "NannyML / duckwatch >= 3x; peak memory <= NannyML's",
    "hourly": "NannyML / duckwatch >= 5x; peak memory <= NannyML's",
    "relabel daily": "< 1 s",
    "relabel hourly": "< 3 s",
}
ID_COL, TIME_COL, SCORE_COL, PRED_COL, LABEL_COL = "request_id", "ts", "score", "prediction", "label"


def say(msg: str) -> None:
    """A progress line on stderr."""
    print(f"[chunked {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)


def load() -> str:
    """The 1/5/15-minute load average as '1.2 0.8 0.5'."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# -- data ------------------------------------------------------------------------------------------------
def make_table(rng: np.random.Generator, n: int, start: np.datetime64, prefix: str, drift: bool) -> pa.Table:
    """``n`` labelled predictions spread evenly over ``DAYS`` days from ``start`` (sorted by time)."""
    span_us = DAYS * 86_400 * 1_000_000
    # evenly spread: row i at i * span / n, plus jitter inside its slot (stays sorted and inside the 30 days)
    slot = span_us / n
    offs = (np.arange(n) * slot + rng.random(n) * slot).astype(np.int64)
    ts = start + offs.astype("timedelta64[us]")
    late = offs >= (DAYS - 10) * 86_400 * 1_000_000 if drift else np.zeros(n, dtype=bool)
    cols: dict[str, Any] = {ID_COL: pa.array([f"{prefix}{i:07d}" for i in range(n)])}
    cols[TIME_COL] = pa.array(ts, type=pa.timestamp("us", tz="UTC"))
    feats = {}
    for i in range(N_NUM):
        x = rng.normal(0.0, 1.0 + i / 10, n)
        if i == 1:
            x = x + np.where(late, 0.5 * (1.0 + 1 / 10), 0.0)  # mild mean shift in the last 10 days
        feats[f"f_{i:02d}"] = x
        cols[f"f_{i:02d}"] = pa.array(x)
    u = rng.random(n)
    cum, cum_late = np.cumsum(CAT_P), np.cumsum(CAT_P_LATE)
    idx = np.where(late, np.searchsorted(cum_late, u, side="right"), np.searchsorted(cum, u, side="right"))
    cols["cat"] = pa.array(np.array(CATS)[np.minimum(idx, len(CATS) - 1)])
    score = 1.0 / (1.0 + np.exp(-(1.5 * feats["f_00"] + rng.normal(0.0, 0.5, n))))
    cols[SCORE_COL] = pa.array(score)
    cols[PRED_COL] = pa.array((score > 0.5).astype(np.int64))
    cols[LABEL_COL] = pa.array((rng.random(n) < score).astype(np.int64))
    return pa.table(cols)


def ensure_data(n: int) -> dict[str, Path]:
    """Reference, predictions and corrections Parquet files for ``n`` rows (written once, deterministic)."""
    WORK.mkdir(parents=True, exist_ok=True)
    paths = {
        "ref": WORK / f"ref_{REF_ROWS}.parquet",
        "preds": WORK / f"preds_{n}.parquet",
        "fix": WORK / f"corrections_{n}.parquet",
    }
    if not paths["ref"].exists():
        say(f"writing {paths['ref'].name}")
        t = make_table(np.random.default_rng(101), REF_ROWS, REF_START, "ref", drift=False)
        pq.write_table(t, paths["ref"].with_suffix(".tmp"))
        paths["ref"].with_suffix(".tmp").rename(paths["ref"])
    if not paths["preds"].exists() or not paths["fix"].exists():
        say(f"writing {paths['preds'].name} and {paths['fix'].name}")
        t = make_table(np.random.default_rng(202), n, START, "p", drift=True)
        pq.write_table(t, paths["preds"].with_suffix(".tmp"))
        paths["preds"].with_suffix(".tmp").rename(paths["preds"])
        # 2% of the ids, one per stride of 50 rows (so every window gets some), label flipped
        rng = np.random.default_rng(303)
        stride = round(1 / RELABEL_SHARE)
        k = n // stride
        pick = np.arange(k) * stride + rng.integers(0, stride, k)
        fix = pa.table(
            {
                ID_COL: t.column(ID_COL).take(pa.array(pick)),
                LABEL_COL: pa.array(1 - t.column(LABEL_COL).to_numpy()[pick]),
            }
        )
        pq.write_table(fix, paths["fix"].with_suffix(".tmp"))
        paths["fix"].with_suffix(".tmp").rename(paths["fix"])
    return paths


# -- processes -------------------------------------------------------------------------------------------
def declare_window(data_dir: Path, window: str) -> None:
    """Declare the model with its window through the SDK (untimed setup, as a user would once)."""
    code = (
        "import sys; from duckwatch.collector.sdk import Collector\n"
        "with Collector(sys.argv[1]) as c: c.declare(sys.argv[2], window=sys.argv[3])\n"
    )
    subprocess.run([PY, "-c", code, str(data_dir), MODEL, window], check=True, capture_output=True)


def dw_case(paths: dict[str, Path], window: str, tag: str) -> dict[str, Any]:
    """Fresh data dir: init, declare the window, reference + its tick, ingest predictions + tick,
    then ingest 2% label corrections + the relabel tick. Wall seconds / peak RSS per step."""
    d = WORK / f"dw-{tag}"
    shutil.rmtree(d, ignore_errors=True)
    env = {"DUCKWATCH_DATA_DIR": str(d)}
    subprocess.run([*DW, "init"], check=True, capture_output=True, env={**os.environ, **env})
    declare_window(d, window)
    tick = [*DW, "run"]
    steps: dict[str, list[str]] = {
        "reference": [
            *DW, "reference", str(paths["ref"]), "--model", MODEL, "--id-col", ID_COL, "--time-col", TIME_COL,
            "--score-col", SCORE_COL, "--prediction-col", PRED_COL, "--label-col", LABEL_COL,
        ],
        "reference_tick": tick,
        "ingest": [
            *DW, "ingest", "predictions", str(paths["preds"]), "--model", MODEL, "--id-col", ID_COL,
            "--time-col", TIME_COL, "--score-col", SCORE_COL, "--prediction-col", PRED_COL,
            "--label-col", LABEL_COL,
        ],
        "tick": tick,
        "relabel_ingest": [
            *DW, "ingest", "outcomes", str(paths["fix"]), "--model", MODEL, "--id-col", ID_COL,
            "--label-col", LABEL_COL,
        ],
        "relabel_tick": tick,
    }  # fmt: skip
    out: dict[str, Any] = {}
    for name, cmd in steps.items():
        r = timed(cmd, env)
        out[name] = r["wall"]
        out[f"{name}_rss"] = r["rss"]
        out[f"{name}_cpu"] = r["cpu"]
        if name.endswith("tick"):
            out[f"{name}_out"] = (r["stdout"].strip().splitlines() or [""])[-1]
            out[f"{name}_progress"] = stage_times(r["stderr"])
    out["measured"] = out["ingest"] + out["tick"]
    out["measured_rss"] = max(out["ingest_rss"], out["tick_rss"])
    out["windows"] = count_windows(d)
    shutil.rmtree(d, ignore_errors=True)
    return out


def stage_times(stderr: str) -> str:
    """The `duckwatch run` progress lines (its own stderr, without GNU time's report)."""
    lines = []
    for line in stderr.splitlines():
        if line.startswith("\tCommand being timed") or line.startswith("\t"):
            break
        if line.strip():
            lines.append(line.strip())
    return "; ".join(lines)[:300]


def count_windows(d: Path) -> int | None:
    """Windows of the model with a computed metric (via `duckwatch export metrics`), None if unknown."""
    try:
        p = subprocess.run(
            [*DW, "export", "metrics", "--model", MODEL, "--format", "csv"],
            capture_output=True,
            text=True,
            env={**os.environ, "DUCKWATCH_DATA_DIR": str(d)},
            check=True,
        )
    except subprocess.CalledProcessError:
        return None
    import csv
    import io

    rows = list(csv.DictReader(io.StringIO(p.stdout)))
    if not rows:
        return 0
    key = next((k for k in ("window_start", "window", "start") if k in rows[0]), None)
    return len({r[key] for r in rows}) if key else None


def nml_case(paths: dict[str, Path], period: str) -> dict[str, Any]:
    """NannyML drift + realised performance + CBPE, one whole process in its own venv."""
    r = timed(
        [str(NML_PY), str(NML_SCRIPT), str(paths["ref"]), str(paths["preds"]), period],
        {"NML_DISABLE_USAGE_LOGGING": "1", "PYTHONWARNINGS": "ignore"},
    )
    info = json.loads(r["stdout"].strip().splitlines()[-1])
    return {"total": r["wall"], "rss": r["rss"], "cpu": r["cpu"], **info}


def nml_ready() -> tuple[bool, str]:
    """Is the NannyML venv there and importable? (ok, version or reason)."""
    if not NML_PY.exists():
        return False, f"no venv at {NML_PY} (see bench/README.md for the install)"
    p = subprocess.run(
        [str(NML_PY), "-c", "import importlib.metadata as m; import nannyml; print(m.version('nannyml'), "
         "m.version('pandas'))"],
        capture_output=True,
        text=True,
        env={**os.environ, "NML_DISABLE_USAGE_LOGGING": "1"},
    )  # fmt: skip
    if p.returncode != 0:
        return False, "nannyml does not import in its venv: " + (p.stderr.strip().splitlines() or ["?"])[-1]
    nv, pv = p.stdout.split()
    return True, f"NannyML {nv} (own venv, pandas {pv})"


def profile_tick(paths: dict[str, Path], window: str, top: int = 8) -> list[str]:
    """One extra daily/hourly ingest + tick, the tick under cProfile; top duckwatch entries by cumulative time."""
    d = WORK / f"dw-profile-{window}"
    shutil.rmtree(d, ignore_errors=True)
    env = {**os.environ, "DUCKWATCH_DATA_DIR": str(d)}
    subprocess.run([*DW, "init"], check=True, capture_output=True, env=env)
    declare_window(d, window)
    common = ["--model", MODEL, "--id-col", ID_COL, "--time-col", TIME_COL, "--score-col", SCORE_COL,
              "--prediction-col", PRED_COL, "--label-col", LABEL_COL]  # fmt: skip
    subprocess.run([*DW, "reference", str(paths["ref"]), *common], check=True, capture_output=True, env=env)
    subprocess.run([*DW, "run", "--quiet"], check=True, capture_output=True, env=env)
    subprocess.run(
        [*DW, "ingest", "predictions", str(paths["preds"]), *common], check=True, capture_output=True, env=env
    )
    prof = WORK / f"tick-{window}.prof"
    code = (
        "import cProfile, sys\nfrom duckwatch.cli import main\n"
        f'cProfile.run(\'main(["run", "--quiet"])\', {str(prof)!r})\n'
    )
    subprocess.run([PY, "-c", code], check=True, capture_output=True, env=env)
    shutil.rmtree(d, ignore_errors=True)
    return summarize_profile(prof, top)


def summarize_profile(prof: Path, top: int = 8) -> list[str]:
    """Total, then the top duckwatch functions by cumulative time (own time too), below the tick itself."""
    st = pstats.Stats(str(prof))
    total = st.total_tt  # type: ignore[attr-defined]
    rows = []
    for (fn, line, func), (_cc, nc, tt, ct, _callers) in st.stats.items():  # type: ignore[attr-defined]
        if "duckwatch" not in fn or "/cli" in fn:
            continue
        rows.append((ct, tt, f"{Path(fn).parent.name}/{Path(fn).name}:{line}({func})", nc))
    rows.sort(reverse=True)
    out = [f"profiled tick {total:.2f} s (cProfile overhead included)"]
    # skip the outermost wrappers (run_tick, compute_model: ~all of it), keep the entries below them
    wrappers = ("(run_tick)", "(compute_model)")
    below = [r for r in rows if r[0] <= 0.97 * total and not r[2].endswith(wrappers)]
    for ct, tt, name, nc in below[:top]:
        out.append(f"{ct:.2f} s cumulative ({tt:.2f} s own), {nc} calls: `{name}`")
    return out


def git_head() -> str:
    """Short HEAD commit and its date (read-only `git rev-parse` / `git log`), or '?'."""
    try:
        out = subprocess.run(
            ["git", "-C", str(ROOT), "log", "-1", "--format=%h %ci"],
            capture_output=True,
            text=True,
            timeout=10,
        ).stdout.strip()
        return out or "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def src_changed_since(t0: float) -> list[str]:
    """src/ files modified after ``t0`` (epoch seconds), as 'HH:MM:SS path' (others edit the same tree)."""
    out = []
    for f in (ROOT / "src").rglob("*"):
        try:
            m = f.stat().st_mtime
        except OSError:
            continue
        if f.is_file() and m > t0 and "__pycache__" not in f.parts:
            out.append((m, f"{datetime.fromtimestamp(m, UTC):%H:%M:%S} {f.relative_to(ROOT)}"))
    return [x for _m, x in sorted(out)]


def cpu_counters() -> dict[str, float]:
    """Machine-wide busy CPU seconds (/proc/stat), this process's and its reaped children's CPU seconds."""
    import resource

    busy = float("nan")
    try:
        f = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
        v = [int(x) for x in f]
        # user nice system idle iowait irq softirq steal (guest time is already in user)
        busy = (v[0] + v[1] + v[2] + v[5] + v[6]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        pass
    me, ch = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return {
        "busy": busy,
        "ours": me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime,
        "wall": time.monotonic(),
    }


def others_share(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    """CPU seconds other processes used between two cpu_counters() readings, and their share of capacity."""
    cap = (b["wall"] - a["wall"]) * (os.cpu_count() or 1)
    ours = b["ours"] - a["ours"]
    others = max(0.0, (b["busy"] - a["busy"]) - ours)
    if not cap > 0 or others != others:
        return {}
    return {"others_s": others, "ours_s": ours, "capacity_s": cap, "share": others / cap}


# -- report ----------------------------------------------------------------------------------------------
def med(xs: list[float]) -> float:
    """Median."""
    return float(statistics.median(xs))


def span(xs: list[float]) -> str:
    """'median (min-max)' seconds."""
    if len(xs) == 1:
        return f"{xs[0]:.2f}"
    return f"{med(xs):.2f} ({min(xs):.2f}-{max(xs):.2f})"


def machine() -> str:
    """CPUs, CPU model, RAM, OS (run_all.py's helpers)."""
    sys.path.insert(0, str(HERE))
    try:
        import run_all

        return f"{os.cpu_count()} CPUs ({run_all.cpu_model()}), {run_all.ram_gib()} RAM, {platform.system()} {platform.release()}"
    except Exception:
        return f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}"
    finally:
        sys.path.remove(str(HERE))


def dw_version() -> str:
    """Installed duckwatch version."""
    try:
        from importlib import metadata

        return metadata.version("duckwatch")
    except Exception:
        return "?"


def code_lines(code: dict[str, Any] | None) -> list[str]:
    """The code measured: HEAD at start/end and src/ files other people changed during the run."""
    if not code:
        return []
    text = f"- code: git HEAD {code['head_start']} at the start ({code.get('start', '?')})"
    if code["head_end"] != code["head_start"]:
        text += f", {code['head_end']} at the end"
    changed = code.get("changed") or []
    if code.get("note"):
        text += ". " + code["note"]
    if changed:
        text += (
            ". **src/ changed during the run** (others edit the same working tree; a process runs the code "
            "it imported when it started, so the runs mix versions): " + ", ".join(f"`{c}`" for c in changed)
        )
    elif code["head_end"] == code["head_start"]:
        text += "; no src/ file changed during the run"
    return [text]


def render(res: dict[str, Any]) -> str:
    """Markdown for results_chunked.md."""
    n, runs = res["rows"], res["runs"]
    oth = res.get("others") or {}
    busy = res["load_before"][0] > 0.5 or oth.get("share", 0.0) > 0.10
    lines = [
        "## Chunked, labelled workload: duckwatch windows vs NannyML chunks",
        "",
        f"- date: {res['date']}; machine: {res['machine']}; duckwatch {res['duckwatch_version']}; "
        f"peer: {res['peer']}",
        f"- load average (1/5/15 min) before: {' '.join(f'{x:.2f}' for x in res['load_before'])}; "
        f"after: {' '.join(f'{x:.2f}' for x in res['load_after'])}"
        + (
            f"; CPU used by other processes during the run: {oth['others_s']:,.0f} CPU-s of "
            f"{oth['capacity_s']:,.0f} ({oth['share']:.0%} of the machine; this benchmark used "
            f"{oth['ours_s']:,.0f} CPU-s)"
            if oth
            else ""
        )
        + (
            " — **preliminary: the machine was busy (load > 0.5 at the start or other processes used > 10% of "
            "the CPU during the run); every wall time is inflated, compare ratios from the same run**"
            if busy
            else " — the machine was otherwise idle"
        ),
        *code_lines(res.get("code")),
        f"- {n:,} labelled predictions (10 normal features, one 6-level categorical, score = sigmoid(1.5·f_00 + "
        f"noise), prediction = score > 0.5, label ~ Bernoulli(score); mild drift of f_01 and the category "
        f"shares in the last 10 days) spread evenly over 30 days; {REF_ROWS:,}-row labelled reference. "
        f"Medians of {runs} run(s) (min-max in brackets), duckwatch and NannyML alternated in the same run. "
        "Whole processes (Python start-up and imports included), wall seconds; peak MB = the largest peak RSS "
        "(GNU time) of the processes counted.",
        "- duckwatch: fresh data dir, `init`, window declared with `Collector.declare(model, window=...)` "
        "(untimed), `duckwatch reference` + the tick that profiles it (both timed apart, not counted), then "
        "counted: `duckwatch ingest predictions` + `duckwatch run` (the default tick: ingest, profiles, drift, "
        "quality, label drift, realised and estimated performance, alerts, notify, publish). Relabel: "
        f"`duckwatch ingest outcomes` of {res['relabel_rows']:,} label flips (2% of the ids, one per 50 rows, so "
        "every window) then one `duckwatch run`, timed on its own.",
        "- NannyML: one process: read both Parquet files, UnivariateDriftCalculator (KS + JS on the 10 features "
        "and the score, chi2 + JS on the categorical), PerformanceCalculator and CBPE (roc_auc, f1, accuracy), "
        "fitted on the reference, `chunk_period` D / h. It has no incremental path: a label correction "
        "means running it all again.",
        "",
    ]
    if res.get("nml_skip"):
        lines += [f"**NannyML not run (or not for every case): {res['nml_skip']}**", ""]
    lines += [
        "| case | duckwatch s (median, min-max) | duckwatch peak MB | NannyML s | NannyML peak MB "
        "| NannyML / duckwatch | NannyML / duckwatch, CPU s | duckwatch / NannyML memory | target | met? |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for case, (_w, _p) in CASES.items():
        dw = res["duckwatch"][case]
        nm = res["nannyml"].get(case) or []
        dws = [r["measured"] for r in dw]
        dwm = med([r["measured_rss"] for r in dw])
        ing, tic = [r["ingest"] for r in dw], [r["tick"] for r in dw]
        if nm:
            nms = [r["total"] for r in nm]
            nmm = med([r["rss"] for r in nm])
            ratio = med(nms) / med(dws)
            need = 3.0 if case == "daily" else 5.0
            met = "yes" if ratio >= need and dwm <= nmm else "no"
            met += f" ({ratio:.1f}x vs {need:.0f}x; memory {'<=' if dwm <= nmm else '>'} NannyML)"
            cpu_ratio = med([r["cpu"] for r in nm]) / med([r["ingest_cpu"] + r["tick_cpu"] for r in dw])
            nmc = (span(nms), f"{nmm:,.0f}", f"**{ratio:.2f}x**", f"{cpu_ratio:.2f}x", f"{dwm / nmm:.2f}")
        else:
            met, nmc = "n/a (NannyML not run)", ("not run", "-", "-", "-", "-")
        wins = dw[0].get("windows")
        nch = nm[0].get("chunks") if nm else None
        lines.append(
            f"| {case} ({wins if wins is not None else '?'} windows"
            + (f"; NannyML {nch} chunks" if nch is not None else "")
            + "): ingest + tick "
            f"| {span(dws)} | {dwm:,.0f} | {nmc[0]} | {nmc[1]} | {nmc[2]} | {nmc[3]} | {nmc[4]} | {TARGETS[case]} "
            f"| {met} |"
        )
        lines.append(
            f"| &nbsp;&nbsp;{case}: ingest alone | {span(ing)} | {med([r['ingest_rss'] for r in dw]):,.0f} "
            "| | | | | | | |"
        )
        lines.append(
            f"| &nbsp;&nbsp;{case}: tick alone | {span(tic)} | {med([r['tick_rss'] for r in dw]):,.0f} "
            f"| | | | | | | |"
        )
    for case in CASES:
        dw = res["duckwatch"][case]
        rt = [r["relabel_tick"] for r in dw]
        lim = 1.0 if case == "daily" else 3.0
        nm = res["nannyml"].get(case) or []
        if nm:
            nmt = med([r["total"] for r in nm])
            nmtxt, rat = f"{nmt:.2f} (a full rerun)", f"{nmt / med(rt):.1f}x"
            crat = f"{med([r['cpu'] for r in nm]) / med([r['relabel_tick_cpu'] for r in dw]):.1f}x"
        else:
            nmtxt, rat, crat = "not run", "-", "-"
        lines.append(
            f"| relabel {case}: `duckwatch run` after the corrections | {span(rt)} "
            f"| {med([r['relabel_tick_rss'] for r in dw]):,.0f} | {nmtxt} | - | {rat} | {crat} | - "
            f"| {TARGETS['relabel ' + case]} | {'yes' if med(rt) < lim else 'no'} ({med(rt):.2f} s) |"
        )
        lines.append(
            f"| &nbsp;&nbsp;relabel {case}: `duckwatch ingest outcomes` | "
            f"{span([r['relabel_ingest'] for r in dw])} | {med([r['relabel_ingest_rss'] for r in dw]):,.0f} "
            "| | | | | | | |"
        )
    lines += [
        "",
        "Targets (issue): >= 3x NannyML at daily, >= 5x at hourly, peak memory <= NannyML's; relabel tick "
        "< 1 s daily, < 3 s hourly. Earlier figures (../shared/BENCHMARKS.md, 2026-12-07 note, code of "
        "2026-11-23): NannyML 9.8 s / 1.1 GB daily, 33.8 s / 1.2 GB hourly; duckwatch 35 s / 273 s, relabel "
        "17 s / 201 s.",
        "",
        "Setup steps, not counted (medians): "
        + "; ".join(
            f"{case}: reference {med([r['reference'] for r in res['duckwatch'][case]]):.2f} s, reference tick "
            f"{med([r['reference_tick'] for r in res['duckwatch'][case]]):.2f} s / "
            f"{med([r['reference_tick_rss'] for r in res['duckwatch'][case]]):,.0f} MB"
            for case in CASES
        )
        + ".",
        "",
        "### Where the time goes",
        "",
    ]
    for case in CASES:
        dw = res["duckwatch"][case]
        lines.append(
            f"- duckwatch {case}: ingest {med([r['ingest'] for r in dw]):.2f} s wall / "
            f"{med([r['ingest_cpu'] for r in dw]):.2f} s CPU; tick {med([r['tick'] for r in dw]):.2f} s wall / "
            f"{med([r['tick_cpu'] for r in dw]):.2f} s CPU (run 1: `{dw[0]['tick_out']}`); relabel tick "
            f"{med([r['relabel_tick'] for r in dw]):.2f} s wall / {med([r['relabel_tick_cpu'] for r in dw]):.2f} s "
            f"CPU (run 1: `{dw[0]['relabel_tick_out']}`)"
        )
        nm = res["nannyml"].get(case) or []
        if nm:
            st = nm[0].get("stages", {})
            lines.append(
                f"- NannyML {case}: {med([r['total'] for r in nm]):.2f} s wall / "
                f"{med([r['cpu'] for r in nm]):.2f} s CPU, {nm[0].get('chunks', '?')} analysis chunks; in-process "
                "stages of the first run: " + ", ".join(f"{k} {v:.2f} s" for k, v in st.items())
            )
    prof = res.get("profile") or {}
    if prof:
        lines += ["", "### Appendix: cProfile of one `duckwatch run` tick (after ingest), duckwatch functions by "
                  "cumulative time", ""]  # fmt: skip
        for case, entries in prof.items():
            lines.append(f"- {case}: " + entries[0])
            lines += [f"  - {e}" for e in entries[1:]]
    if res.get("notes"):
        lines += ["", "### Notes", ""] + [f"- {x}" for x in res["notes"]]
    lines += [
        "",
        "Regenerate: `python bench/bench_chunked.py` (env `BENCH_RUNS`, default 3; `BENCH_CHUNKED_ROWS`, default "
        "600000; data in `bench/.work/chunked/`). NannyML peer: `python3 -m venv bench/.work/nannyml-venv && "
        'bench/.work/nannyml-venv/bin/pip install nannyml==0.13.1 statsmodels "pandas<3" pyarrow`; '
        "`bench/peers/nannyml_chunked.py`, run with `NML_DISABLE_USAGE_LOGGING=1`.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Generate the data, run the cases alternately, write results_chunked.md."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=int(os.environ.get("BENCH_RUNS", "3")))
    ap.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_CHUNKED_ROWS", "600000")))
    ap.add_argument("--no-nannyml", action="store_true")
    ap.add_argument(
        "--no-profile",
        action="store_true",
        default=os.environ.get("BENCH_CHUNKED_PROFILE", "1") == "0",
        help="skip the cProfile appendix",
    )
    ap.add_argument(
        "--render-only",
        action="store_true",
        help="rewrite results_chunked.md from the JSON twin of the last run",
    )
    args = ap.parse_args()
    if args.render_only:
        OUT_MD.write_text(render(json.loads((WORK / "results_chunked.json").read_text())))
        print(OUT_MD.read_text())
        return 0
    load_before = os.getloadavg()
    cpu0 = cpu_counters()
    t_start, head_start = time.time(), git_head()
    say(f"{args.rows:,} rows, {args.runs} run(s); load {load()}")
    paths = ensure_data(args.rows)
    ok, peer = (False, "--no-nannyml given") if args.no_nannyml else nml_ready()
    if not ok:
        say(f"NannyML skipped: {peer}")
    res: dict[str, Any] = {
        "rows": args.rows,
        "runs": args.runs,
        "relabel_rows": pq.read_metadata(paths["fix"]).num_rows,
        "machine": machine(),
        "duckwatch_version": dw_version(),
        "peer": peer if ok else "NannyML not run",
        "nml_skip": None if ok else peer,
    }
    dw: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
    nm: dict[str, list[dict[str, Any]]] = {c: [] for c in CASES}
    for i in range(args.runs):
        for case, (window, period) in CASES.items():
            say(f"run {i + 1}/{args.runs} duckwatch {case} (load {load()})")
            r = dw_case(paths, window, f"{case}-{i}")
            dw[case].append(r)
            say(
                f"  ingest {r['ingest']:.2f} s + tick {r['tick']:.2f} s = {r['measured']:.2f} s, "
                f"{r['measured_rss']:,.0f} MB; relabel tick {r['relabel_tick']:.2f} s; {r['tick_out']}"
            )
            if ok:
                say(f"run {i + 1}/{args.runs} NannyML {case} (load {load()})")
                try:
                    q = nml_case(paths, period)
                except (RuntimeError, ValueError, IndexError) as exc:
                    say(f"  NannyML failed, skipping it from here: {exc}")
                    ok, res["nml_skip"] = False, f"the peer failed: {str(exc)[-500:]}"
                    continue
                nm[case].append(q)
                say(
                    f"  {q['total']:.2f} s, {q['rss']:,.0f} MB, {q.get('chunks')} chunks, stages {q.get('stages')}"
                )
    res["duckwatch"] = dw
    res["nannyml"] = nm if any(nm.values()) else {}
    if any(nm.values()) and not all(nm.values()):
        res["nannyml"] = {c: v for c, v in nm.items() if v}
    if not args.no_profile:
        res["profile"] = {}
        for case, (window, _p) in CASES.items():
            say(f"cProfile of one {case} tick")
            try:
                res["profile"][case] = profile_tick(paths, window)
            except (subprocess.CalledProcessError, OSError) as exc:
                say(f"  profile failed: {exc}")
    res["load_before"], res["load_after"] = list(load_before), list(os.getloadavg())
    res["others"] = others_share(cpu0, cpu_counters())
    res["code"] = {
        "head_start": head_start,
        "head_end": git_head(),
        "start": f"{datetime.fromtimestamp(t_start, UTC):%H:%M:%S} UTC",
        "changed": src_changed_since(t_start),
    }
    res["date"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    (WORK / "results_chunked.json").write_text(json.dumps(res, indent=1, default=str))
    OUT_MD.write_text(render(res))
    print(OUT_MD.read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
