"""What the benchmark knows of a server: how to start it on a port."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PYTHON", "ROOT", "UVICORN", "ServerSpec"]

ROOT = Path(__file__).resolve().parents[1]
UVICORN = ["--host", "127.0.0.1", "--log-level", "warning", "--ws-per-message-deflate", "false"]


@dataclass(frozen=True)
class ServerSpec:
    """How to start one server on a port, and how the load client speaks to it."""

    name: str
    argv: Sequence[str]
    note: str = ""
    env: dict[str, str] = field(default_factory=dict)
    available: bool = True
    why_not: str = ""
    #: The load client's peer (bench.peers.PEERS) when not ``name``: a variant of a server,
    #: for an A/B of two builds, speaks its protocol.
    peer: str = ""

    def command(self, port: int) -> list[str]:
        return [arg.replace("{port}", str(port)) for arg in self.argv]


PYTHON = sys.executable
