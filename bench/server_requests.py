"""The server's requests to a client, timed: ``uv run python -m bench.server_requests``.

What is measured, on the demo protocol (the server asks ``ping``, the client answers ``pong``):

- **hub**: ``Hub.request`` without sockets: the request is delivered to a list, and the answer
  frame handed straight back to ``Hub.receive`` (the protocol core's own cost: build, route,
  parse the answer, settle);
- **socket**: ``server.request`` over a real socket to a generated ``Client`` whose answer
  handler answers, one request at a time, next to the client's own ``ping`` request to the
  server (the same round trip, started by the other side).

Times are per round trip: the median of ``--count`` requests, with the 99th percentile.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime, timezone
from typing import Any

import uvicorn

from datadivr import Hub, Registry, Server, create_app
from datadivr.demo import PROTOCOL, Client, PingMessage, PingPayload, PongMessage, PongPayload
from datadivr.server._uvicorn import UvicornServer, uvicorn_config

NOW = datetime.now(timezone.utc)


def ping() -> PingMessage:
    return PingMessage(payload=PingPayload(sent_at=NOW))


def pong_frame(request: dict[str, Any]) -> str:
    return json.dumps(
        {
            "event_name": "pong",
            "payload": {"sent_at": request["payload"]["sent_at"], "received_at": NOW.isoformat()},
            "to": "server",
            "reply_to": request["id"],
        }
    )


async def timed(count: int, round_trip: Callable[[], Awaitable[object]]) -> list[float]:
    times = []
    for _ in range(count):  # bounded by count
        start = time.perf_counter()
        await round_trip()
        times.append(time.perf_counter() - start)
    return times


async def bench_hub(count: int) -> list[float]:
    sent: list[str] = []
    hub = Hub(PROTOCOL, Registry(), lambda route, data: sent.append(data))
    client_id = hub.connect(client_id="c")
    sent.clear()

    async def round_trip() -> None:
        asking = asyncio.ensure_future(hub.request(client_id, ping(), timeout=5))
        await asyncio.sleep(0)  # the request is delivered
        await hub.receive(client_id, pong_frame(json.loads(sent.pop())))
        await asking

    return await timed(count, round_trip)


class _Uvicorn(UvicornServer):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()
        self.loop: asyncio.AbstractEventLoop | None = None

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.loop = asyncio.get_running_loop()
        self.ready.set()


async def bench_socket(count: int) -> tuple[list[float], list[float]]:
    app = create_app(registry=Registry(), explorer=False)
    server: Server = app.state.server
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    uv = _Uvicorn(uvicorn_config(app, log_level="warning"))
    thread = threading.Thread(target=lambda: asyncio.run(uv.serve(sockets=[sock])), daemon=True)
    thread.start()
    assert uv.ready.wait(10)
    assert uv.loop is not None
    loop = uv.loop
    try:
        async with Client(f"ws://127.0.0.1:{port}/ws") as client:

            @client.on("ping")
            async def answer(message: PingMessage) -> PongMessage:
                return PongMessage(
                    payload=PongPayload(sent_at=message.payload.sent_at, received_at=NOW)
                )

            assert client.client_id is not None
            client_id = client.client_id

            async def asked_by_server() -> None:
                future = asyncio.run_coroutine_threadsafe(
                    server.request(client_id, ping(), timeout=5), loop
                )
                await asyncio.wrap_future(future)

            async def asked_by_client() -> None:
                await client.ping(NOW, timeout=5)

            # The server's request is started on the server's loop from this thread, and its
            # result comes back the same way: two thread hops the client's own request has not.
            await timed(min(count, 200), asked_by_server)  # warm-up
            server_times = await timed(count, asked_by_server)
            client_times = await timed(count, asked_by_client)
    finally:
        uv.should_exit = True
        thread.join(10)
        sock.close()
    return server_times, client_times


def line(name: str, times: Sequence[float]) -> str:
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"{name:<40} median {statistics.median(times) * 1e6:8.1f} µs   p99 {p99 * 1e6:8.1f} µs"


async def main(count: int) -> None:
    hub_times = await bench_hub(count)
    server_times, client_times = await bench_socket(count)
    print(f"{count} round trips each")
    print(line("hub.request (no sockets)", hub_times))
    print(line("server.request over a socket", server_times))
    print(line("client.ping over a socket (for scale)", client_times))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000, help="round trips per measurement")
    asyncio.run(main(parser.parse_args().count))
