"""The generator's error, and the protocol vocabulary it shares with the runtime.

The generator imports nothing from :mod:`datadivr`: it must run even when the generated
package it is about to replace is stale, broken or missing.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path

__all__ = ["Direction", "MessageText", "SchemaError"]


class SchemaError(ValueError):
    """A schema folder the generator cannot use.

    Attributes:
        file: The schema file at fault, when there is one.
        reason: What is wrong with it.
    """

    def __init__(self, reason: str, file: Path | str | None = None) -> None:
        self.file = Path(file) if file is not None else None
        self.reason = reason
        super().__init__(f"{self.file}: {reason}" if self.file is not None else reason)


class Direction(str, Enum):
    """Who may send an event (the values of ``x-datadivr.direction``)."""

    CLIENT_TO_SERVER = "client_to_server"
    SERVER_TO_CLIENT = "server_to_client"
    CLIENT_TO_CLIENT = "client_to_client"
    BOTH = "both"

    @property
    def client_may_send(self) -> bool:
        return self is not Direction.SERVER_TO_CLIENT

    @property
    def client_may_receive(self) -> bool:
        return self is not Direction.CLIENT_TO_SERVER


class MessageText(str, Enum):
    """Whether an event requires the envelope's ``message`` text (``x-datadivr.message``)."""

    OPTIONAL = "optional"
    REQUIRED = "required"
