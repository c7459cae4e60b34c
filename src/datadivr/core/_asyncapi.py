"""A generated package's AsyncAPI document, with the server that serves it.

The generated ``asyncapi.json`` describes the protocol wherever it is served: it has no
``servers``. :func:`asyncapi_for` adds the one a client connects to, from its WebSocket URL (as
``GET /asyncapi.json`` sees it in the request, or as ``datadivr schema asyncapi --server``
names it), and, when the server requires the shared token, the three ways a client presents it
(see :func:`datadivr.server._auth.presented_token`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

__all__ = ["SECURITY_SCHEMES", "SERVER", "asyncapi_for", "server_object"]

#: The key of the server in the document's ``servers``.
SERVER = "datadivr"
#: The channel's address: the path of the WebSocket below the server's ``pathname``.
_CHANNEL_ADDRESS = "/ws"
#: How a client presents the shared token; any one of them will do.
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "token_bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "The shared token in the handshake's `Authorization: Bearer <token>`.",
    },
    "token_query": {
        "type": "httpApiKey",
        "name": "token",
        "in": "query",
        "description": "The shared token as the one `token` query parameter of the handshake "
        "(`/ws?token=<token>`, percent-encoded).",
    },
    "token_subprotocol": {
        "type": "httpApiKey",
        "name": "Sec-WebSocket-Protocol",
        "in": "header",
        "description": "For browsers, which cannot set headers: the subprotocol "
        "`datadivr.token.<token>` offered next to `datadivr`, as in "
        '`new WebSocket(url, ["datadivr", "datadivr.token." + token])`.',
    },
}


def server_object(url: str, *, token: bool = False) -> dict[str, Any]:
    """The AsyncAPI 3.0 Server Object of the server whose WebSocket is at ``url``.

    Args:
        url: ``ws://`` or ``wss://``, a host (and port), and the path of the WebSocket, which
            ends in ``/ws``: what comes before it is the server's ``pathname`` (an app mounted
            below a prefix), ``/ws`` itself is the channel's address.
        token: Declare the shared token's security schemes (see :data:`SECURITY_SCHEMES`).

    Raises:
        ValueError: ``url`` is not such a URL; the message says what is wrong.
    """
    try:
        parts = urlsplit(url)
        host = parts.netloc
        parts.port  # noqa: B018 (a port that is no number, or out of range, raises)
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL: {exc}") from None
    if parts.scheme not in ("ws", "wss"):
        raise ValueError(f"{url!r}: the server URL must start with ws:// or wss://")
    if not host or parts.hostname is None:
        raise ValueError(f"{url!r}: the server URL must name a host, e.g. ws://127.0.0.1:8765/ws")
    if "@" in host:
        raise ValueError(f"{url!r}: the server URL must not carry credentials")
    if parts.query or parts.fragment:
        raise ValueError(f"{url!r}: the server URL must have no query and no fragment")
    path = parts.path.rstrip("/") if parts.path != _CHANNEL_ADDRESS else parts.path
    if not path.endswith(_CHANNEL_ADDRESS):
        raise ValueError(
            f"{url!r}: the server URL must end in {_CHANNEL_ADDRESS}, the WebSocket's path"
        )
    server: dict[str, Any] = {"host": host, "protocol": parts.scheme}
    pathname = path.removesuffix(_CHANNEL_ADDRESS)
    if pathname:
        server["pathname"] = pathname
    server["title"] = "datadivr server"
    server["description"] = (
        f"The WebSocket is at `{parts.scheme}://{host}{path}` (the channel `ws`)."
        + (" Clients present the shared token one of three ways." if token else "")
    )
    if token:
        server["security"] = [
            {"$ref": f"#/components/securitySchemes/{name}"} for name in SECURITY_SCHEMES
        ]
    return server


def asyncapi_for(document: dict[str, Any], url: str, *, token: bool = False) -> dict[str, Any]:
    """``document`` (a generated ``asyncapi.json``, left unchanged) with its server: the one
    whose WebSocket is at ``url`` (see :func:`server_object`), and, with ``token``, the
    shared token's security schemes under ``components.securitySchemes``.

    Raises:
        ValueError: ``url`` is not the WebSocket URL of a server.
    """
    server = server_object(url, token=token)
    out: dict[str, Any] = {}
    for key, value in document.items():
        out[key] = value
        if key == "info":
            out["servers"] = {SERVER: server}
    out.setdefault("servers", {SERVER: server})
    if token:
        components = dict(out.get("components", {}))
        components["securitySchemes"] = {
            name: dict(scheme) for name, scheme in SECURITY_SCHEMES.items()
        }
        out["components"] = components
    return out
