"""Real local receivers on 127.0.0.1 for notification tests: a webhook (HTTP) and an SMTP server."""

from __future__ import annotations

import base64
import json
import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver:
    """What the receiver got: one parsed JSON body per POST, and each request's path and headers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, object]] = []
        self.requests: list[tuple[str, dict[str, str]]] = []

    def texts(self) -> list[str]:
        """The messages' text fields."""
        return [str(m.get("text", "")) for m in self.received]


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """Serve POST /… on a free loopback port for the duration; bodies land in ``received``."""
    receiver = Receiver("")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            receiver.received.append(json.loads(body))
            receiver.requests.append((self.path, dict(self.headers.items())))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return

    server = HTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()


class Mailbox:
    """What the SMTP receiver got: each message's raw text and each AUTH PLAIN login (user, password)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.messages: list[str] = []
        self.logins: list[tuple[str, str]] = []


@contextmanager
def smtp_receiver() -> Iterator[Mailbox]:
    """Just enough SMTP for smtplib, with AUTH PLAIN: greeting, EHLO, AUTH, MAIL, RCPT, DATA, QUIT."""
    box = Mailbox(0)

    class Handler(socketserver.StreamRequestHandler):
        def _say(self, line: str) -> None:
            self.wfile.write(line.encode() + b"\r\n")

        def handle(self) -> None:
            self._say("220 test ready")
            while raw := self.rfile.readline():
                line = raw.decode().strip()
                cmd = line.upper()
                if cmd.startswith("EHLO"):
                    self._say("250-test")
                    self._say("250 AUTH PLAIN")
                elif cmd.startswith("AUTH PLAIN "):
                    _zid, user, password = base64.b64decode(line.split()[2]).decode().split("\0")
                    box.logins.append((user, password))
                    self._say("235 authenticated")
                elif cmd.startswith(("HELO", "MAIL", "RCPT", "RSET", "NOOP")):
                    self._say("250 ok")
                elif cmd == "DATA":
                    self._say("354 go ahead")
                    lines = []
                    while (data := self.rfile.readline()) not in (b".\r\n", b""):
                        lines.append(data.decode())
                    box.messages.append("".join(lines))
                    self._say("250 queued")
                elif cmd == "QUIT":
                    self._say("221 bye")
                    return
                else:
                    self._say("502 not implemented")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    box.port = int(server.server_address[1])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield box
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
