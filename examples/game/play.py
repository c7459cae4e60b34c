"""Play one round against the server at sys.argv[1]."""

import asyncio
import json
import sys

from game_protocol import (
    ChatMessage,
    Client,
    ErrorMessage,
    ReadyCheckMessage,
    ReadyMessage,
    ReadyPayload,
    Shoot,
)

from datadivr import MessageValidationError


async def main(url: str) -> None:
    async with Client(url) as client:

        @client.on("ready_check")
        async def ready(message: ReadyCheckMessage) -> ReadyMessage:
            return ReadyMessage(payload=ReadyPayload(ready=message.payload.round == 1))

        told = await client.receive(timeout=10)
        assert isinstance(told, ChatMessage)
        print(told.payload.text)
        joined = await client.join(team="blue", timeout=10)
        print("joined", joined.payload.team, joined.payload.name == client.client_id)
        joined = await client.join(team="red", nickname="ace", timeout=10)
        print("joined", joined.payload.team, joined.payload.name)
        acted = await client.act(Shoot(target="tower", power=3), timeout=10)
        print(acted.payload.summary)
        try:
            await client.join(team="green", timeout=10)  # type: ignore[arg-type]
        except MessageValidationError as exc:
            print("refused here", exc.details[0].path)
        await client.send_raw(
            json.dumps({"event_name": "act", "id": "bad", "payload": {"target": ""}})
        )
        error = await client.receive(timeout=10)
        assert isinstance(error, ErrorMessage)
        print("refused there", error.payload.code, [d.path for d in error.payload.details or []])


asyncio.run(main(sys.argv[1]))
