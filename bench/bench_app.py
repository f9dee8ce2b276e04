"""App render time: `duckwatch serve` on a 50-model x 90-day x 50-feature data dir, timed in headless Chromium.

Run: ``.venv/bin/python bench/bench_app.py [--models 50] [--days 90] [--rows-per-day 200] [--warm 10]``.
Builds the data dir once through the Collector SDK + job ticks (all days of ``--chunk`` models logged, then one
backfill tick over those models), cached in ``bench/.work/app-<M>x<D>/``: a smaller cached dir of the same shape is
extended in a copy, an interrupted build resumes from ``.partial``. Then times, in the same browser: a trivial
two-page Streamlit app (the floor) and each duckwatch page: the cold load (first after the server started),
``--warm`` full reloads and ``--warm`` in-app navigations (sidebar click, same session). "Rendered" = Streamlit's
script run finished (``stApp[data-test-script-state=notRunning]``) and no loading skeletons remain.
Writes a Markdown table to ``--out`` (default ``bench/results_app.md``).
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
PAGES = {
    "portfolio": "/",
    "model": "/model?model=model-00",
    "compare": "/compare",
    "thresholds": "/thresholds?model=model-00",
    "alerts": "/alerts",
    "audit": "/audit",
}
NAV_PATH = {name: path.split("?")[0].lstrip("/") for name, path in PAGES.items()}
FLOOR_PAGES = {"floor": "/", "floor-b": "/b"}
FLOOR_TITLES = {"floor": "Floor A", "floor-b": "Floor B"}


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


def _declare_and_log(col: Collector, i: int, days: int, features: int, per_day: int) -> None:
    """Declare synthetic model i and log all its days of predictions and outcomes (one SDK batch each)."""
    col.declare(
        f"model-{i:02d}", display_name=f"Model {i:02d}", owner=f"team{i % 7}@example.com",
        task="binary", timezone="UTC", window="day", label_horizon_hours=48,
        id="request_id", timestamp="ts", prediction="prediction", scores=["score"],
        label="label", segments=["region"], categorical=["region"],
    )  # fmt: skip
    preds, outcomes = model_frames(i, days, features, per_day)
    col.log_predictions(f"model-{i:02d}", preds, version="v1")
    col.log_outcomes(f"model-{i:02d}", outcomes)


def build(root: Path, info: dict[str, Any], models: int, chunk: int, budget_s: float) -> dict[str, Any]:
    """Add models ``info['models']``..``models``: log all 90 days of a chunk through the SDK, then one backfill
    tick over just that chunk (the job's own code); ``info`` (build.json) is rewritten after each chunk so
    an interrupted build resumes. Stops at REDUCED_MODELS if the projection is over budget."""
    data = DataDir(root).ensure()
    days, features, per_day = info["days"], info["features"], info["rows_per_day"]
    t0 = time.perf_counter()
    start, target = info["models"], models
    info["requested_models"] = models
    while info["models"] < target:
        c0 = time.perf_counter()
        names = list(range(info["models"], min(info["models"] + chunk, target)))
        with Collector(root) as col:
            for i in names:
                _declare_and_log(col, i, days, features, per_day)
            col.flush()
        ingest_s = time.perf_counter() - c0
        wanted = {f"model-{i:02d}" for i in names}
        report = run_tick(data, now=END, notify=False, models=lambda m, w=wanted: m.model in w)
        if report.errors:
            raise RuntimeError("tick errors: " + "; ".join(report.errors))
        info["models"] += len(names)
        info["windows"] += report.windows_computed
        info["predictions"] = info["models"] * days * per_day
        info["build_s"] = round(info["build_s"] + time.perf_counter() - c0, 1)
        info["chunks"].append(
            {"models": len(names), "ingest_s": round(ingest_s, 1), "tick_s": round(report.duration_s, 1),
             "load": [round(x, 1) for x in os.getloadavg()]}
        )  # fmt: skip
        (root / "build.json").write_text(json.dumps(info, indent=1))
        print(
            f"  built {info['models']}/{target} models: chunk {time.perf_counter() - c0:.0f}s "
            f"({report.windows_computed} windows, load {os.getloadavg()[0]:.1f})",
            flush=True,
        )
        projected = (time.perf_counter() - t0) / (info["models"] - start) * (target - start)
        if target > REDUCED_MODELS and projected > budget_s and info["models"] >= REDUCED_MODELS:
            target = info["models"]
            print(f"  projected {projected / 60:.0f} min > budget: stopping at {target} models", flush=True)
    info["reduced"] = info["models"] < models
    return info


def cached_build(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    """Reuse bench/.work/app-MxD/ when it holds enough models; extend a smaller one of the same shape
    (days, features, rows per day) in a copy, else build from scratch. Resumes an interrupted ``.partial``."""
    root = HERE / ".work" / f"app-{args.models}x{args.days}"
    tmp = root.with_name(root.name + ".partial")
    shape = {"days": args.days, "features": args.features, "rows_per_day": args.rows_per_day}

    def read(folder: Path) -> dict[str, Any] | None:
        meta = folder / "build.json"
        if not meta.exists():
            return None
        info: dict[str, Any] = json.loads(meta.read_text())
        return info if all(info.get(k) == v for k, v in shape.items()) else None

    done = read(root)
    if done is not None and done["models"] >= args.models:
        return root, done
    info = read(tmp)
    if info is None or (done is not None and info["models"] < done["models"]):
        shutil.rmtree(tmp, ignore_errors=True)
        if done is not None:
            print(f"extending {root} from {done['models']} models (copy in {tmp})", flush=True)
            shutil.copytree(root, tmp)
            info = done
        else:
            DataDir(tmp).ensure()
            info = {**shape, "models": 0, "windows": 0, "predictions": 0, "build_s": 0.0, "chunks": []}
            (tmp / "build.json").write_text(json.dumps(info, indent=1))
    print(
        f"building {tmp} up to {args.models} models x {args.days} days x {args.features} features…",
        flush=True,
    )
    info = build(tmp, info, args.models, args.chunk, args.build_budget_min * 60)
    (tmp / "build.json").write_text(json.dumps(info, indent=1))
    shutil.rmtree(root, ignore_errors=True)
    tmp.rename(root)
    return root, info


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


FLOOR_APP = """import streamlit as st

def a() -> None:
    st.title("Floor A")
    st.write("An almost empty page: what any Streamlit page costs here.")

def b() -> None:
    st.title("Floor B")
    st.write("The other almost empty page.")

st.set_page_config(page_title="floor", layout="wide", initial_sidebar_state="expanded")
nav = st.navigation([st.Page(a, title="A", url_path="a", default=True), st.Page(b, title="B", url_path="b")])
st.sidebar.caption("Same shape as duckwatch: wide layout, sidebar navigation and one sidebar line.")
nav.run()
"""


def start_server(root: Path, port: int, floor: bool = False) -> subprocess.Popen[bytes]:
    """`duckwatch serve` (or, with ``floor``, a two-page trivial app under the same `streamlit run` flags)
    in its own process group; returns once /_stcore/health answers."""
    from duckwatch.ui import serve_cli

    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    if floor:
        script = HERE / ".work" / "floor_app.py"
        script.write_text(FLOOR_APP)
        cmd = serve_cli.command(port, "127.0.0.1")
        cmd[cmd.index(str(serve_cli.app_path()))] = str(script)
    else:
        cmd = [sys.executable, "-m", "duckwatch.cli", "serve", "--data-dir", str(root), "--port", str(port)]
    log = (HERE / ".work" / ("floor.log" if floor else "serve.log")).open("wb")
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
    raise RuntimeError(f"the server did not become healthy; see {log.name}")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL after 10 s."""
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def time_pages(
    url: str,
    pages: dict[str, str],
    nav_paths: dict[str, str],
    titles: dict[str, str],
    warm: int,
    shots: Path | None,
) -> dict[str, dict[str, Any]]:
    """Cold (first) then ``warm`` repeated loads of each page, then ``warm`` in-app navigations to each
    (sidebar link, same session); seconds from goto/click to rendered."""
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
                page.locator(f'[data-testid="stSidebarNav"] a[href$="/{nav_paths[name]}"]').first.click()
                # A very fast run may never show "running" in the DOM (React batches it): the new page's
                # title (its first element) arriving then counts as the run having started.
                started = "[...document.querySelectorAll('h1')].some(h => h.textContent.trim() === title)"
                page.wait_for_function(
                    f"(title) => (window.__dwRan || {started}) && ({RENDERED_JS})()",
                    arg=titles[name],
                    polling=20,
                )
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
            load(next(iter(pages.values())))
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
    from duckwatch.readmodels import app_views, views
    from duckwatch.store import published

    data = DataDir(root)
    frame = app_views.metrics(data, model)
    last = frame["window_start"].max()
    calls: list[tuple[str, Any, str]] = [
        ("app_views.portfolio (all models)", lambda: app_views.portfolio(data), "portfolio (cached until a publish)"),
        ("app_views.model_row (one model)", lambda: app_views.model_row(data, model), "model header, thresholds"),
        ("app_views.model_card (one model)", lambda: app_views.model_card(data, model), "audit"),
        ("app_views.metrics (one model, every row)", lambda: app_views.metrics(data, model), f"{len(frame):,} rows; `duckwatch export` (no page reads it any more)"),
    ]  # fmt: skip
    if hasattr(published, "metric_slice"):
        calls += [
            ("published.metric_catalog", lambda: published.metric_catalog(data, model), "version picker, thresholds monitors"),
            ("published.metric_slice(model_level)", lambda: published.metric_slice(data, model, model_level=True), "model overview"),
            ("published.metric_slice(drift, 1 window)", lambda: published.metric_slice(data, model, families=("drift",), window_start=last), "model diagnose"),
            ("published.latest_per_series", lambda: published.latest_per_series(data, model), "compare"),
        ]  # fmt: skip
    calls.append(("views.job_status", lambda: views.job_status(data), "portfolio (not cached)"))
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


def _row(name: str, r: dict[str, Any]) -> str:
    ok = "yes" if p95(r["warm"]) < 1.0 else "**no**"
    nav_ok = "yes" if p95(r["nav"]) < 1.0 else "**no**"
    err = " (error shown!)" if r["errors"] else ""
    return (
        f"| {name}{err} | {r['cold']:.2f} | {statistics.median(r['warm']):.2f} | {p95(r['warm']):.2f} | {ok} "
        f"| {statistics.median(r['nav']):.2f} | {p95(r['nav']):.2f} | {nav_ok} |"
    )


def report(
    info: dict[str, Any],
    results: dict[str, dict[str, Any]],
    floor: dict[str, dict[str, Any]],
    warm: int,
    load: tuple[tuple[float, ...], tuple[float, ...]],
    layer: list[tuple[str, float, str]],
) -> str:
    """The Markdown results."""
    pooled = {
        k: [x for r in floor.values() for x in (r[k] if k != "cold" else [r[k]])] for k in ("warm", "nav")
    }
    floor_row = {"cold": floor["floor"]["cold"], "errors": 0, **pooled}
    lines = [
        "| page | cold (s) | warm median (s) | warm p95 (s) | warm p95 < 1 s | in-app nav median (s) "
        "| in-app nav p95 (s) | nav p95 < 1 s |",
        "|---|---:|---:|---:|:---:|---:|---:|:---:|",
        *(_row(name, r) for name, r in results.items()),
        _row("*floor: empty 2-page Streamlit app*", floor_row),
        "",
        f"Machine: {machine()}; load average (1/5/15 min) at start "
        f"{' '.join(f'{x:.1f}' for x in load[0])}, at end {' '.join(f'{x:.1f}' for x in load[1])}.",
        "",
        f"Data dir: {info['models']} models x {info['days']} days (daily windows) x {info['features']} features "
        f"(+ score, prediction, label, 1 segment), {info['rows_per_day']} predictions per model per day "
        f"({info['predictions']:,} predictions), {info['windows']:,} windows computed. Built through the "
        f"Collector SDK (all days of a chunk of models logged first) + one backfill job tick per chunk, "
        f"{info['build_s'] / 60:.1f} min in all"
        + (
            f" — **reduced from {info['requested_models']} to {info['models']} models** because building "
            "all of them would have taken over the budget."
            if info.get("reduced")
            else "."
        ),
        "",
        f"Cold = first load of the page after `duckwatch serve` started (pages in this order, so only the "
        f"first one pays the server's import/compile); warm = the next {warm} loads (full page navigations, "
        "new Streamlit session each, server caches warm); in-app nav = clicking the page's sidebar link from "
        f"another page ({warm} times each, same session, no reload; the model page then shows the default "
        "model and its Overview tab). Rendered = Streamlit's script run finished and no loading skeleton left. "
        "Floor = the same measures on a trivial two-page app (title + one line) served with the same "
        "`streamlit run` flags, in the same run and browser: any page's full reload costs at least that "
        "here. Target: warm p95 < 1 s.",
        "",
        "Uncached reads behind the pages (in-process, best of 3; `ui/data.py` caches them until the job "
        "publishes the model's file again, keyed on the published files' mtimes):",
        "",
        "| call | seconds | used by |",
        "|---|---:|---|",
        *(f"| `{label}` | {secs:.3f} | {where} |" for label, secs, where in layer),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Build (or reuse) the data dir, serve it, time each page and the floor, write the results table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--models", type=int, default=50)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--features", type=int, default=50)
    ap.add_argument("--rows-per-day", type=int, default=200)
    ap.add_argument("--warm", type=int, default=10)
    ap.add_argument("--build-budget-min", type=float, default=60.0)
    ap.add_argument("--chunk", type=int, default=10, help="models per SDK pass + backfill tick")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument(
        "--shots", action="store_true", help="save a screenshot of each page in bench/.work/shots/"
    )
    ap.add_argument("--data-dir", type=Path, help="time an existing data dir (with build.json) instead")
    ap.add_argument("--out", type=Path, default=HERE / "results_app.md", help="where to write the table")
    ap.add_argument("--pages", default=",".join(PAGES), help="comma-separated subset of pages to time")
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
    pages = {name: PAGES[name] for name in args.pages.split(",")}
    start_load = os.getloadavg()
    port = free_port()
    proc = start_server(root, port, floor=True)
    try:
        floor = time_pages(
            f"http://127.0.0.1:{port}",
            FLOOR_PAGES,
            {"floor": "", "floor-b": "b"},
            FLOOR_TITLES,
            args.warm,
            None,
        )
    finally:
        stop_server(proc)
    proc = start_server(root, port)
    try:
        results = time_pages(
            f"http://127.0.0.1:{port}", pages, NAV_PATH, {n: n.capitalize() for n in PAGES}, args.warm, shots
        )
    finally:
        stop_server(proc)
    end_load = os.getloadavg()
    layer = data_layer(root, "model-00")
    text = report(info, results, floor, args.warm, (start_load, end_load), layer)
    args.out.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
