"""A real local webhook receiver on 127.0.0.1 for notification tests."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, HTTPServer


class Receiver:
    """What the receiver got: one parsed JSON body per POST."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.received: list[dict[str, object]] = []

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
