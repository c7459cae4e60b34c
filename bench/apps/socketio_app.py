"""SOCKETIO: python-socketio's ``AsyncServer`` as an ASGI app, written as its docs suggest.

Default options (``async_mode="asgi"``, JSON, ``async_handlers=True``: each event runs in a
task of its own). ``sum_event`` answers through Socket.IO's acknowledgement, the idiomatic
request/reply (the client's ``emit(..., callback=...)`` or ``call``): the handler returns the
sum and the server sends it back in an ACK packet carrying the request's packet id. ``msg`` is
emitted to every other client of the namespace (``skip_sid``).
"""

from __future__ import annotations

from typing import Any

import socketio

__all__ = ["app", "sio"]

sio = socketio.AsyncServer(async_mode="asgi")
app = socketio.ASGIApp(sio)


@sio.on("sum_event")
async def sum_event(sid: str, data: dict[str, Any]) -> float:
    return sum(data["numbers"])


@sio.on("msg")
async def msg(sid: str, data: dict[str, Any]) -> None:
    await sio.emit("msg", data, skip_sid=sid)
