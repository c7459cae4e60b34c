"""The protocol-level diff: events, directions, replies, the envelope and every message."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Change", "ProtocolDiff", "Side", "diff_protocols"]


class Side(str, enum.Enum):
    """A side of the protocol that a change can break (the deployed one, still on OLD)."""

    CLIENTS = "clients"
    SERVERS = "servers"


@dataclass(frozen=True)
class Change:
    """One difference between two protocols, with its verdict.

    Attributes:
        event: The event it concerns; ``None`` for the envelope every message travels in.
        path: Where in the event's message it is, as a JSON pointer into the message
            (``/payload/properties/numbers/items``); ``""`` for the event itself.
        kind: What changed, a stable identifier (``type-narrowed``, ``enum-value-added``,
            ``event-removed``, ``reply-changed`` …).
        summary: What changed, in words.
        stricter: Some message valid under OLD is refused under NEW.
        looser: Some message refused under OLD is valid under NEW.
        breaks: The sides still on OLD that stop working with a peer on NEW.
        why: Why it breaks them (or why it breaks nobody), in words.
    """

    event: str | None
    path: str
    kind: str
    summary: str
    stricter: bool
    looser: bool
    breaks: frozenset[Side]
    why: str

    @property
    def id(self) -> str:
        """A stable key of the change, for allow files: ``event:kind:path``."""
        return f"{self.event or '*'}:{self.kind}:{self.path}"


@dataclass(frozen=True)
class ProtocolDiff:
    """Every change from OLD to NEW, in the order of the events.

    Attributes:
        changes: The changes, breaking or not.
        old_fingerprint: :func:`~datadivr.compat.fingerprint` of OLD.
        new_fingerprint: :func:`~datadivr.compat.fingerprint` of NEW.
    """

    changes: tuple[Change, ...]
    old_fingerprint: str
    new_fingerprint: str
    allowed: tuple[Change, ...] = field(default=())

    def breaking(self, side: Side | None = None) -> tuple[Change, ...]:
        """The changes that break ``side`` (any side when ``None``)."""
        return tuple(
            c for c in self.changes if c.breaks and (side is None or side in c.breaks)
        )

    @property
    def breaks(self) -> frozenset[Side]:
        """The sides some change breaks."""
        return frozenset().union(*(c.breaks for c in self.changes))

    def headline(self, side: Side | None = None) -> str:
        """One line that says what breaks ``side`` (any side when ``None``)."""
        raise NotImplementedError

    def without(self, ids: Iterable[str]) -> ProtocolDiff:
        """The diff with the changes whose :attr:`Change.id` is in ``ids`` moved to
        :attr:`allowed`."""
        raise NotImplementedError


def diff_protocols(old: Mapping[str, Any], new: Mapping[str, Any]) -> ProtocolDiff:
    """Compare two bundled protocols (``schema.json`` documents).

    Raises:
        ValueError: either document is not a bundled datadivr protocol.
    """
    raise NotImplementedError
