"""Two clients of one server, most of what a client does:
``python examples/client_tour.py [URL]``."""

import asyncio
import sys

from datadivr import HandlerContext, Reconnect, RemoteError
from datadivr.demo import Client, MsgMessage


async def main(url: str = "ws://127.0.0.1:8765/ws") -> None:
    # Reconnect with backoff if the connection drops; what is sent meanwhile is buffered.
    async with Client(url, reconnect=Reconnect(max_delay=5)) as alice, Client(url) as bob:
        print(f"alice is {alice.client_id}")

        # A request: the typed reply, or RemoteError when the server answers with an error.
        total = await alice.sum_event([1, 2, 3], timeout=5)
        print(f"sum: {total.payload}")
        try:
            await alice.sum_event([1e308, 1e308], timeout=5)
        except RemoteError as error:
            print(f"refused: {error.code}")

        # A handler for what arrives: it may answer, and the answer goes back to the sender.
        @bob.on("msg")
        async def reply(message: MsgMessage, ctx: HandlerContext) -> MsgMessage | None:
            if message.message == "ping?" and message.from_id is not None:
                return MsgMessage(message="pong!", to=message.from_id)
            return None

        # One client addresses another by id; what no handler takes waits in the inbox.
        assert bob.client_id is not None
        await alice.msg("ping?", to=bob.client_id)
        answer = await alice.receive(timeout=5)
        assert isinstance(answer, MsgMessage)
        print(f"{answer.message} from bob: {answer.from_id == bob.client_id}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
