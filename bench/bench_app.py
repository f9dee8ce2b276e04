"""App render time: `duckwatch serve` on a 50-model x 90-day x 50-feature data dir, timed in headless Chromium.

Run: ``.venv/bin/python bench/bench_app.py [--models 50] [--days 90] [--rows-per-day 200] [--warm 10]``.
Builds the data dir once through the Collector SDK + job ticks (cached in ``bench/.work/app-<M>x<D>/``;
if building would take over ``--build-budget-min`` minutes it stops adding models at 20 and says so),
starts ``duckwatch serve``, and for each page measures the cold load (first load after the server
started) and ``--warm`` repeated loads. "Rendered" = Streamlit's script run finished
(``stApp[data-test-script-state=notRunning]``) and no loading skeletons remain.
Writes a Markdown table to ``bench/results_app.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from duckwatch import Collector
from duckwatch.config import DataDir
from duckwatch.jobs.tick import run_tick

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
END = datetime(2026, 11, 1, tzinfo=UTC)
CHUNK = 5  # models per collector pass + tick
REDUCED_MODELS = 20
RENDERED_JS = (
    "() => { const app = document.querySelector('[data-testid=\"stApp\"]');"
    " return app !== null && app.getAttribute('data-test-script-state') === 'notRunning'"
    " && document.querySelectorAll('[data-testid=\"stSkeleton\"]').length === 0"
    " && document.querySelectorAll('[data-testid=\"stStatusWidget\"]').length === 0; }"
)

# Marks the next script run: set when stApp's script state turns to running (in-app navigation keeps the document).
WATCH_JS = (
    "() => { window.__dwRan = false; const app = document.querySelector('[data-testid=\"stApp\"]');"
    " if (window.__dwObs) window.__dwObs.disconnect();"
    " window.__dwObs = new MutationObserver(() => { if (app.getAttribute('data-test-script-state') === 'running')"
    " window.__dwRan = true; });"
    " window.__dwObs.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']}); }"
)
NAV_PATH = {
    "portfolio": "",
    "model": "model",
    "compare": "compare",
    "thresholds": "thresholds",
    "alerts": "alerts",
}
NAV_PATH["audit"] = "audit"


def model_frames(i: int, days: int, features: int, per_day: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predictions and outcomes of synthetic model i: `features` features (1 in 10 categorical), drift late."""
    rng = np.random.default_rng([2026, i])
    n = days * per_day
    start = END - timedelta(days=days)
    secs = np.sort(np.repeat(np.arange(days) * 86400, per_day) + rng.integers(0, 86400, n))
    ts = pd.to_datetime(start) + pd.to_timedelta(secs, unit="s")
    day = secs // 86400
    shift = np.where(day >= days - 10, 0.6, 0.0) if i % 3 == 0 else np.zeros(n)
    cols: dict[str, Any] = {"request_id": [f"m{i}-{k}" for k in range(n)], "ts": ts}
    for j in range(features):
        if j % 10 == 9:
            cols[f"c{j}"] = rng.choice(["a", "b", "c", "d", "e"], n)
        else:
            cols[f"f{j}"] = rng.normal(shift if j == 0 else 0.0, 1.0, n)
    cols["region"] = rng.choice(["north", "south", "east", "west"], n)
    logit = cols["f0"] - 0.5 * cols["f1"]
    score = 1 / (1 + np.exp(-logit))
    cols["score"] = score
    cols["prediction"] = (score > 0.5).astype(int)
    preds = pd.DataFrame(cols)
    label = (rng.random(n) < score).astype(int)
    outcomes = pd.DataFrame({"request_id": preds["request_id"], "label": label})
    return preds, outcomes


def build(root: Path, models: int, days: int, features: int, per_day: int, budget_s: float) -> dict[str, Any]:
    """Write the models CHUNK at a time (collector + one tick each); stop at REDUCED_MODELS if over budget."""
    data = DataDir(root).ensure()
    t0 = time.perf_counter()
    done, windows, reduced, chunks = 0, 0, False, []
    target = models
    while done < target:
        c0 = time.perf_counter()
        names = list(range(done, min(done + CHUNK, target)))
        with Collector(root) as col:
            for i in names:
                col.declare(
                    f"model-{i:02d}", display_name=f"Model {i:02d}", owner=f"team{i % 7}@example.com",
                    task="binary", timezone="UTC", window="day", label_horizon_hours=48,
                    id="request_id", timestamp="ts", prediction="prediction", scores=["score"],
                    label="label", segments=["region"], categorical=["region"],
                )  # fmt: skip
                preds, outcomes = model_frames(i, days, features, per_day)
                col.log_predictions(f"model-{i:02d}", preds, version="v1")
                col.log_outcomes(f"model-{i:02d}", outcomes)
            col.flush()
        ingest_s = time.perf_counter() - c0
        report = run_tick(data, now=END, notify=False)
        if report.errors:
            raise RuntimeError("tick errors: " + "; ".join(report.errors))
        done += len(names)
        windows += report.windows_computed
        chunk_s = time.perf_counter() - c0
        chunks.append(
            {"models": len(names), "ingest_s": round(ingest_s, 1), "tick_s": round(report.duration_s, 1)}
        )
        print(
            f"  built {done}/{target} models: chunk {chunk_s:.0f}s ({report.windows_computed} windows)",
            flush=True,
        )
        projected = (time.perf_counter() - t0) / done * target
        if not reduced and target > REDUCED_MODELS and projected > budget_s:
            reduced, target = True, max(REDUCED_MODELS, done)
            print(f"  projected {projected / 60:.0f} min > budget: stopping at {target} models", flush=True)
    return {
        "models": done, "requested_models": models, "reduced": reduced, "days": days, "features": features,
        "rows_per_day": per_day, "predictions": done * days * per_day, "windows": windows,
        "build_s": round(time.perf_counter() - t0, 1), "chunks": chunks,
    }  # fmt: skip


