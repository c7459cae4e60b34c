"""RAW: a minimal FastAPI WebSocket endpoint, as one would write it by hand.

It parses each frame as JSON and answers, with no validation: ``sum_event`` gets its
``sum_handler_result`` (``reply_to`` the request's ``id``), ``msg`` goes to every other
connection, serialized once. The ceiling for a FastAPI server that validates nothing.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, WebSocket, WebSocketDisconnect

app = FastAPI()
connections: set[WebSocket] = set()


@app.get("/health")
async def health() -> dict[str, Any]:
    return {"status": "ok", "clients": len(connections)}


@app.websocket("/ws")
async def endpoint(websocket: WebSocket) -> None:
    await websocket.accept()
    connections.add(websocket)
    try:
        while True:
            data = json.loads(await websocket.receive_text())
            if data.get("event_name") == "sum_event":
                reply = {
                    "event_name": "sum_handler_result",
                    "payload": sum(data["payload"]["numbers"]),
                    "reply_to": data.get("id"),
                }
                await websocket.send_text(json.dumps(reply))
            elif data.get("event_name") == "msg":
                frame = json.dumps(data)
                for other in list(connections):
                    if other is not websocket:
                        try:
                            await other.send_text(frame)
                        except (WebSocketDisconnect, RuntimeError):
                            connections.discard(other)
    except (WebSocketDisconnect, RuntimeError):
        pass
    finally:
        connections.discard(websocket)
