"""The peers with an environment or client of their own: datadivr 0.3 and python-socketio.

Importing this module adds their peers to :data:`bench.peers.PEERS`; :data:`SERVERS` is
what :func:`bench.run._register_more` adds to the benchmark.

* ``DATADIVR_0_3``: datadivr 0.3 from PyPI, its own FastAPI app and handlers, in
  ``bench/.venv-0.3`` (``make bench-peers``) with the one package its wheel lacks
  (``bench/datadivr03/``). Its messages carry no id: request *n* sums ``[1, 2, 3 + n]`` and
  *n* is read back from the sum in the reply; broadcast *n* is the text ``message`` it relays.
* ``SOCKETIO``: python-socketio's ASGI server (``bench/apps/socketio_app.py``), spoken to by
  its own ``AsyncClient`` over the WebSocket transport only. Request *n* sums
  ``[1, 2, 3 + n]`` too and is answered through a Socket.IO acknowledgement.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

import socketio

from bench.peers import PEERS, Connection, Event, WireFormat, WsPeer
from bench.spec import ROOT, UVICORN, ServerSpec

__all__ = ["DATADIVR_0_3", "SERVERS", "SOCKETIO", "SocketIOConnection", "SocketIOPeer"]

#: What every request's numbers add up to besides *n*: ``[1, 2, 3 + n]``, as in ``[1, 2, 3]``.
_BASE_SUM = 6


def _numbers(seq: int) -> list[int]:
    return [1, 2, 3 + seq]


def _seq_of(total: Any) -> int:
    return round(float(total)) - _BASE_SUM


# -- datadivr 0.3 ----------------------------------------------------------------------------
# 0.3's frames are its WebSocketMessage model dumped whole, as its own WebSocketClient sends
# them: {event_name, payload, to, from_id, message}. The server sets from_id to the sender's
# uuid; a handler's answer goes back "to" that uuid, and an event without a server handler
# (msg) is relayed as it is to "others" or "all".


def _v03_request(seq: int) -> str:
    numbers = ",".join(map(str, _numbers(seq)))
    return (
        f'{{"event_name":"sum_event","payload":{{"numbers":[{numbers}]}},"to":"others",'
        f'"from_id":"server","message":null}}'
    )


def _v03_broadcast(seq: int) -> str:
    return (
        f'{{"event_name":"msg","payload":null,"to":"others","from_id":"server","message":"{seq}"}}'
    )


def _v03_classify(frame: str | bytes) -> Event | None:
    data: dict[str, Any] = json.loads(frame)
    name = data.get("event_name")
    if name == "sum_handler_result":  # {"payload": 6.0 + n, "to": "<my uuid>", ...}
        return ("reply", _seq_of(data["payload"]))
    if name == "msg":
        return ("delivery", int(data["message"]))
    if name == "error":
        raise RuntimeError(f"the server answered with an error: {data}")
    return None


V03_WIRE = WireFormat(_v03_request, _v03_broadcast, _v03_classify)
"""datadivr 0.3's protocol: no greeting, no ids."""

# -- python-socketio -------------------------------------------------------------------------


class SocketIOConnection:
    """One python-socketio ``AsyncClient``; replies and deliveries queue up for the reader."""

    def __init__(self) -> None:
        self.events: asyncio.Queue[Event] = asyncio.Queue()
        self.sio = socketio.AsyncClient(reconnection=False)
        self.sio.on("msg", self._delivered)

    async def open(self, port: int) -> None:
        """Connect over the WebSocket transport; returns once the namespace is joined."""
        await self.sio.connect(
            f"http://127.0.0.1:{port}", transports=["websocket"], wait_timeout=30
        )

    def _delivered(self, data: dict[str, Any]) -> None:
        self.events.put_nowait(("delivery", int(data["message"])))

    def _replied(self, total: Any) -> None:
        self.events.put_nowait(("reply", _seq_of(total)))

    async def send_request(self, seq: int) -> None:
        await self.sio.emit("sum_event", {"numbers": _numbers(seq)}, callback=self._replied)

    async def send_broadcast(self, seq: int) -> None:
        await self.sio.emit("msg", {"message": seq})

    async def next_event(self) -> Event:
        return await self.events.get()

    async def close(self) -> None:
        await self.sio.disconnect()


@dataclass(frozen=True)
class SocketIOPeer:
    """A python-socketio server, spoken to by python-socketio's own client."""

    name: str

    async def connect(self, port: int) -> Connection:
        conn = SocketIOConnection()
        await conn.open(port)
        return conn


# -- registration ----------------------------------------------------------------------------

_V03 = ROOT / "bench" / "datadivr03"
_V03_PYTHON = ROOT / "bench" / ".venv-0.3" / "bin" / "python"
#: The settings of RAW's command in bench/run.py, after the module.
_UVICORN = ["--port", "{port}", *UVICORN, "--ws", "websockets-sansio", "--no-access-log"]

DATADIVR_0_3 = ServerSpec(
    "DATADIVR_0_3",
    [str(_V03_PYTHON), "-m", "uvicorn", "bench.datadivr03.app:app", *_UVICORN],
    "datadivr 0.3 from PyPI (own venv), its app and handlers, INFO logging as it ships",
    env={"PYTHONPATH": os.pathsep.join([str(_V03 / "shim"), str(ROOT)])},
    available=_V03_PYTHON.exists(),
    why_not=f"no {_V03_PYTHON.relative_to(ROOT)}: run make bench-peers",
)

SOCKETIO = ServerSpec(
    "SOCKETIO",
    [sys.executable, "-m", "uvicorn", "bench.apps.socketio_app:app", *_UVICORN],
    "python-socketio AsyncServer (ASGI), AsyncClient over WebSocket only, ack replies",
)

SERVERS: dict[str, ServerSpec] = {"DATADIVR_0_3": DATADIVR_0_3, "SOCKETIO": SOCKETIO}

PEERS["DATADIVR_0_3"] = WsPeer("DATADIVR_0_3", V03_WIRE)
PEERS["SOCKETIO"] = SocketIOPeer("SOCKETIO")
