"""A chat between terminals: ``python examples/chat.py [URL]`` in two or more of them.

Each line typed is sent to every other client; ``@ID text`` sends it to one client only.
End with Ctrl-D (end of input) or Ctrl-C. The URL comes from the command line, else from
``DATADIVR_URL``, else ``ws://127.0.0.1:8765/ws``.
"""

import asyncio
import contextlib
import os
import signal
import sys
import threading

from datadivr import DatadivrError
from datadivr.demo import Client, ErrorMessage, MsgMessage


def read_lines(loop: asyncio.AbstractEventLoop, lines: asyncio.Queue[str | None]) -> None:
    """Standard input into ``lines``, then ``None``: a thread, so a terminal and a pipe both
    work, and one that never holds up the exit (it is a daemon)."""
    with contextlib.suppress(RuntimeError):  # the loop is closed: the chat is over
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)


async def chat(url: str) -> None:
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()
    threading.Thread(target=read_lines, args=(loop, lines), daemon=True).start()
    # Ctrl-C ends the chat as the end of input does (where signals can be handled so).
    with contextlib.suppress(NotImplementedError):
        loop.add_signal_handler(signal.SIGINT, lines.put_nowait, None)

    async with Client(url) as client:

        @client.on("msg")
        async def show(message: MsgMessage) -> None:
            private = " (to you)" if message.to == client.client_id else ""
            print(f"{message.from_id}{private}: {message.message}", flush=True)

        @client.on("error")
        async def refused(message: ErrorMessage) -> None:
            # e.g. `@ID text` to a client that has left (unknown_recipient)
            print(f"error: {message.message}", flush=True)

        print(f"you are {client.client_id}", flush=True)
        while (line := await lines.get()) is not None:
            text, to = line.strip(), "others"
            if text.startswith("@"):
                to, _, text = text[1:].partition(" ")
            if text and to:
                await client.msg(text, to=to)


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("DATADIVR_URL")
    try:
        asyncio.run(chat(url or "ws://127.0.0.1:8765/ws"))
    except KeyboardInterrupt:  # Ctrl-C where the loop cannot handle it (Windows)
        pass
    except DatadivrError as exc:  # no server, or it went away
        sys.exit(f"chat over: {exc}")
