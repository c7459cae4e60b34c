"""A client that asks the server for a sum: ``python examples/quickstart_client.py [URL]``."""

import asyncio
import sys

from datadivr.demo import Client


async def main(url: str = "ws://127.0.0.1:8765/ws") -> None:
    async with Client(url) as client:
        result = await client.sum_event([1, 2, 3.5], timeout=5)
        print(f"the sum is {result.payload}")


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:]))
