"""Whether the server's protocol breaks the client's, decided without I/O.

The server's ``welcome`` names its protocol's fingerprint. When it is not the client's own, the
client reads the server's bundled schema (``GET /schema`` beside the WebSocket endpoint) and
diffs its own protocol against it (:func:`datadivr.compat.diff_protocols`): a change that
breaks clients ends the connection with an
:class:`~datadivr.exceptions.IncompatibleProtocolError`, or warns, as the client's
``on_incompatible`` says. The client around this module only fetches the schema.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from datadivr.compat import Side, diff_protocols
from datadivr.exceptions import IncompatibleProtocolError, IncompatibleProtocolWarning

__all__ = [
    "MAX_SCHEMA_BYTES",
    "OnIncompatible",
    "incompatibility",
    "needs_check",
    "read_bundle",
    "resolve",
    "schema_url",
]

OnIncompatible = Literal["raise", "warn", "ignore"]
"""What the client does when the server's protocol breaks it: raise
:class:`~datadivr.exceptions.IncompatibleProtocolError` (the default), warn with
:class:`~datadivr.exceptions.IncompatibleProtocolWarning` and go on, or not check at all."""

ON_INCOMPATIBLE: tuple[OnIncompatible, ...] = ("raise", "warn", "ignore")

#: The largest schema the client reads from the server.
MAX_SCHEMA_BYTES = 32 * 1024 * 1024


def schema_url(ws_url: str) -> str:
    """The server's ``GET /schema`` beside its WebSocket endpoint: ``ws://h:p/prefix/ws``
    gives ``http://h:p/prefix/schema`` (``wss`` gives ``https``); the query is kept."""
    parts = urlsplit(ws_url)
    scheme = {"ws": "http", "wss": "https"}.get(parts.scheme.lower(), parts.scheme)
    folder = parts.path.rpartition("/")[0]
    return urlunsplit((scheme, parts.netloc, f"{folder}/schema", parts.query, ""))


def needs_check(own: str, server: str | None, on_incompatible: OnIncompatible) -> bool:
    """Whether the client must read the server's schema: the server named a fingerprint
    that is not the client's own, and the client was not told to ignore it."""
    return on_incompatible != "ignore" and server is not None and server != own


def read_bundle(body: bytes) -> Mapping[str, Any]:
    """The bundled schema in a ``GET /schema`` body.

    Raises:
        ValueError: the body is not a JSON object.
    """
    data = json.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the schema is not a JSON object")
    return data


def incompatibility(
    own_bundle: Mapping[str, Any],
    server_bundle: Mapping[str, Any],
    *,
    client_fingerprint: str,
    server_fingerprint: str,
) -> IncompatibleProtocolError | None:
    """The error for a server whose protocol breaks the client's; ``None`` when the change
    from the client's protocol (old) to the server's (new) breaks no client.

    Raises:
        ValueError: a bundle is not a bundled datadivr protocol.
    """
    diff = diff_protocols(own_bundle, server_bundle)
    if Side.CLIENTS not in diff.breaks:
        return None
    return IncompatibleProtocolError(
        diff.headline(Side.CLIENTS),
        diff=diff,
        client_fingerprint=client_fingerprint,
        server_fingerprint=server_fingerprint,
    )


def resolve(error: IncompatibleProtocolError, on_incompatible: OnIncompatible) -> None:
    """Raise ``error``, or warn with its text, as ``on_incompatible`` says.

    Raises:
        IncompatibleProtocolError: ``error``, unless told to warn or ignore.
    """
    if on_incompatible == "raise":
        raise error
    if on_incompatible == "warn":
        warnings.warn(str(error), IncompatibleProtocolWarning, stacklevel=2)
