"""Run every bench/bench_*.py, collect their Markdown outputs, rewrite bench/RESULTS.md.

Usage: python bench/run_all.py   (BENCH_SIZES=100k,1M for a quicker drift run; BENCH_HISTORY=0 skips the 10M-history case;
       BENCH_RUNS=1 BENCH_CHUNKED_ROWS=30000 for a quick chunked run)
       python bench/run_all.py --collect-only   (only rebuild RESULTS.md from existing results_*.md)
Each benchmark writes bench/results_<name>.md (bench_drift.py -> results_drift.md).
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
PACKAGES = ("duckwatch", "duckdb", "pyarrow", "numpy", "pandas", "polars")


def cpu_model() -> str:
    """CPU model name from /proc/cpuinfo (or platform)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def ram_gib() -> str:
    """Total RAM in GiB from /proc/meminfo."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                return f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return "unknown"


def _peer_version(python: Path, package: str) -> str | None:
    """A peer's version and its pandas, from the peer's own venv (None when it is not installed)."""
    if not python.exists():
        return None
    r = subprocess.run(
        [
            str(python),
            "-c",
            f"import importlib.metadata as m;print(m.version({package!r}),m.version('pandas'))",
        ],
        capture_output=True,
        text=True,
    )
    if r.returncode != 0:
        return None
    version, pandas_version = r.stdout.split()
    return f"{package} {version} (own venv, pandas {pandas_version})"


def versions() -> list[str]:
    """Installed versions of the packages that matter, plus the peers' own venvs (Evidently, NannyML)."""
    out = []
    for p in PACKAGES:
        try:
            out.append(f"{p} {metadata.version(p)}")
        except metadata.PackageNotFoundError:
            continue
    for venv, package in (("evidently-venv", "evidently"), ("nannyml-venv", "nannyml")):
        found = _peer_version(HERE / ".work" / venv / "bin" / "python", package)
        if found:
            out.append(found)
    return out


def main() -> int:
    """Run the benchmarks one after another and write RESULTS.md."""
    collect_only = "--collect-only" in sys.argv[1:]
    benches = sorted(HERE.glob("bench_*.py"))
    sections: list[str] = []
    failed: list[str] = []
    load_before = os.getloadavg()
    t0 = time.perf_counter()
    for b in benches:
        name = b.stem.removeprefix("bench_")
        md = HERE / f"results_{name}.md"
        if not collect_only:
            print(f"== {b.name}", flush=True)
            md.unlink(missing_ok=True)
            r = subprocess.run([sys.executable, str(b)])
        if not collect_only and r.returncode != 0:
            failed.append(f"{b.name} exited {r.returncode}")
        if md.exists():
            sections.append(md.read_text().strip())
        else:
            sections.append(f"## {name}\n\nno results ({b.name} wrote no {md.name}).")
    load_after = os.getloadavg()
    head = [
        "# Benchmark results",
        "",
        f"- date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; "
        + (
            "tables collected from earlier runs"
            if collect_only
            else f"total run {time.perf_counter() - t0:.0f} s"
        ),
        f"- machine: {os.cpu_count()} CPUs ({cpu_model()}), {ram_gib()} RAM, {platform.system()} {platform.release()}",
        f"- load average (1/5/15 min) before: {' '.join(f'{x:.1f}' for x in load_before)}; "
        f"after: {' '.join(f'{x:.1f}' for x in load_after)}",
        f"- Python {platform.python_version()}; " + ", ".join(versions()),
        "- regenerate: `make bench` (= `python bench/run_all.py`; `BENCH_SIZES=100k,1M make bench` for a quick run)",
    ]
    if failed:
        head.append("- FAILED: " + "; ".join(failed))
    (HERE / "RESULTS.md").write_text("\n".join(head) + "\n\n" + "\n\n".join(sections) + "\n")
    print((HERE / "RESULTS.md").read_text())
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
