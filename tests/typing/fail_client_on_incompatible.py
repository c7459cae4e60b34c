"""``on_incompatible`` is one of three words: a typo is caught before the client connects."""

from datadivr.demo import Client


def make() -> Client:
    return Client("ws://127.0.0.1:8765/ws", on_incompatible="fail")  # E: arg-type
