"""The protocol-level diff: events, directions, replies, the envelope and every message."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from datadivr.compat._schemas import Comparison, Finding, Schemas
from datadivr_codegen.terms import Direction

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
        return tuple(c for c in self.changes if c.breaks and (side is None or side in c.breaks))

    @property
    def breaks(self) -> frozenset[Side]:
        """The sides some change breaks."""
        return frozenset().union(*(c.breaks for c in self.changes))

    def headline(self, side: Side | None = None) -> str:
        """One line that says what breaks ``side`` (any side when ``None``): the first
        breaking change and how many more there are; ``""`` when nothing breaks it."""
        breaking = self.breaking(side)
        if not breaking:
            return ""
        who = side.value if side is not None else " and ".join(s.value for s in _order(self.breaks))
        first = breaking[0]
        where = first.event if first.event is not None else "every message"
        more = len(breaking) - 1
        tail = f" (and {more} more change{'s' if more != 1 else ''})" if more else ""
        return f"breaks {who}: {where}: {first.summary}{_at(first)}{tail}"

    def without(self, ids: Iterable[str]) -> ProtocolDiff:
        """The diff with the changes whose :attr:`Change.id` is in ``ids`` moved to
        :attr:`allowed`."""
        chosen = set(ids)
        return ProtocolDiff(
            tuple(c for c in self.changes if c.id not in chosen),
            self.old_fingerprint,
            self.new_fingerprint,
            self.allowed + tuple(c for c in self.changes if c.id in chosen),
        )


def _order(sides: Iterable[Side]) -> list[Side]:
    return sorted(sides, key=lambda s: s.value)


def _at(change: Change) -> str:
    return f" at {change.path}" if change.path not in ("", "$") else ""


# -- directions --------------------------------------------------------------------------------

_C, _S = Side.CLIENTS, Side.SERVERS
#: Who sends a message of each direction to whom (the server validates what it relays).
_LANES: Mapping[str, frozenset[tuple[Side, Side]]] = {
    Direction.CLIENT_TO_SERVER.value: frozenset({(_C, _S)}),
    Direction.SERVER_TO_CLIENT.value: frozenset({(_S, _C)}),
    Direction.CLIENT_TO_CLIENT.value: frozenset({(_C, _S), (_C, _C)}),
    Direction.BOTH.value: frozenset({(_C, _S), (_S, _C)}),
    # A client's answer to the server's request.
    Direction.CLIENT_REPLY.value: frozenset({(_C, _S)}),
}


def _senders(lanes: Iterable[tuple[Side, Side]]) -> frozenset[Side]:
    return frozenset(s for s, _ in lanes)


def _receivers(lanes: Iterable[tuple[Side, Side]]) -> frozenset[Side]:
    return frozenset(r for _, r in lanes)


def _names(sides: frozenset[Side]) -> str:
    return " and ".join(s.value for s in _order(sides)) or "nobody"


# -- the bundle --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Event:
    name: str
    direction: str
    reply: str | None
    message: Any
    payload: Any

    @property
    def lanes(self) -> frozenset[tuple[Side, Side]]:
        return _LANES[self.direction]


def _events(bundle: Mapping[str, Any], which: str) -> tuple[dict[str, _Event], Schemas]:
    """The events of a bundled protocol, and its schemas.

    Raises:
        ValueError: it is not one.
    """
    info = bundle.get("x-datadivr") if isinstance(bundle, Mapping) else None
    table = info.get("events") if isinstance(info, Mapping) else None
    if not isinstance(table, Mapping):
        raise ValueError(f"{which} is not a bundled datadivr protocol (no x-datadivr.events table)")
    schemas = Schemas(bundle)
    events: dict[str, _Event] = {}
    for name, entry in table.items():
        if not isinstance(entry, Mapping) or entry.get("direction") not in _LANES:
            raise ValueError(f"{which}: event {name!r} has no valid direction")
        reply = entry.get("reply")
        try:
            message = schemas.resolve(str(entry.get("schema")))
            payload = schemas.resolve(str(entry.get("payload"))) if "payload" in entry else None
        except LookupError as exc:
            raise ValueError(f"{which}: event {name!r}: {exc}") from None
        events[str(name)] = _Event(
            str(name),
            str(entry["direction"]),
            reply if isinstance(reply, str) else None,
            message,
            payload,
        )
    return events, schemas


_ENVELOPE = "#/$defs/Envelope"


def _message_rest(event: _Event) -> Any:
    """The part of an event's message that is neither the envelope nor the payload: its
    ``event_name`` and the envelope members it narrows (``message``, ``to`` …)."""
    message = event.message
    if not isinstance(message, Mapping) or event.payload is None:
        return message
    rest: dict[str, Any] = {}
    for key, value in message.items():
        if key != "allOf":
            rest[key] = value
            continue
        members = []
        for member in value:
            if isinstance(member, Mapping) and isinstance(member.get("properties"), Mapping):
                props = {
                    k: v
                    for k, v in member["properties"].items()
                    if k not in ("payload", "event_name")
                }
                member = {**member, "properties": props}
            members.append(member)
        rest["allOf"] = members
    return rest


# -- the diff ----------------------------------------------------------------------------------


def diff_protocols(old: Mapping[str, Any], new: Mapping[str, Any]) -> ProtocolDiff:
    """Compare two bundled protocols (``schema.json`` documents).

    Raises:
        ValueError: either document is not a bundled datadivr protocol, or they are too large
            or too deeply nested to compare.
    """
    try:
        return _diff(old, new)
    except RecursionError:
        raise ValueError("the schemas are nested too deeply to compare") from None


def _diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> ProtocolDiff:
    from datadivr.compat._fingerprint import fingerprint

    old_events, old_schemas = _events(old, "OLD")
    new_events, new_schemas = _events(new, "NEW")
    comparison = Comparison(old_schemas, new_schemas)
    changes: list[Change] = []

    # The envelope, once for every message.
    envelope_old = _defs(old).get("Envelope")
    envelope_new = _defs(new).get("Envelope")
    if envelope_old is not None and envelope_new is not None:
        comparison.same_refs.add((_ENVELOPE, _ENVELOPE))
        common = [n for n in old_events if n in new_events]
        lanes = frozenset().union(*(old_events[n].lanes & new_events[n].lanes for n in common))
        for f in comparison.compare(envelope_old, envelope_new):
            changes.append(_change(None, f, lanes, "every message"))

    for name in sorted(old_events.keys() | new_events.keys()):
        changes += _event_changes(name, old_events.get(name), new_events.get(name), comparison)
    return ProtocolDiff(tuple(changes), fingerprint(old), fingerprint(new))


def _defs(bundle: Mapping[str, Any]) -> Mapping[str, Any]:
    defs = bundle.get("$defs")
    return defs if isinstance(defs, Mapping) else {}


def _event_changes(
    name: str, old: _Event | None, new: _Event | None, comparison: Comparison
) -> list[Change]:
    if old is None and new is not None:
        receivers = _receivers(new.lanes)
        return [
            Change(
                name,
                "",
                "event-added",
                f"event {name!r} added ({new.direction})",
                False,
                True,
                receivers,
                f"{_names(receivers)} still on the old protocol refuse an event they do not know",
            )
        ]
    if new is None and old is not None:
        senders = _senders(old.lanes)
        return [
            Change(
                name,
                "",
                "event-removed",
                f"event {name!r} removed ({old.direction})",
                True,
                False,
                senders,
                f"{_names(senders)} still on the old protocol send an event that is refused now",
            )
        ]
    assert old is not None
    assert new is not None
    changes: list[Change] = []
    lanes = old.lanes & new.lanes
    if old.direction != new.direction:
        gone = old.lanes - new.lanes
        came = new.lanes - old.lanes
        breaks = _senders(gone) | _receivers(came)
        why = []
        if gone:
            why.append(
                f"{_names(_senders(gone))} still on the old protocol send it where it is refused now"
            )
        if came:
            why.append(
                f"{_names(_receivers(came))} still on the old protocol refuse it from a new sender"
            )
        changes.append(
            Change(
                name,
                "",
                "direction-changed",
                f"direction {old.direction} → {new.direction}",
                bool(gone),
                bool(came),
                breaks,
                "; ".join(why),
            )
        )
    if old.reply != new.reply:
        changes.append(_reply_change(name, old, new, lanes or old.lanes))
    findings: list[Finding] = []
    if old.payload is not None and new.payload is not None:
        findings += comparison.compare(old.payload, new.payload, "$.payload")
        findings += comparison.compare(_message_rest(old), _message_rest(new), "$")
    else:
        findings += comparison.compare(old.message, new.message, "$")
    for f in findings:
        changes.append(_change(name, f, lanes, None))
    return changes


def _reply_change(
    name: str, old: _Event, new: _Event, lanes: frozenset[tuple[Side, Side]]
) -> Change:
    senders = _senders(lanes)
    receivers = _receivers(lanes)
    if new.reply is None:
        return Change(
            name,
            "",
            "reply-removed",
            f"reply {old.reply!r} removed",
            True,
            False,
            senders,
            f"{_names(senders)} still on the old protocol wait for a {old.reply!r} that no longer comes",
        )
    if old.reply is None:
        return Change(
            name,
            "",
            "reply-added",
            f"reply {new.reply!r} added",
            False,
            True,
            receivers,
            f"{_names(receivers)} still on the old protocol never answer with {new.reply!r}",
        )
    return Change(
        name,
        "",
        "reply-changed",
        f"reply {old.reply!r} → {new.reply!r}",
        True,
        True,
        senders | receivers,
        f"{_names(senders)} still on the old protocol wait for {old.reply!r}; "
        f"{_names(receivers)} still on it answer with {old.reply!r}",
    )


def _change(
    event: str | None, f: Finding, lanes: frozenset[tuple[Side, Side]], where: str | None
) -> Change:
    senders = _senders(lanes) if f.stricter else frozenset()
    receivers = _receivers(lanes) if f.looser else frozenset()
    why = []
    if senders:
        why.append(f"{_names(senders)} still on the old protocol send messages refused now")
    if receivers:
        why.append(f"{_names(receivers)} still on the old protocol refuse messages sent now")
    if not why:
        why.append(
            "no message changes its validity"
            if not (f.stricter or f.looser)
            else "no side both sends and receives this event on both protocols"
        )
    return Change(
        event, f.path, f.kind, f.summary, f.stricter, f.looser, senders | receivers, "; ".join(why)
    )
