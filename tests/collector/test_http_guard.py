"""Cross-site writes to the real HTTP collector: content type, Host, Origin and the default token."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from duckwatch.config import DataDir
from tests.collector.test_http import AUTH, TOKEN, serve

PATH = "/v1/models/m/predictions"
ROW = b'{"id": "r1", "score": 0.5}'
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def client(data_dir: DataDir) -> Iterator[httpx.Client]:
    with serve(data_dir) as base, httpx.Client(base_url=base, timeout=30) as c:
        yield c


def _landed(data: DataDir) -> list[Path]:
    return list(data.landing.glob("predictions/*/*.parquet"))


def test_the_simple_requests_a_web_page_can_send_are_refused_415(
    client: httpx.Client, data_dir: DataDir
) -> None:
    # What a page on any site can make the browser send without a CORS preflight: text/plain and forms,
    # with a JSON body. Even with the right token (a page cannot have it, but no type is a loophole).
    evil = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    for ctype in ("text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded"):
        for headers in ({"Content-Type": ctype} | evil, {"Content-Type": ctype} | AUTH):
            r = client.post(PATH, content=ROW, headers=headers)
            assert r.status_code == 415, (ctype, r.text)
            assert r.json()["error"] == "unsupported_media_type"
            assert "Content-Type: application/json" in r.json()["detail"]
    form = client.post(PATH, files={"f": ("rows.json", ROW)}, headers=AUTH)  # multipart/form-data
    assert form.status_code == 415
    none = client.post(PATH, content=ROW, headers=AUTH)  # no Content-Type at all
    assert none.status_code == 415 and '"none"' in none.json()["detail"]
    assert _landed(data_dir) == []
    ok = client.post(PATH, content=ROW, headers={"Content-Type": "application/json; charset=utf-8"} | AUTH)
    assert ok.status_code == 200 and ok.json()["landed"] == 1


def test_a_host_name_that_is_not_the_collectors_is_refused_421(data_dir: DataDir) -> None:
    # DNS rebinding: evil.example resolves to 127.0.0.1, and the browser sends Host: evil.example.
    with serve(data_dir, allowed_hosts=["collector.internal"]) as base, httpx.Client(base_url=base) as c:
        port = base.rsplit(":", 1)[1]
        for host in ("evil.example", f"evil.example:{port}", "127.0.0.2", "localhost.evil.example"):
            r = c.post(PATH, content=ROW, headers={"Host": host} | JSON | AUTH)
            assert r.status_code == 421, (host, r.text)
            assert "--allow-host" in r.json()["detail"]
            assert c.get("/healthz", headers={"Host": host}).status_code == 421  # reads too
        for host in (f"127.0.0.1:{port}", f"localhost:{port}", "LOCALHOST", f"collector.internal:{port}"):
            r = c.post(PATH, content=ROW, headers={"Host": host} | JSON | AUTH)
            assert r.status_code == 200, (host, r.text)
    assert len(_landed(data_dir)) == 4


def test_a_write_from_a_page_of_another_origin_is_refused_403(data_dir: DataDir) -> None:
    with serve(data_dir, allowed_origins=["https://ops.example"]) as base, httpx.Client(base_url=base) as c:
        for origin in ("https://evil.example", "http://127.0.0.1:8501", "null"):
            r = c.post(PATH, content=ROW, headers={"Origin": origin} | JSON | AUTH)
            assert r.status_code == 403, (origin, r.text)
            assert r.json()["error"] == "origin_not_allowed" and "--allow-origin" in r.json()["detail"]
        no_origin = {"Sec-Fetch-Site": "cross-site"} | JSON | AUTH
        assert c.post(PATH, content=ROW, headers=no_origin).status_code == 403
        assert _landed(data_dir) == []
        for origin in (base, "https://ops.example", "https://OPS.example/"):
            r = c.post(PATH, content=ROW, headers={"Origin": origin} | JSON | AUTH)
            assert r.status_code == 200, (origin, r.text)
        assert c.get("/healthz", headers={"Origin": "https://evil.example"}).status_code == 200


def test_no_or_a_wrong_token_is_401_saying_how_to_send_it_and_where_it_is(data_dir: DataDir) -> None:
    with serve(data_dir, token=None) as base, httpx.Client(base_url=base) as c:
        for auth in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Bearer"},
            {"Authorization": "x"},
        ):
            r = c.post(PATH, content=ROW, headers=JSON | auth)
            assert r.status_code == 401, r.text
            detail = r.json()["detail"]
            assert "Authorization: Bearer <token>" in detail
            assert str(data_dir.root / "collector.token") in detail
        assert c.get("/healthz").status_code == 200 and c.get("/openapi.json").status_code == 200
    assert _landed(data_dir) == []


def test_the_token_is_generated_owner_only_at_the_first_start_and_reused(data_dir: DataDir) -> None:
    path = data_dir.root / "collector.token"
    assert not path.exists()
    key = {"Idempotency-Key": "restart-1"} | JSON
    answers = []
    for _ in range(2):
        with serve(data_dir, token=None) as base:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            auth = {"Authorization": f"Bearer {path.read_text().strip()}"}
            answers.append(httpx.post(base + PATH, content=ROW, headers=key | auth, timeout=30).json())
    assert len(path.read_text().strip()) >= 40
    # The same token after the restart: the same idempotency scope, so the retry is a replay.
    assert [a["replayed"] for a in answers] == [False, True]
    assert len(_landed(data_dir)) == 1


def _collect(
    data: DataDir, *args: str, env: dict[str, str] | None = None
) -> tuple[str, int, subprocess.Popen[str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [
        sys.executable,
        "-m",
        "duckwatch.cli",
        "collect",
        "--port",
        str(port),
        "--data-dir",
        str(data.root),
    ]
    full_env = {k: v for k, v in os.environ.items() if k != "DUCKWATCH_TOKEN"} | (env or {})
    proc = subprocess.Popen([*cmd, *args], env=full_env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            httpx.get(base + "/healthz", timeout=1)
            return base, port, proc
        except httpx.TransportError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                raise AssertionError(proc.communicate()[1]) from None
            time.sleep(0.1)


def _stop(proc: subprocess.Popen[str]) -> str:
    proc.terminate()
    return proc.communicate(timeout=20)[1]


@pytest.mark.parametrize("how", ["--token-file", "env", "--token", "default"])
def test_the_collect_command_takes_the_token_from_a_file_the_environment_or_the_data_dir(
    data_dir: DataDir, tmp_path: Path, how: str
) -> None:
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN + "\n")
    args = {"--token-file": ["--token-file", str(token_file)], "--token": ["--token", TOKEN]}.get(how, [])
    env = {"DUCKWATCH_TOKEN": TOKEN} if how == "env" else {}
    base, _port, proc = _collect(data_dir, *args, env=env)
    try:
        token = (data_dir.root / "collector.token").read_text().strip() if how == "default" else TOKEN
        assert httpx.post(base + PATH, content=ROW, headers=JSON, timeout=30).status_code == 401
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.post(base + PATH, content=ROW, headers=JSON | auth, timeout=30)
        assert r.status_code == 200 and r.json()["landed"] == 1
    finally:
        err = _stop(proc)
    assert token not in err  # the token is never printed, only where it is
    assert ("generated a new token in" in err) == (how == "default")
    assert ("visible to every user" in err) == (how == "--token")
    assert (how != "default") == (not (data_dir.root / "collector.token").exists())


def test_the_collect_command_refuses_an_unusable_token_in_one_line(data_dir: DataDir, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("\n")
    cases = [
        (["--token-file", str(tmp_path / "missing")], "does not exist"),
        (["--token-file", str(empty)], "printable ASCII"),
        (["--token", "has space"], "printable ASCII"),
    ]
    for args, needle in cases:
        cmd = [sys.executable, "-m", "duckwatch.cli", "collect", *args, "--data-dir", str(data_dir.root)]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert done.returncode == 2, done
        assert needle in done.stderr and "Traceback" not in done.stderr
        assert len(done.stderr.strip().splitlines()) == 1
