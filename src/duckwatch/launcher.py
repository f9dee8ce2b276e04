"""`make run` / `make stop`: create the demo if needed, start the job loop, the app and live traffic."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from duckwatch.config import DataDir, resolve_data_dir

HEALTH_TIMEOUT_S = 60.0
KILL_AFTER_S = 10.0


def _pids_file(data: DataDir) -> Path:
    return data.root / ".run" / "pids.json"


def _ours(pid: int) -> bool:
    """True when pid is alive and is a duckwatch process (pids get reused)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"duckwatch" in cmdline


def _read_pids(data: DataDir) -> dict[str, object]:
    try:
        loaded = json.loads(_pids_file(data).read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _running(data: DataDir) -> dict[str, int]:
    pids = _read_pids(data).get("pids", {})
    if not isinstance(pids, dict):
        return {}
    return {str(k): int(v) for k, v in pids.items() if isinstance(v, int) and _ours(v)}


def _url(port: int) -> str:
    return f"http://127.0.0.1:{port}"


def wait_healthy(port: int, timeout_s: float = HEALTH_TIMEOUT_S) -> bool:
    """Poll the app's health endpoint until it answers 200 or the timeout passes."""
    deadline = time.monotonic() + timeout_s
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while time.monotonic() < deadline:
        try:
            with opener.open(f"{_url(port)}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return True
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.5)
    return False


def stop_pids(pids: dict[str, int], grace_s: float = KILL_AFTER_S) -> None:
    """SIGTERM our processes, then SIGKILL those still alive after ``grace_s``."""
    alive = {name: pid for name, pid in pids.items() if _ours(pid)}
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while alive and time.monotonic() < deadline:
        _reap()
        alive = {n: p for n, p in alive.items() if _ours(p) and not _zombie(p)}
        time.sleep(0.2)
    for pid in alive.values():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _reap()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] == "Z"
    except (OSError, IndexError):
        return True


def _reap() -> None:
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def run(data: DataDir, port: int, trickle_rate: float = 2.0) -> int:
    """Start (or report) the job loop, the app and live traffic; block until Ctrl-C/SIGTERM."""
    running = _running(data)
    if running:
        port = int(str(_read_pids(data).get("port", port)))
        print(f"duckwatch is already running: {_url(port)}  (make stop to stop it)")
        return 0
    data.ensure()
    if not data.settings.exists():
        from duckwatch import demo

        print(f"creating the demo data dir in {data.root} (about a minute, once)…", flush=True)
        demo.generate(data, progress=lambda msg: print(msg, flush=True))
    else:
        print(f"using the existing data in {data.root}", flush=True)
    logs = data.logs
    logs.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "duckwatch.cli"]
    commands = {
        "schedule": [*cli, "schedule", "--data-dir", str(data.root), "--every", "30"],
        "serve": [*cli, "serve", "--data-dir", str(data.root), "--port", str(port)],
        "trickle": [sys.executable, "-m", "duckwatch.launcher", "trickle", "--data-dir", str(data.root),
                    "--rate", str(trickle_rate)],
    }  # fmt: skip
    procs: dict[str, subprocess.Popen[bytes]] = {}
    stopping = False

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    old = signal.signal(signal.SIGTERM, _stop), signal.signal(signal.SIGINT, _stop)
    try:
        for name, cmd in commands.items():
            log = (logs / f"{name}.log").open("ab")
            procs[name] = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            log.close()
        _pids_file(data).parent.mkdir(parents=True, exist_ok=True)
        _pids_file(data).write_text(
            json.dumps({"port": port, "launcher": os.getpid(), "pids": {n: p.pid for n, p in procs.items()}})
        )
        if wait_healthy(port):
            print(f"duckwatch is running: {_url(port)}  (Ctrl-C or make stop to stop)", flush=True)
        else:
            print(
                f"the app did not answer on {_url(port)} within {HEALTH_TIMEOUT_S:.0f}s; see {logs / 'serve.log'}"
            )
            stopping = True
        trickle_warned = False
        while not stopping:
            dead = [n for n, p in procs.items() if p.poll() is not None and n != "trickle"]
            if dead:
                print(f"{', '.join(dead)} stopped unexpectedly; see {logs}/<name>.log. Stopping the rest.")
                break
            if not trickle_warned and procs["trickle"].poll() is not None:
                trickle_warned = True  # live demo traffic is optional: say so once, keep the rest running
                print(
                    f"live demo traffic stopped; see {logs / 'trickle.log'} (the app and the job keep running)",
                    flush=True,
                )
            time.sleep(0.5)
    finally:
        print("stopping duckwatch…", flush=True)
        stop_pids({n: p.pid for n, p in procs.items()})
        for p in procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                p.wait(timeout=1)
        with contextlib.suppress(OSError):
            _pids_file(data).unlink()
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGINT, old[1])
    return 0


def stop(data: DataDir) -> int:
    """Stop what `run` started (only processes that are still duckwatch's)."""
    info = _read_pids(data)
    pids = _running(data)
    launcher = info.get("launcher")
    if isinstance(launcher, int) and launcher != os.getpid() and _ours(launcher):
        pids["launcher"] = launcher
    if not pids:
        print("duckwatch is not running")
        with contextlib.suppress(OSError):
            _pids_file(data).unlink()
        return 0
    stop_pids(pids)
    with contextlib.suppress(OSError):
        _pids_file(data).unlink()
    print(f"stopped {', '.join(sorted(pids))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: `python -m duckwatch.launcher run|stop|trickle --data-dir D [--port P]`."""
    parser = argparse.ArgumentParser(prog="python -m duckwatch.launcher")
    parser.add_argument("command", choices=["run", "stop", "trickle"])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--port", type=int, default=8501)
    parser.add_argument("--rate", type=float, default=2.0, help="live predictions per second (trickle)")
    args = parser.parse_args(argv)
    data = resolve_data_dir(args.data_dir)
    if args.command == "run":
        return run(data, args.port)
    if args.command == "stop":
        return stop(data)
    from duckwatch.demo import trickle

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.suppress(KeyboardInterrupt):
        trickle(data, seconds=0, rate_per_s=args.rate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
