"""The server: the FastAPI app at ``/ws`` around the :class:`~datadivr.core.Hub`, and the
uvicorn that serves it.

Admission, authentication, the HTTP endpoints, the explorer page and the worker processes are
private modules here; a cluster's backplane comes from :mod:`datadivr.broker`.
"""

from datadivr.server._app import create_app
from datadivr.server._auth import Authenticate, Identity, token_authenticator
from datadivr.server._server import DEFAULT_QUEUE_SIZE, Server
from datadivr.server._uvicorn import UvicornServer, WebSocketProtocol, run, uvicorn_config

__all__ = [
    "DEFAULT_QUEUE_SIZE",
    "Authenticate",
    "Identity",
    "Server",
    "UvicornServer",
    "WebSocketProtocol",
    "create_app",
    "run",
    "token_authenticator",
    "uvicorn_config",
]
