"""Who may write to the HTTP collector: the Host, the Origin, the content type and the bearer token.

A web page the user visits can make the browser POST to 127.0.0.1 (a "simple" cross-site request:
``text/plain``, a form) or, via DNS rebinding, under its own host name. So every request must name
one of the collector's own hosts (421 otherwise); a write must carry JSON (415: a browser cannot send
``application/json`` cross-site without a CORS preflight, which the collector never grants), come
from no browser origin or the collector's own (403) and carry the token (401). Reads (``/healthz``,
``/openapi.json``) need no token: they hold counters and the schema, nothing written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
HOSTS_ENV = "DUCKWATCH_ALLOWED_HOSTS"
ORIGINS_ENV = "DUCKWATCH_ALLOWED_ORIGINS"
_JSON_TYPES = frozenset({"application/json"})


class HttpError(Exception):
    """An error answered to the client as JSON ``{"error", "detail"}`` with an HTTP status."""

    def __init__(self, status: int, error: str, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.error = error
        self.detail = detail
        self.headers = dict(headers or {})
        if status == 401:
            self.headers["WWW-Authenticate"] = 'Bearer realm="duckwatch"'

    def response(self) -> JSONResponse:
        """The JSON response for this error."""
        return JSONResponse({"error": self.error, "detail": self.detail}, self.status, headers=self.headers)


def hostname(authority: str) -> str:
    """The host name of a ``Host`` header or URL authority, lower case, without port or brackets."""
    authority = authority.strip().lower()
    if authority.startswith("["):  # [::1]:8000
        return authority[1:].split("]", 1)[0]
    if authority.count(":") > 1:  # a bare IPv6 address
        return authority
    return authority.rsplit(":", 1)[0] if ":" in authority else authority


def idempotency_scope(token: str) -> str:
    """Idempotency keys are scoped by token: its hash names the scope, the token itself is never stored."""
    return "http:" + hashlib.sha256(token.encode()).hexdigest()[:16]


def split_list(raw: str | None) -> list[str]:
    """A comma-separated environment value as a list (empty entries dropped)."""
    return [item.strip() for item in (raw or "").split(",") if item.strip()]


@dataclass(frozen=True)
class Guard:
    """The checks of one collector: its token, its host names and the extra origins it trusts."""

    secret: bytes
    token_source: str
    hosts: frozenset[str]
    origins: frozenset[str]

    @classmethod
    def build(
        cls, token: str, token_source: str, hosts: Iterable[str] = (), origins: Iterable[str] = ()
    ) -> Guard:
        """A guard accepting the loopback names, ``hosts`` and the collector's own or listed origins."""
        names = {*LOOPBACK_HOSTS, *(hostname(h) for h in hosts if h)}
        return cls(
            token.encode(),
            token_source,
            frozenset(names - {"0.0.0.0", "::", ""}),  # a wildcard bind address is nobody's host name
            frozenset(o.strip().rstrip("/").lower() for o in origins if o.strip()),
        )

    @property
    def scope(self) -> str:
        """The idempotency scope of this guard's token."""
        return idempotency_scope(self.secret.decode())

    def host_problem(self, host: str | None) -> HttpError | None:
        """Why a request naming ``host`` is refused (DNS rebinding), or None."""
        if host is None or hostname(host) in self.hosts:
            return None  # no Host header: no browser sent it (every browser sends one)
        shown = json.dumps(host[:100])
        return HttpError(
            421,
            "host_not_allowed",
            f"this collector does not answer to the host name {shown}: call it by "
            f"{' or '.join(sorted(self.hosts))}, or start it with --allow-host NAME "
            f"(or ${HOSTS_ENV}=NAME,…) when a proxy or another name forwards to it",
        )

    def check_write(self, request: Request) -> None:
        """Refuse a write not in JSON (415), from another web origin (403) or without the right token (401)."""
        self._check_json(request)
        self._check_origin(request)
        self._check_token(request)

    def _check_origin(self, request: Request) -> None:
        origin = request.headers.get("origin")
        if origin is None:
            if request.headers.get("sec-fetch-site", "") in ("cross-site", "same-site"):
                raise self._foreign("a page of another site")
            return
        normal = origin.strip().rstrip("/").lower()
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        if normal == own or normal in self.origins:
            return
        raise self._foreign(f"the page at {json.dumps(origin[:100])}")

    @staticmethod
    def _foreign(who: str) -> HttpError:
        return HttpError(
            403,
            "origin_not_allowed",
            f"writes from {who} are refused (a browser request from another web origin): send rows from "
            "a program, not a web page, or start the collector with --allow-origin ORIGIN "
            f"(or ${ORIGINS_ENV}=ORIGIN,…) to trust that page",
        )

    @staticmethod
    def _check_json(request: Request) -> None:
        given = request.headers.get("content-type", "")
        if given.split(";", 1)[0].strip().lower() in _JSON_TYPES:
            return
        raise HttpError(
            415,
            "unsupported_media_type",
            f"the body must be sent as 'Content-Type: application/json' (got {json.dumps(given[:100] or 'none')}); "
            'e.g. curl -H \'Content-Type: application/json\' -d \'{"id": "r1", "score": 0.7}\'',
        )

    def _check_token(self, request: Request) -> None:
        header = request.headers.get("authorization", "")
        scheme, _, given = header.partition(" ")
        # compare_digest on bytes: constant time, whatever the header holds.
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), self.secret):
            return
        why = "missing" if not header else "wrong"
        raise HttpError(
            401,
            "unauthorized",
            f"{why} token: send the header 'Authorization: Bearer <token>' with the collector's token, "
            f"which it read from {self.token_source}",
        )


class HostCheck:
    """ASGI middleware: every request, read or write, must name one of the collector's hosts."""

    def __init__(self, app: ASGIApp, guard: Guard) -> None:
        self.app = app
        self.guard = guard

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = dict(scope["headers"]).get(b"host")
            problem = self.guard.host_problem(None if raw is None else raw.decode("latin-1"))
            if problem is not None:
                await problem.response()(scope, receive, send)
                return
        await self.app(scope, receive, send)


__all__ = [
    "HOSTS_ENV",
    "ORIGINS_ENV",
    "Guard",
    "HostCheck",
    "HttpError",
    "hostname",
    "idempotency_scope",
    "split_list",
]
