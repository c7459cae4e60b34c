"""The client: :class:`BaseClient` over ``websockets``, which generated clients subclass,
its reconnection policy, and the interactive console behind ``datadivr console``."""

from datadivr.client._client import BaseClient, ClientState
from datadivr.client._reconnect import Reconnect

__all__ = ["BaseClient", "ClientState", "Reconnect"]
