"""How the load client talks to each server: one connection type per transport, one wire
format per protocol.

Every workload is written against :class:`Connection`: send a numbered request or broadcast,
and read numbered replies and deliveries. Numbers let the load client count every message:
a lost or duplicated one fails the run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import websockets
from websockets.asyncio.client import ClientConnection

__all__ = ["PEERS", "Connection", "Event", "Peer", "WireFormat", "WsPeer"]

Event = tuple[Literal["reply", "delivery"], int]
"""What arrived: the answer to request *n*, or broadcast *n* from another client."""


class Connection(Protocol):
    async def send_request(self, seq: int) -> None: ...

    async def send_broadcast(self, seq: int) -> None: ...

    async def next_event(self) -> Event: ...

    async def close(self) -> None: ...


class Peer(Protocol):
    name: str

    async def connect(self, port: int) -> Connection: ...


@dataclass(frozen=True)
class WireFormat:
    """A JSON-over-WebSocket protocol, as frames to send and frames to recognise.

    Attributes:
        request: The frame of request ``seq`` (a sum of three numbers).
        broadcast: The frame of broadcast ``seq`` to every other client.
        classify: What a received frame is, or ``None`` for anything else (a greeting).
        greeted: Whether the server greets each connection first (wait for it).
    """

    request: Callable[[int], str]
    broadcast: Callable[[int], str]
    classify: Callable[[str | bytes], Event | None]
    greeted: bool = False


class WsConnection:
    def __init__(self, ws: ClientConnection, wire: WireFormat) -> None:
        self.ws = ws
        self.wire = wire

    async def send_request(self, seq: int) -> None:
        await self.ws.send(self.wire.request(seq))

    async def send_broadcast(self, seq: int) -> None:
        await self.ws.send(self.wire.broadcast(seq))

    async def next_event(self) -> Event:
        while True:
            event = self.wire.classify(await self.ws.recv())
            if event is not None:
                return event

    async def close(self) -> None:
        await self.ws.close()


@dataclass(frozen=True)
class WsPeer:
    """A server spoken to over a plain WebSocket at ``/ws``."""

    name: str
    wire: WireFormat
    path: str = "/ws"

    async def connect(self, port: int) -> Connection:
        ws = await websockets.connect(
            f"ws://127.0.0.1:{port}{self.path}",
            compression=None,
            max_size=None,
            max_queue=None,  # the load client reads as fast as it can; never push back
            ping_interval=None,
            open_timeout=30,
        )
        if self.wire.greeted:
            await asyncio.wait_for(ws.recv(), 30)
        return WsConnection(ws, self.wire)


# -- datadivr's envelope (RAW speaks it too) ------------------------------------------------


def _envelope_request(seq: int) -> str:
    head = '{"event_name":"sum_event","payload":{"numbers":[1,2,3]},"to":"server","id":"'
    return f'{head}{seq}"}}'


def _envelope_broadcast(seq: int) -> str:
    return f'{{"event_name":"msg","message":"{seq}","payload":null,"to":"others"}}'


def _envelope_classify(frame: str | bytes) -> Event | None:
    data: dict[str, Any] = json.loads(frame)
    name = data.get("event_name")
    if name == "sum_handler_result":
        return ("reply", int(data["reply_to"]))
    if name == "msg":
        return ("delivery", int(data["message"]))
    if name == "error":
        raise RuntimeError(f"the server answered with an error: {data}")
    return None


ENVELOPE = WireFormat(_envelope_request, _envelope_broadcast, _envelope_classify)

#: The servers by name; DATADIVR_0_3 and SOCKETIO are added by their modules.
PEERS: dict[str, Peer] = {
    "RAW": WsPeer("RAW", ENVELOPE),
    "DATADIVR": WsPeer(
        "DATADIVR",
        WireFormat(_envelope_request, _envelope_broadcast, _envelope_classify, greeted=True),
    ),
}