def cached_build(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """Reuse bench/.work/app-MxD/ when complete (build.json present), else build it from scratch."""
    root = HERE / ".work" / f"app-{args.models}x{args.days}"
    meta = root / "build.json"
    if meta.exists():
        return root, json.loads(meta.read_text())
    tmp = root.with_name(root.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"building {tmp} ({args.models} models x {args.days} days x {args.features} features)…", flush=True)
    info = build(tmp, args.models, args.days, args.features, args.rows_per_day, args.build_budget_min * 60)
    (tmp / "build.json").write_text(json.dumps(info, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root, info


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path, port: int) -> subprocess.Popen[bytes]:
    """`duckwatch serve` in its own process group; returns once /_stcore/health answers."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    cmd = [sys.executable, "-m", "duckwatch.cli", "serve", "--data-dir", str(root), "--port", str(port)]
    log = (root.parent / "serve.log").open("wb")
    proc = subprocess.Popen(
        cmd, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError(f"`duckwatch serve` did not become healthy; see {root.parent / 'serve.log'}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL after 10 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def time_pages(url: str, pages: dict[str, str], warm: int, shots: Path | None) -> dict[str, dict[str, Any]]:
    """Cold (first) then ``warm`` repeated loads of each page; seconds from goto to rendered."""
    from playwright.sync_api import sync_playwright

    out: dict[str, dict[str, Any]] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(120_000)

            def load(path: str) -> float:
                t0 = time.perf_counter()
                page.goto(f"{url}{path}")
                page.wait_for_function(RENDERED_JS, polling=20)
                return time.perf_counter() - t0

            def click(name: str) -> float:
                page.evaluate(WATCH_JS)
                t0 = time.perf_counter()
                page.locator(f'[data-testid="stSidebarNav"] a[href$="/{NAV_PATH[name]}"]').first.click()
                page.wait_for_function(f"() => window.__dwRan && ({RENDERED_JS})()", polling=20)
                return time.perf_counter() - t0

            for name, path in pages.items():
                cold = load(path)
                if shots is not None:
                    page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
                errors = (
                    page.get_by_text("Traceback").count()
                    + page.locator('[data-testid="stException"]').count()
                )
                runs = [load(path) for _ in range(warm)]
                out[name] = {"cold": cold, "warm": runs, "errors": errors}
                print(
                    f"  {name:<10} cold {cold:.2f}s  warm median {statistics.median(runs):.2f}s", flush=True
                )
            load("/")
            nav: dict[str, list[float]] = {name: [] for name in pages}
            names = list(pages)
            order = [*names[1:], names[0]]  # start away from the page we are on
            for _ in range(warm):
                for name in order:
                    nav[name].append(click(name))
            for name in pages:
                out[name]["nav"] = nav[name]
                print(f"  {name:<10} in-app nav median {statistics.median(nav[name]):.2f}s", flush=True)
        finally:
            browser.close()
    return out


def data_layer(root: Path, model: str) -> list[tuple[str, float, str]]:
    """Uncached cost (best of 3, seconds) of the reads behind the pages, called in-process."""
    from duckwatch.jobs import app_views, views

    data = DataDir(root)
    frame = app_views.metrics(data, model)
    calls: list[tuple[str, Any, str]] = [
        ("app_views.portfolio (all models)", lambda: app_views.portfolio(data), "portfolio; picker of model/compare/thresholds/audit"),
        ("views.models_overview (all models)", lambda: views.models_overview(data), "inside portfolio and model_card"),
        ("app_views.model_card (one model)", lambda: app_views.model_card(data, model), "model, audit (not cached)"),
        ("app_views.metrics (one model)", lambda: app_views.metrics(data, model), f"{len(frame):,} rows; once per model in portfolio"),
        ("app_views.health (one model)", lambda: app_views.health(frame, {}, []), "once per model in portfolio"),
        ("app_views.headline (one model)", lambda: app_views.headline(frame), "once per model in portfolio"),
        ("app_views.drift_table (one model)", lambda: app_views.drift_table(frame), "model page"),
        ("views.job_status", lambda: views.job_status(data), "every page (not cached)"),
    ]  # fmt: skip
    out = []
    for label, fn, where in calls:
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t0)
        out.append((label, best, where))
    return out


def p95(values: list[float]) -> float:
    """95th percentile (linear interpolation)."""
    return float(np.percentile(values, 95))


def machine() -> str:
    """nproc, RAM, CPU model, versions."""
    ram = "?"
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    cpu = platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    chromium = subprocess.run(
        [CHROMIUM, "--version"], capture_output=True, text=True, check=False
    ).stdout.strip()
    pkgs = ", ".join(
        f"{p} {version(p)}" for p in ("duckwatch", "streamlit", "duckdb", "pandas", "playwright")
    )
    return f"{os.cpu_count()} CPUs ({cpu}), RAM {ram}, Python {platform.python_version()}, {pkgs}, {chromium}"


def report(
    info: dict[str, Any],
    results: dict[str, dict[str, Any]],
    warm: int,
    load: tuple[float, ...],
    layer: list[tuple[str, float, str]],
) -> str:
    """The Markdown results."""
    lines = [
        "# App render time (headless Chromium)",
        "",
        f"Machine: {machine()}; load average (1/5/15 min) at start {' '.join(f'{x:.1f}' for x in load)}.",
        "",
        f"Data dir: {info['models']} models x {info['days']} days (daily windows) x {info['features']} features "
        f"(+ score, prediction, label, 1 segment), {info['rows_per_day']} predictions per model per day "
        f"({info['predictions']:,} predictions), {info['windows']:,} windows computed. Built through the "
        f"Collector SDK + job ticks in {info['build_s'] / 60:.1f} min"
        + (
            f" — **reduced from {info['requested_models']} to {info['models']} models** because building "
            "all of them would have taken over the budget."
            if info["reduced"]
            else "."
        ),
        "",
        f"Cold = first load of the page after `duckwatch serve` started (pages in this order, so only the "
        f"first one pays the server's import/compile); warm = the next {warm} loads (full page navigations, "
        "new Streamlit session each, server caches warm); in-app nav = clicking the page's sidebar link from "
        f"another page ({warm} times each, same session, no reload; the model page then shows the default model). "
        "Rendered = Streamlit's script run finished and no loading skeleton left. Target: warm p95 < 1 s.",
        "",
        "| page | cold (s) | warm median (s) | warm p95 (s) | warm p95 < 1 s | in-app nav median (s) | in-app nav p95 (s) |",
        "|---|---:|---:|---:|:---:|---:|---:|",
    ]
    for name, r in results.items():
        ok = "yes" if p95(r["warm"]) < 1.0 else "**no**"
        err = " (error shown!)" if r["errors"] else ""
        lines.append(
            f"| {name}{err} | {r['cold']:.2f} | {statistics.median(r['warm']):.2f} | {p95(r['warm']):.2f} | {ok} "
            f"| {statistics.median(r['nav']):.2f} | {p95(r['nav']):.2f} |"
        )
    lines += [
        "",
        "Uncached reads behind the pages (in-process, best of 3; `ui/data.py` caches most of them for "
        "30 s and until the job publishes again):",
        "",
        "| call | seconds | used by |",
        "|---|---:|---|",
        *(f"| `{label}` | {secs:.3f} | {where} |" for label, secs, where in layer),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build (or reuse) the data dir, serve it, time each page, write bench/results_app.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--rows-per-day", type=int, default=200)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--build-budget-min", type=float, default=15.0)
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument(
        "--shots", action="store_true", help="save a screenshot of each page in bench/.work/shots/"
    )
    ap.add_argument("--data-dir", type=Path, help="time an existing data dir (with build.json) instead")
    args = ap.parse_args()
    if args.data_dir is not None:
        root, info = args.data_dir, json.loads((args.data_dir / "build.json").read_text())
    else:
        root, info = cached_build(args)
    print(f"data dir {root}: {info['models']} models, built in {info['build_s']:.0f}s", flush=True)
    if args.build_only:
        return 0
    shots = HERE / ".work" / "shots" if args.shots else None
    if shots is not None:
        shots.mkdir(parents=True, exist_ok=True)
    pages = {
        "portfolio": "/",
        "model": "/model?model=model-00",
        "compare": "/compare",
        "thresholds": "/thresholds?model=model-00",
        "alerts": "/alerts",
        "audit": "/audit",
    }
    load = os.getloadavg()
    port = free_port()
    proc = start_server(root, port)
    try:
        results = time_pages(f"http://127.0.0.1:{port}", pages, args.warm, shots)
    finally:
        stop_server(proc)
    layer = data_layer(root, "model-00")
    text = report(info, results, args.warm, load, layer)
    (HERE / "results_app.md").write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
