"""The interactive client behind ``datadivr client``."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Mapping
from typing import Any, TextIO

from rich.console import Console
from rich.json import JSON

from datadivr.client._client import BaseClient
from datadivr.core._factories import create_message
from datadivr.core._message import MessageBase
from datadivr.core._protocol import Protocol
from datadivr.exceptions import ConnectionClosedError, DatadivrError, ProtocolError

__all__ = ["parse_line", "run_console"]

_HELP = """\
Type one message per line:
  EVENT [JSON]          send EVENT with the JSON payload, e.g. sum_event {"numbers": [1, 2, 3]}
  EVENT TEXT            for events whose text is required, e.g. msg hello everyone
  @TO EVENT …           send to TO: all, others, server or a client id, e.g. @all msg hi
  {…} or […]            send a raw JSON frame as is (to see how the server answers it)
Commands: /help, /events, /id, /quit"""


def parse_line(protocol: Protocol, line: str) -> MessageBase | str:
    """Turn one typed line into a validated message, or a raw frame (a line starting ``{``
    or ``[``).

    Raises:
        ProtocolError: unknown event, bad JSON, or a message that fails its schema.
    """
    line = line.strip()
    if line.startswith(("{", "[")):
        return line
    to: str | None = None
    if line.startswith("@"):
        target, _, line = line[1:].partition(" ")
        to = target or None
        line = line.strip()
    event_name, _, rest = line.partition(" ")
    rest = rest.strip()
    spec = protocol.events.get(event_name)
    if spec is None:
        raise ProtocolError("unknown_event", protocol.unknown_event(event_name))
    payload: Any = None
    text: str | None = None
    if rest:
        try:
            payload = json.loads(rest)
        except ValueError:
            if "message" not in spec.message_type.model_fields or not _text_event(
                spec.message_type
            ):
                raise ProtocolError("invalid_json", f"payload is not valid JSON: {rest}") from None
            text = rest
        else:
            if _text_event(spec.message_type) and not isinstance(payload, dict | list):
                payload, text = None, rest
    return create_message(protocol, event_name, payload, to=to, message=text)


def _text_event(message_type: type[MessageBase]) -> bool:
    field = message_type.model_fields.get("message")
    return field is not None and field.is_required()


async def run_console(
    url: str,
    stdin: TextIO,
    console: Console | None = None,
    *,
    linger: float = 1.0,
    client_type: type[BaseClient] | None = None,
    headers: Mapping[str, str] | None = None,
) -> int:
    """Connect to ``url``, send what is typed on ``stdin``, print what arrives.

    At the end of input, messages keep being printed for ``linger`` seconds (answers to what
    was just sent); ``/quit`` leaves at once. ``headers`` go with the handshake (e.g.
    ``Authorization``).

    Returns:
        The exit status: 0 after ``/quit`` or the end of input, 1 when the connection failed.
    """
    if client_type is None:
        from datadivr.demo import Client

        client_type = Client
    out = console if console is not None else Console(highlight=False, soft_wrap=True)
    lines = _read_lines(stdin)
    client = client_type(url, headers=headers)
    try:
        await client.connect()
    except DatadivrError as exc:
        out.print(f"[red]cannot connect to {url}: {exc}[/]")
        return 1
    out.print(f"connected to {url} as [bold]{client.client_id}[/] — /help for help")
    printer = asyncio.create_task(_print_incoming(client, out))
    try:
        while True:
            line = await lines.get()
            if line is None:
                await asyncio.sleep(linger)
                break
            if line.strip() == "/quit":
                break
            if not line.strip():
                continue
            if not await _handle(client, line, out):
                break
    finally:
        await client.close()
        await printer
    return 0


async def _handle(client: BaseClient, line: str, out: Console) -> bool:
    command = line.strip()
    if command == "/help":
        out.print(_HELP, markup=False)
        return True
    if command == "/id":
        out.print(f"client id: {client.client_id}")
        return True
    if command == "/events":
        for spec in sorted(client.protocol.events.values(), key=lambda e: e.name):
            reply = f" → {spec.reply}" if spec.reply else ""
            out.print(f"{spec.name:<20} {spec.direction.value:<18}{reply}", markup=False)
        return True
    try:
        message = parse_line(client.protocol, line)
    except ProtocolError as exc:
        out.print(f"[red]not sent: {exc.code}: {exc.message}[/]", markup=True)
        for detail in exc.details:
            out.print(f"  {detail.path}: {detail.reason}", markup=False)
        return True
    try:
        if isinstance(message, str):
            await client.send_raw(message)
        else:
            await client.send(message)
    except ConnectionClosedError as exc:
        out.print(f"[red]connection closed: {exc}[/]")
        return False
    except DatadivrError as exc:
        out.print(f"[red]not sent: {exc}[/]")
        return False
    return True


async def _print_incoming(client: BaseClient, out: Console) -> None:
    async for message in client:
        data = json.loads(message.to_json())
        sender = message.from_id or "?"
        if message.event_name == "error":
            out.print(f"[red]← error from {sender}: {message.message}[/]")
        else:
            out.print(f"← {message.event_name} from {sender}")
        out.print(JSON.from_data(data))


def _read_lines(stdin: TextIO) -> asyncio.Queue[str | None]:
    """``stdin`` as a queue of lines (``None`` at its end), read by a daemon thread so that
    pipes, files and terminals all work."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()

    def pump() -> None:
        for line in stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=pump, name="stdin", daemon=True).start()
    return queue
