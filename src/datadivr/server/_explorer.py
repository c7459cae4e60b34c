"""The protocol explorer at ``GET /``: a page that lists the events and talks to ``/ws``.

The page is static files shipped in the package (``static/explorer/``), read once and
served with a strict Content-Security-Policy: scripts and styles from this origin only, no
inline code, and connections to this host alone (HTTP for ``/events``, WebSocket for ``/ws``).
"""

from __future__ import annotations

import re
from importlib import resources

from fastapi import APIRouter, HTTPException, Request
from starlette.responses import Response

__all__ = ["ASSETS", "content_security_policy", "explorer_router"]

#: The page's files, in ``datadivr/static/explorer/``, with their media types.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "explorer.js": "text/javascript; charset=utf-8",
    "frames.js": "text/javascript; charset=utf-8",
    "markdown.js": "text/javascript; charset=utf-8",
    "explorer.css": "text/css; charset=utf-8",
}
#: A ``Host`` header that may be written into the policy as it is: a name or an IPv4 or
#: bracketed IPv6 address, and a port.
_HOST = re.compile(r"(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


def content_security_policy(host: str | None) -> str:
    """The page's policy: nothing from elsewhere, no inline script or style, no framing.

    ``connect-src`` names ``ws://`` and ``wss://`` on ``host`` besides ``'self'``: browsers that
    predate CSP Level 3 do not count a WebSocket to the same host as ``'self'``. A ``host``
    that is not a plain host and port is left out rather than quoted into the header.
    """
    connect = "'self'"
    if host is not None and _HOST.fullmatch(host):
        connect += f" ws://{host} wss://{host}"
    return "; ".join(
        (
            "default-src 'self'",
            f"connect-src {connect}",
            "img-src 'self' data:",  # data: for the empty favicon, which saves a 404
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        )
    )


def explorer_router() -> APIRouter:
    """Routes: ``GET /`` (the page) and ``GET /explorer/{name}`` (its scripts and style)."""
    router = APIRouter(include_in_schema=False)
    folder = resources.files("datadivr") / "static" / "explorer"
    files = {name: folder.joinpath(name).read_bytes() for name in ASSETS}

    def serve(name: str, request: Request) -> Response:
        return Response(
            files[name],
            media_type=ASSETS[name],
            headers={
                "Content-Security-Policy": content_security_policy(request.headers.get("host")),
                "X-Content-Type-Options": "nosniff",
                "Referrer-Policy": "no-referrer",
                # A server upgrade must not leave a stale page in browsers' caches.
                "Cache-Control": "no-cache",
            },
        )

    @router.get("/")
    async def page(request: Request) -> Response:
        return serve("index.html", request)

    @router.get("/explorer/{name}")
    async def asset(name: str, request: Request) -> Response:
        if name not in ASSETS or name == "index.html":
            raise HTTPException(404, "Not Found")
        return serve(name, request)

    return router
