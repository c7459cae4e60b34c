"""Join the chat room and say hello: ``python examples/chatroom/client.py NICK [URL]``."""

import asyncio
import sys

from chatroom_protocol import Client


async def main(nick: str, url: str = "ws://127.0.0.1:8765/ws") -> None:
    async with Client(url) as client:
        roster = await client.join(nick, timeout=5)
        print("here:", ", ".join(member.nick for member in roster.payload.members))
        await client.say(f"hello, I am {nick}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
