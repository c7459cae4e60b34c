"""Run a server command with uvicorn's clock slowed, for counting its instructions per message.

    python -m bench.quiet -m datadivr serve --port 8765

uvicorn's main loop wakes every 0.1 s (the date header, the exit flag): work by the clock, not
by the message, that a counted run of callgrind's speed would spread over its messages in
proportion to how long the run took on a loaded machine. Here it wakes once a second, so that
a server stops within a second of SIGTERM. Everything else is the command, unchanged.
"""

from __future__ import annotations

import asyncio
import runpy
import sys

import uvicorn.server

__all__ = ["TICK_SECONDS"]

#: Seconds between two turns of uvicorn's main loop (uvicorn: 0.1).
TICK_SECONDS = 1.0


async def _main_loop(self: uvicorn.server.Server) -> None:
    counter = 0
    while not await self.on_tick(counter):
        counter = (counter + 10) % 864000  # a turn is a second: on_tick's "every 10 turns"
        await asyncio.sleep(TICK_SECONDS)


def main() -> None:
    if sys.argv[1:2] != ["-m"] or len(sys.argv) < 3:
        sys.exit("usage: python -m bench.quiet -m MODULE [ARGS...]")
    uvicorn.server.Server.main_loop = _main_loop  # type: ignore[method-assign]
    module = sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
