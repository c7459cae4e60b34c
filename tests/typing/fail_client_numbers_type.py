"""``sum_event`` takes numbers."""

from datadivr.demo import Client


async def ask(client: Client) -> None:
    await client.sum_event(["a"])  # E: list-item
