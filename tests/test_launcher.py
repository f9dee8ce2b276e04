"""`python -m duckwatch.launcher stop` on stale or broken pids.json: no crash, nothing foreign killed."""

from __future__ import annotations

import contextlib
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from duckwatch.config import DataDir


def _stop(data: DataDir) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "duckwatch.launcher", "stop", "--data-dir", str(data.root)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def foreign() -> Iterator[subprocess.Popen[bytes]]:
    """A live process that is not duckwatch's (its pid must survive `stop`)."""
    proc = subprocess.Popen(["sleep", "60"])
    try:
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _write_pids(data: DataDir, content: str) -> Path:
    path = data.root / ".run" / "pids.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def test_stop_with_stale_pids_kills_nothing_foreign(
    data_dir: DataDir, foreign: subprocess.Popen[bytes]
) -> None:
    pids = {"schedule": _dead_pid(), "serve": foreign.pid, "trickle": "not-a-pid"}
    path = _write_pids(data_dir, json.dumps({"port": 1, "launcher": foreign.pid, "pids": pids}))
    result = _stop(data_dir)
    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout
    assert "Traceback" not in result.stderr
    assert foreign.poll() is None, "stop killed a process that is not duckwatch's"
    assert not path.exists()


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", '{"pids": [1]}', ""])
def test_stop_with_broken_pids_file(data_dir: DataDir, content: str) -> None:
    _write_pids(data_dir, content)
    result = _stop(data_dir)
    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout


def test_stop_without_pids_file(data_dir: DataDir) -> None:
    result = _stop(data_dir)
    assert result.returncode == 0, result.stderr
    assert "not running" in result.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _lines(proc: subprocess.Popen[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            out.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return out


def _wait_for(lines: queue.Queue[str], text: str, timeout_s: float = 90.0) -> str:
    seen = ""
    deadline = time.monotonic() + timeout_s
    while text not in seen:
        try:
            seen += lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            pytest.fail(f"launcher never printed {text!r}; printed: {seen!r}")
    return seen


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def _processes_using(*markers: str) -> list[str]:
    """Live processes whose command line holds one of ``markers``."""
    found = []
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit() or not _alive(int(proc_dir.name)):
            continue
        with contextlib.suppress(OSError):
            cmdline = (proc_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            if any(m in cmdline for m in markers):
                found.append(cmdline)
    return found


def test_run_survives_trickle_death_and_stop_stops_everything(data_dir: DataDir) -> None:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "duckwatch.launcher",
            "run",
            "--data-dir",
            str(data_dir.root),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        lines = _lines(proc)
        _wait_for(lines, f"duckwatch is running: http://127.0.0.1:{port}")
        pids = json.loads((data_dir.root / ".run" / "pids.json").read_text())["pids"]
        with contextlib.suppress(ProcessLookupError):
            os.kill(pids["trickle"], signal.SIGKILL)
        _wait_for(lines, "live demo traffic stopped")
        assert _alive(pids["serve"]) and _alive(pids["schedule"]), "losing the demo traffic stopped the app"
        result = _stop(data_dir)
        assert result.returncode == 0, result.stderr
        assert "stopped" in result.stdout
        proc.wait(timeout=30)
        assert not [name for name, pid in pids.items() if _alive(pid)]
        assert not _processes_using(str(data_dir.root), f"--server.port={port}"), (
            "a process of this data dir survived `stop`"
        )
        assert not (data_dir.root / ".run" / "pids.json").exists()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.stdout:
            proc.stdout.close()
