"""``to`` is a recipient id: a string."""

from datadivr.demo import Client


async def ask(client: Client) -> None:
    await client.sum_event(numbers=[1.0], to=5)  # E: arg-type
