"""Clients never receive ``sum_event`` (client to server), so ``Client.on`` has no overload for it.

The failed overload leaves the decorator untyped, which ``--strict`` reports on the same line.
"""

from datadivr.demo import Client, SumEventMessage


def register(client: Client) -> None:
    @client.on("sum_event")  # E: call-overload, untyped-decorator
    async def on_sum(message: SumEventMessage) -> None:
        pass
