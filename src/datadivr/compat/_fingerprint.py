"""A protocol's compatibility fingerprint."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from datadivr.compat._schemas import Schemas, Shapes
from datadivr_codegen.terms import Direction

__all__ = ["fingerprint"]

#: The version of the canonical form, the fingerprint's prefix.
_VERSION = "fp1"
_DIRECTIONS = frozenset(d.value for d in Direction)


def fingerprint(bundle: Mapping[str, Any]) -> str:
    """The fingerprint of a bundled protocol's wire shape: its events, their directions and
    replies, and their messages' schemas without annotations (titles, descriptions, examples,
    defaults) and with definitions named by where they are first used, so that renaming a
    definition or rewording a description keeps it.

    Raises:
        ValueError: ``bundle`` is not a bundled datadivr protocol.
    """
    info = bundle.get("x-datadivr")
    table = info.get("events") if isinstance(info, Mapping) else None
    if not isinstance(table, Mapping):
        raise ValueError("not a bundled datadivr protocol (no x-datadivr.events table)")
    schemas = Schemas(bundle)
    names: dict[str, str] = {}
    order: list[str] = []

    def name_ref(ref: str) -> str:
        """A definition's canonical name: ``#d<n>``, by the order it is first met."""
        if not ref.startswith("#/$defs/"):
            return ref
        head, slash, rest = ref[len("#/$defs/") :].partition("/")
        if head not in names:
            names[head] = f"#d{len(names)}"
            order.append(head)
        return names[head] + slash + rest

    events = {}
    for event_name in sorted(table):
        entry = table[event_name]
        if not isinstance(entry, Mapping) or entry.get("direction") not in _DIRECTIONS:
            raise ValueError(f"event {event_name!r} has no valid direction")
        events[event_name] = {
            "direction": entry.get("direction"),
            "reply": entry.get("reply"),
            "schema": name_ref(str(entry.get("schema"))),
        }
    defs = bundle.get("$defs")
    defs = defs if isinstance(defs, Mapping) else {}
    shapes = Shapes(schemas, name_ref=name_ref)
    forms: list[str] = []
    done = 0
    while done < len(order):  # definitions met while writing others join the list
        head = order[done]
        try:
            forms.append(shapes.text(defs.get(head)))
        except RecursionError:
            raise ValueError(f"definition {head!r} is nested too deeply") from None
        done += 1
    head_text = json.dumps(events, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    text = "\n".join([head_text, *forms])
    return f"{_VERSION}-{hashlib.sha256(text.encode()).hexdigest()[:32]}"
