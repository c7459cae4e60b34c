"""``sum_event`` is answered with a ``SumHandlerResultMessage``, not a ``PongMessage``."""

from datadivr.demo import Client, PongMessage


def needs_pong(message: PongMessage) -> None:
    pass


async def ask(client: Client) -> None:
    pong: PongMessage = await client.sum_event([1.0])  # E: assignment
    result = await client.sum_event([1.0])
    needs_pong(result)  # E: arg-type
    nonce = result.payload.nonce  # E: attr-defined
    print(pong, nonce)
