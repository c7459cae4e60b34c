"""``Client.on`` checks the handler like ``websocket_handler``, and names the expected protocol."""

from datadivr.demo import Client, PongMessage

# mypy says: No overload variant of "__call__" of "SumHandlerResultHandlerDecorator"
# mypy says: [_SumHandlerResultHandlerT: SumHandlerResultHandler]


def register(client: Client) -> None:
    @client.on("sum_handler_result")  # E: call-overload
    async def on_result(message: PongMessage) -> None:
        pass
