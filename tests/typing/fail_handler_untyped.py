"""Under ``--strict`` a handler must be annotated (this also proves the strict config applies)."""

from datadivr.demo import websocket_handler


@websocket_handler("sum_event")
async def add_up(message, ctx):  # E: no-untyped-def
    return None
