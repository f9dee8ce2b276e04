"""HTTP routes beside the Streamlit app that set and clear the HttpOnly sign-in cookie.

Streamlit cannot set cookies from a script run (``st.context.cookies`` is read-only), but ``st.App``
serves extra Starlette routes on the same origin. The page POSTs a one-time code here right after a
sign-in; the answer sets the session token as an HttpOnly, SameSite=Strict cookie that page scripts
cannot read. The token is random (``secrets``) and the store keeps only its hash: no signing key and
no hand-rolled crypto.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from duckwatch.config import resolve_data_dir
from duckwatch.store import sessions
from duckwatch.store.settings import Settings

__all__ = ["COOKIE", "SESSION_PATH", "SIGNOUT_PATH", "routes"]

COOKIE = "duckwatch_session"
SESSION_PATH = "/_duckwatch/session"
SIGNOUT_PATH = "/_duckwatch/signout"
_MAX_BODY = 200


def _settings() -> Settings:
    return Settings(resolve_data_dir().settings)


def _same_origin(request: Request) -> bool:
    """Refuse cross-site posts: a browser always sends Origin on a POST fetch."""
    origin = request.headers.get("origin")
    return origin is not None and urlsplit(origin).netloc == request.headers.get("host")


async def _session(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused\n", status_code=403, media_type="text/plain")
    code = (await request.body())[:_MAX_BODY].decode("utf-8", "replace").strip()
    redeemed = await run_in_threadpool(sessions.redeem_handoff, _settings(), code) if code else None
    if redeemed is None:
        return Response(
            "sign-in code unknown, used or expired: sign in again\n", 400, media_type="text/plain"
        )
    token, max_age = redeemed
    response = Response(status_code=204)
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def _signout(request: Request) -> Response:
    if not _same_origin(request):
        return Response("cross-site request refused\n", status_code=403, media_type="text/plain")
    token = request.cookies.get(COOKIE)
    if token:
        found = await run_in_threadpool(lambda: sessions.resolve(_settings(), token=token))
        if found is not None:
            await run_in_threadpool(sessions.revoke, _settings(), found.session_id)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


def routes() -> list[BaseRoute]:
    """The cookie routes to mount beside the app."""
    return [Route(SESSION_PATH, _session, methods=["POST"]), Route(SIGNOUT_PATH, _signout, methods=["POST"])]
