"""Whole-process timing shared by the benchmarks: wall seconds, peak RSS and CPU seconds of a command."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["timed"]


def timed(cmd: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cmd`` as a whole process; wall seconds and peak RSS MB (GNU time -v when present).

    GNU time reports the child's ru_maxrss, which the kernel keeps as the largest RSS of the process and
    every descendant it waited for (the peak of the tree's largest process, not a sum).
    """
    use_time = Path("/usr/bin/time").exists()
    full = ["/usr/bin/time", "-v", *cmd] if use_time else cmd
    t0 = time.perf_counter()
    p = subprocess.run(full, capture_output=True, text=True, env={**os.environ, **(env or {})})
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} failed ({p.returncode}):\n{p.stdout[-2000:]}\n{p.stderr[-3000:]}"
        )
    if use_time:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr)
        rss = int(m.group(1)) / 1024 if m else float("nan")
        u = re.search(r"User time \(seconds\): ([\d.]+)", p.stderr)
        s = re.search(r"System time \(seconds\): ([\d.]+)", p.stderr)
        cpu = float(u.group(1)) + float(s.group(1)) if u and s else float("nan")
    else:
        import resource

        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        cpu = float("nan")
    return {"wall": wall, "rss": rss, "cpu": cpu, "stdout": p.stdout, "stderr": p.stderr}
