"""Who may connect: identities, the shared-token check and the ``Origin`` allowlist."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.websockets import WebSocket

__all__ = ["Authenticate", "Identity", "token_authenticator"]

#: Browsers, which cannot set headers, may offer the token as the subprotocol
#: ``datadivr.token.<token>``, next to ``datadivr``:
#: ``new WebSocket(url, ["datadivr", "datadivr.token." + token])``.
TOKEN_SUBPROTOCOL_PREFIX = "datadivr.token."


@dataclass(frozen=True)
class Identity:
    """Who a connection belongs to, as the authentication hook found out.

    Attributes:
        subject: A name for the peer: a user id, a device id, ``"token"``.
        claims: Anything else the hook learnt (roles, tenant …).
    """

    subject: str
    claims: Mapping[str, Any] = field(default_factory=dict)


Authenticate = Callable[[WebSocket], Awaitable["Identity | None"]]
"""The authentication hook: it gets the connection before the handshake completes (headers,
query parameters, client address) and returns its :class:`Identity`, or ``None`` to refuse it
with HTTP 403. Handlers see the identity as ``ctx.identity``."""


def presented_token(websocket: WebSocket) -> str | None:
    """The token a client presented: ``Authorization: Bearer …``, else the one ``token`` query
    parameter, else a ``datadivr.token.…`` subprotocol."""
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    # The query string parsed by starlette (``urllib.parse.parse_qsl``), once: names and values
    # percent-decoded (``%74oken`` is ``token``), ``&`` the only separator. Several ``token``
    # parameters present none: they are ambiguous, and would try many tokens in one handshake.
    tokens = websocket.query_params.getlist("token")
    if len(tokens) == 1 and tokens[0]:
        return tokens[0]
    offers: list[str] = websocket.scope.get("subprotocols", [])
    for offered in offers:
        if offered.startswith(TOKEN_SUBPROTOCOL_PREFIX):
            return offered[len(TOKEN_SUBPROTOCOL_PREFIX) :]
    return None


def token_authenticator(token: str) -> Authenticate:
    """A hook that admits the clients presenting ``token`` (see :func:`presented_token`),
    compared in constant time, as ``Identity("token")``.

    A browser cannot present every token accepted here as a subprotocol: a subprotocol holds
    only HTTP token characters (letters, digits and ``!#$%&'*+-.^_`|~``), and
    ``new WebSocket(url, protocols)`` throws a ``SyntaxError`` on any other, such as
    ``( ) / : < = > ? @ [ ] { }``. Such a token still works in ``Authorization`` and in the
    ``token`` query parameter (percent-encoded), but not in the explorer page, which presents
    it as a subprotocol. ``secrets.token_urlsafe()`` makes tokens that work everywhere.

    Raises:
        ValueError: ``token`` is empty or not printable ASCII (HTTP headers carry no more).
    """
    if not token:
        raise ValueError("the shared token must not be empty")
    if not (token.isascii() and token.isprintable()) or any(c in token for c in ' ,;"\\'):
        raise ValueError(
            "the shared token must be printable ASCII without spaces, commas, semicolons, "
            "quotes or backslashes, e.g. secrets.token_urlsafe(32)"
        )
    expected = token.encode()

    async def authenticate(websocket: WebSocket) -> Identity | None:
        presented = presented_token(websocket)
        if presented is None:
            return None
        if hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), expected):
            return Identity("token")
        return None

    return authenticate


def origin_allowed(origin: str | None, allowed: Collection[str] | None) -> bool:
    """Whether a connection with this ``Origin`` header may open.

    ``allowed=None`` admits any origin. Otherwise the origin must be listed exactly
    (``https://app.example.com``, scheme and port included; ``*`` admits any), and a connection
    without an ``Origin`` header, which browsers always send, is a non-browser client: it is
    admitted, and left to authentication.
    """
    if allowed is None or origin is None or "*" in allowed:
        return True
    return origin.rstrip("/").lower() in {entry.rstrip("/").lower() for entry in allowed}
